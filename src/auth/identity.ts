/**
 * Who the current request runs as, carried through the asynchronous work it starts (the way
 * etcd carries it in a request's context). The API layer runs each call that presents
 * credentials inside `runWithIdentity`; the member reads `currentIdentity()` when it proposes,
 * reads, or creates a watcher. A call with no credentials runs outside any identity (null).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** A caller's credentials as presented, not yet checked. */
export interface CallIdentity {
  /** The `token` (or `authorization`) metadata value, if any. */
  readonly token: string | null;
  /** The verified client certificate's common name (--client-cert-auth), if any. */
  readonly commonName: string | null;
}

const storage = new AsyncLocalStorage<CallIdentity>();

/** Runs `fn` (and everything it starts) as `id`. */
export function runWithIdentity<T>(id: CallIdentity, fn: () => T): T {
  return storage.run(id, fn);
}

/** The identity of the request being served, or null. */
export function currentIdentity(): CallIdentity | null {
  return storage.getStore() ?? null;
}
