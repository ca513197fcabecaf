/**
 * Lease requests only the leader can answer, forwarded from a follower over the peer port
 * (etcd forwards LeaseKeepAlive and LeaseTimeToLive to its leader the same way, on /leases
 * and /leases/internal): the leader's lessor holds the running expiry clocks.
 *
 * Wire: POST JSON. /leases {"id":"<decimal>"} answers {"ttl":n} (n = 0: not found);
 * /leases/internal {"id":"<decimal>","keys":bool} answers {"ttl","grantedTtl","keys":[base64]}
 * or {"ttl":-1} when not found. 503 means "not the leader (any more)": the follower retries.
 */
import * as http from 'node:http';
import { FloeError } from '../pkg';
import { peerRequest } from '../rafthttp';
import type { TlsInfo } from '../tls';

/** Largest request body accepted (an id and a flag). */
const MAX_BODY_BYTES = 4096;

/** What the leader side needs from the member. */
export interface LeaseAuthority {
  /** Renews on the leader; null when this member does not lead. */
  keepAlive(id: bigint): Promise<number | null>;
  /** TimeToLive on the leader; null when this member does not lead. */
  timeToLive(id: bigint, keys: boolean): Promise<LeaseTtl | null>;
}

/** A TimeToLive answer (ttl -1: not found). */
export interface LeaseTtl {
  readonly ttl: number;
  readonly grantedTtl: number;
  readonly keys: readonly Buffer[];
}

/** The peer routes a member serves for its followers. */
export function leaseRoutes(authority: LeaseAuthority): (req: http.IncomingMessage, res: http.ServerResponse) => boolean {
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/leases' && path !== '/leases/internal') return false;
    if (req.method !== 'POST') {
      res.writeHead(405, { Allow: 'POST' }).end();
      return true;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      void (async () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id?: string; keys?: boolean };
          if (typeof body.id !== 'string' || !/^-?\d+$/.test(body.id)) throw new Error('bad lease id');
          const id = BigInt(body.id);
          const answer =
            path === '/leases'
              ? await authority.keepAlive(id).then((ttl) => (ttl === null ? null : { ttl }))
              : await authority.timeToLive(id, body.keys === true).then((t) =>
                  t === null ? null : { ttl: t.ttl, grantedTtl: t.grantedTtl, keys: t.keys.map((k) => k.toString('base64')) },
                );
          if (answer === null) res.writeHead(503).end();
          else res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer));
        } catch (e) {
          res.writeHead(400, { 'Content-Type': 'text/plain' }).end((e as Error).message);
        }
      })();
    });
    return true;
  };
}

/** Posts one forwarded lease request to the leader; null on 503 (not the leader). `tlsInfo` dials https:// peers. */
export function postLease(peerUrl: string, path: '/leases' | '/leases/internal', body: object, timeoutMs: number, tlsInfo?: TlsInfo): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = peerRequest(
      new URL(path, peerUrl),
      { method: 'POST', timeout: timeoutMs, headers: { 'Content-Type': 'application/json', 'Content-Length': data.length } },
      tlsInfo,
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          if (res.statusCode === 503) resolve(null);
          else if (res.statusCode !== 200) reject(new FloeError('ERR_LEASE_FORWARD', `lease forward: status ${res.statusCode ?? 0}`));
          else {
            try {
              resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
            } catch (e) {
              reject(e);
            }
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new FloeError('ERR_LEASE_FORWARD', 'lease forward: timed out')));
    req.on('error', reject);
    req.end(data);
  });
}
