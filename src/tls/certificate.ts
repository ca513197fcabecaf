/**
 * Building X.509 v3 certificates with ECDSA P-256 keys and ecdsa-with-SHA256 signatures:
 * self-signed ones (etcd's --auto-tls) and ones signed by a CA (test fixtures).
 *
 * Layout (RFC 5280 4.1): Certificate = SEQUENCE { tbsCertificate, signatureAlgorithm,
 * signatureValue }; the signature covers exactly the DER bytes of tbsCertificate.
 */
import * as crypto from 'node:crypto';
import * as net from 'node:net';
import { FloeError, assert } from '../pkg';
import {
  bitString,
  boolean,
  directoryString,
  explicit,
  ia5String,
  implicitPrimitive,
  integer,
  namedBits,
  octetString,
  oid,
  sequence,
  setOf,
  x509Time,
} from './der';

/** Code of the FloeError for certificate parameters that cannot be encoded. */
export const ERR_CERT_BUILD = 'ERR_TLS_CERT_BUILD';

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** keyUsage bit numbers (RFC 5280 4.2.1.3). */
const KEY_USAGE = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 } as const;

/** A subject or issuer name: organization and/or common name, written in that order. */
export interface CertName {
  readonly organization?: string;
  readonly commonName?: string;
}

/** What a certificate says; the key it certifies is given separately. */
export interface CertSpec {
  readonly subject: CertName;
  /** Host names and IP addresses for the subjectAltName extension (IPs as text). */
  readonly hosts?: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Extended key usages; default ['serverAuth']. */
  readonly extKeyUsage?: readonly ('serverAuth' | 'clientAuth')[];
  /** A CA certificate (basicConstraints cA, keyCertSign). */
  readonly isCa?: boolean;
  /** Serial number: positive, at most 20 octets (RFC 5280); default 128 random bits. */
  readonly serial?: bigint;
}

/** The signer: for a self-signed certificate, the subject's own key and name. */
export interface CertIssuer {
  readonly name: CertName;
  readonly privateKey: crypto.KeyObject;
  readonly publicKey: crypto.KeyObject;
}

/** A key pair with its certificate, PEM-encoded as etcd writes them (SEC1 "EC PRIVATE KEY"). */
export interface CertAndKey {
  readonly certPem: string;
  readonly keyPem: string;
  readonly certDer: Buffer;
  readonly privateKey: crypto.KeyObject;
  readonly publicKey: crypto.KeyObject;
}

/** A fresh ECDSA P-256 key pair. */
export function generateEcKey(): { privateKey: crypto.KeyObject; publicKey: crypto.KeyObject } {
  return crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

function encodeName(n: CertName): Buffer {
  const rdns: Buffer[] = [];
  if (n.organization !== undefined) rdns.push(setOf(sequence(oid(OID.organization), directoryString(n.organization))));
  if (n.commonName !== undefined) rdns.push(setOf(sequence(oid(OID.commonName), directoryString(n.commonName))));
  return sequence(...rdns);
}

/** The subjectPublicKey bits of an SPKI (what key identifiers hash). */
function publicKeyBits(spki: Buffer): Buffer {
  // SPKI = SEQUENCE { AlgorithmIdentifier, BIT STRING }; the BIT STRING is last, and for
  // EC keys it is short enough that its length is one octet: tag, length, 0 unused bits.
  const key = spki.subarray(spki.length - 65);
  assert(spki[spki.length - 68] === 0x03 && spki[spki.length - 67] === 66 && spki[spki.length - 66] === 0, 'P-256 SPKI layout');
  return key;
}

function keyId(spki: Buffer): Buffer {
  return crypto.createHash('sha1').update(publicKeyBits(spki)).digest();
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value));
}

function ipBytes(host: string): Buffer | null {
  const kind = net.isIP(host);
  if (kind === 4) return Buffer.from(host.split('.').map(Number));
  if (kind !== 6) return null;
  // Expand '::' and any embedded IPv4 tail into eight 16-bit groups.
  let text = host;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4 !== null) {
    const b = v4[1]!.split('.').map(Number);
    text = text.slice(0, -v4[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head === '' ? [] : head!.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function subjectAltName(hosts: readonly string[]): Buffer {
  // GeneralName: dNSName [2] IA5String, iPAddress [7] OCTET STRING (4 or 16 octets).
  const names = hosts.map((h) => {
    const ip = ipBytes(h.replace(/^\[|\]$/g, ''));
    if (ip !== null) return implicitPrimitive(7, ip);
    ia5String(h); // refuses non-ASCII names
    return implicitPrimitive(2, Buffer.from(h, 'latin1'));
  });
  return sequence(...names);
}

function randomSerial(): bigint {
  const b = crypto.randomBytes(16);
  b[0]! &= 0x7f; // positive
  return BigInt('0x' + b.toString('hex')) || 1n;
}

/**
 * Signs a certificate for `subjectKey` described by `spec`, issued by `issuer` (pass the
 * subject's own key and name for a self-signed one).
 */
export function buildCertificate(spec: CertSpec, subjectKey: crypto.KeyObject, issuer: CertIssuer): Buffer {
  if (!(spec.notBefore.getTime() < spec.notAfter.getTime())) throw new FloeError(ERR_CERT_BUILD, 'certificate notAfter must be after notBefore');
  const serial = spec.serial ?? randomSerial();
  if (serial <= 0n || serial >= 1n << 159n) throw new FloeError(ERR_CERT_BUILD, `certificate serial ${serial} out of range`);
  if (subjectKey.asymmetricKeyType !== 'ec' || issuer.privateKey.asymmetricKeyType !== 'ec') {
    throw new FloeError(ERR_CERT_BUILD, 'only ECDSA keys are supported');
  }
  const spki = subjectKey.export({ type: 'spki', format: 'der' });
  const issuerSpki = issuer.publicKey.export({ type: 'spki', format: 'der' });
  const sigAlg = sequence(oid(OID.ecdsaWithSha256));
  const usages = spec.isCa === true
    ? [KEY_USAGE.digitalSignature, KEY_USAGE.keyEncipherment, KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign]
    : [KEY_USAGE.digitalSignature, KEY_USAGE.keyEncipherment];
  const ekus = spec.extKeyUsage ?? ['serverAuth'];
  const extensions: Buffer[] = [
    extension(OID.keyUsage, true, namedBits(usages)),
    extension(OID.extKeyUsage, false, sequence(...ekus.map((u) => oid(OID[u])))),
    extension(OID.basicConstraints, true, spec.isCa === true ? sequence(boolean(true)) : sequence()),
    extension(OID.subjectKeyIdentifier, false, octetString(keyId(spki))),
    extension(OID.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, keyId(issuerSpki)))),
  ];
  if (spec.hosts !== undefined && spec.hosts.length > 0) extensions.push(extension(OID.subjectAltName, false, subjectAltName(spec.hosts)));
  const tbs = sequence(
    explicit(0, integer(2n)), // v3
    integer(serial),
    sigAlg,
    encodeName(issuer.name),
    sequence(x509Time(spec.notBefore), x509Time(spec.notAfter)),
    encodeName(spec.subject),
    spki,
    explicit(3, sequence(...extensions)),
  );
  const signature = crypto.sign('sha256', tbs, { key: issuer.privateKey, dsaEncoding: 'der' });
  return sequence(tbs, sigAlg, bitString(signature));
}

/** PEM text of DER bytes under `label` (64-column base64, as Go's pem.Encode). */
export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** A new key and a certificate for it, signed by `issuer` (self-signed when omitted). */
export function createCertificate(spec: CertSpec, issuer?: CertIssuer): CertAndKey {
  const { privateKey, publicKey } = generateEcKey();
  const certDer = buildCertificate(spec, publicKey, issuer ?? { name: spec.subject, privateKey, publicKey });
  return {
    certPem: toPem('CERTIFICATE', certDer),
    keyPem: privateKey.export({ type: 'sec1', format: 'pem' }) as string,
    certDer,
    privateKey,
    publicKey,
  };
}

/** The issuer view of a CA made by createCertificate. */
export function asIssuer(ca: CertAndKey, name: CertName): CertIssuer {
  return { name, privateKey: ca.privateKey, publicKey: ca.publicKey };
}
