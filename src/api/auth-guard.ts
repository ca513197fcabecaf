/**
 * Who a call is, read once around every handler (etcd reads it from the request context in
 * each place that checks it): the `token` metadata clientv3 sends after Authenticate (the JSON
 * gateway's `authorization` header likewise), or, without a token, the common name of the
 * client's verified certificate (--client-cert-auth; tls-identity.ts). A call with either runs
 * inside the member's `auth.runAs`, so the member checks what the call does as that caller:
 * reads and watch creates here, writes in apply on every member, maintenance and membership
 * calls as etcd reserves them for root. The guard itself refuses nothing: a bad token fails
 * exactly where etcd fails it (Status, for one, works with any token).
 *
 * A simple token names the raft entry that made it; a member that has not applied that entry
 * yet holds the call until it has (bounded), as etcd's index waiter does.
 */
import type { CallIdentity, EtcdServerApi } from '../server';
import { metadataValue } from './call';
import { clientCommonName, type CallWithPeer } from './tls-identity';

type AnyHandler = (call: unknown, callback?: unknown) => void;

/** etcd's TokenFieldNameGRPC and TokenFieldNameSwagger. */
const TOKEN_KEYS = ['token', 'authorization'] as const;

/** The credentials a call presents, or null when it presents none. */
export function callIdentity(call: unknown): CallIdentity | null {
  for (const k of TOKEN_KEYS) {
    const v = metadataValue(call, k);
    if (v !== undefined) return { token: typeof v === 'string' ? v : v.toString('utf8'), commonName: null };
  }
  // A call the JSON gateway relays carries the gateway's certificate, not the user's: etcd
  // ignores the common name of a call marked with the gateway's Grpcgateway-Accept header.
  if (metadataValue(call, 'grpcgateway-accept') !== undefined) return null;
  const cn = clientCommonName(call as CallWithPeer);
  if (cn !== undefined && cn !== '') return { token: null, commonName: cn };
  return null;
}

/** Wraps each handler of a service so that it runs as its caller (see the file comment). */
export function guardAuth<H extends object>(api: EtcdServerApi, handlers: H): H {
  const auth = api.auth;
  if (auth === undefined) return handlers;
  const out: Record<string, AnyHandler> = {};
  for (const [method, h] of Object.entries(handlers as Record<string, AnyHandler>)) {
    out[method] = (call, callback) => {
      const id = callIdentity(call);
      if (id === null) return h(call, callback);
      const wait = auth.whenTokenKnown(id);
      if (wait === null) return auth.runAs(id, () => h(call, callback));
      void wait.then(() => auth.runAs(id, () => h(call, callback)));
    };
  }
  return out as H;
}
