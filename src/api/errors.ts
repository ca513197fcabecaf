/**
 * The one table that turns Floe's operating errors into etcd's gRPC errors (style.md principle
 * 3: one place translates errors to the wire).
 *
 * Lower layers throw `FloeError` with a stable `code` from this table (e.g. 'ERR_COMPACTED');
 * the API layer calls `toServiceError` and hands the result to grpc-js. Clients identify etcd
 * errors by the status message alone: Go clientv3 looks the `grpc-message` text up in a map of
 * known strings, and the npm `etcd3` client matches substrings of it. So each message below is
 * etcd 3.4's exact text, and grpc-js sends it as `details`, which becomes `grpc-message`.
 *
 * `grpcCode` is the status code etcd 3.4 actually puts on the wire. Two entries are sent with
 * UNKNOWN although etcd declares another code: etcd's server maps those internal errors to its
 * client-side error values, which grpc-go cannot read a status from, so it falls back to
 * UNKNOWN with the text. Clients still recognise them by the text; `declaredCode` keeps the code
 * clientv3 reports after that lookup.
 */
import { status, Metadata, type ServiceError } from '@grpc/grpc-js';
import { FloeError } from '../pkg';

/** One etcd server error as it appears on the wire. */
export interface EtcdErrorSpec {
  /** Stable internal code; lower layers throw `new FloeError(code, ...)` with it. */
  readonly code: string;
  /** gRPC status code etcd 3.4 sends. */
  readonly grpcCode: status;
  /** Code in etcd's own error table; differs from grpcCode only where noted above. */
  readonly declaredCode: status;
  /** Exact status message (`grpc-message`) etcd 3.4 sends; clients match on it. */
  readonly message: string;
  /** Whether clientv3 maps this message back to a typed error (watch canceled is not mapped). */
  readonly clientMapped: boolean;
}

type WireSpec = Omit<EtcdErrorSpec, 'code'>;

const spec = (grpcCode: status, message: string, opts: { declaredCode?: status; clientMapped?: boolean } = {}): WireSpec => ({
  grpcCode,
  declaredCode: opts.declaredCode ?? grpcCode,
  message,
  clientMapped: opts.clientMapped ?? true,
});

// Keyed by name; each entry's internal code is 'ERR_' + name.
const TABLE = {
  // Request validation and MVCC
  EMPTY_KEY: spec(status.INVALID_ARGUMENT, 'etcdserver: key is not provided'),
  KEY_NOT_FOUND: spec(status.INVALID_ARGUMENT, 'etcdserver: key not found'),
  VALUE_PROVIDED: spec(status.INVALID_ARGUMENT, 'etcdserver: value is provided'),
  LEASE_PROVIDED: spec(status.INVALID_ARGUMENT, 'etcdserver: lease is provided'),
  TOO_MANY_OPS: spec(status.INVALID_ARGUMENT, 'etcdserver: too many operations in txn request'),
  DUPLICATE_KEY: spec(status.INVALID_ARGUMENT, 'etcdserver: duplicate key given in txn request'),
  COMPACTED: spec(status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted'),
  FUTURE_REV: spec(status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision'),
  NO_SPACE: spec(status.RESOURCE_EXHAUSTED, 'etcdserver: mvcc: database space exceeded'),

  // Leases
  LEASE_NOT_FOUND: spec(status.NOT_FOUND, 'etcdserver: requested lease not found'),
  LEASE_EXIST: spec(status.FAILED_PRECONDITION, 'etcdserver: lease already exists'),
  LEASE_TTL_TOO_LARGE: spec(status.OUT_OF_RANGE, 'etcdserver: too large lease TTL'),

  // Watch
  WATCH_CANCELED: spec(status.CANCELLED, 'etcdserver: watch canceled', { clientMapped: false }),

  // Membership
  MEMBER_EXIST: spec(status.FAILED_PRECONDITION, 'etcdserver: member ID already exist'),
  PEER_URL_EXIST: spec(status.FAILED_PRECONDITION, 'etcdserver: Peer URLs already exists'),
  MEMBER_NOT_ENOUGH_STARTED: spec(
    status.UNKNOWN,
    'etcdserver: re-configuration failed due to not enough started members',
    { declaredCode: status.FAILED_PRECONDITION },
  ),
  MEMBER_BAD_URLS: spec(status.INVALID_ARGUMENT, 'etcdserver: given member URLs are invalid'),
  MEMBER_NOT_FOUND: spec(status.NOT_FOUND, 'etcdserver: member not found'),
  MEMBER_NOT_LEARNER: spec(status.FAILED_PRECONDITION, 'etcdserver: can only promote a learner member'),
  LEARNER_NOT_READY: spec(
    status.FAILED_PRECONDITION,
    'etcdserver: can only promote a learner member which is in sync with leader',
  ),
  TOO_MANY_LEARNERS: spec(status.FAILED_PRECONDITION, 'etcdserver: too many learner members in cluster'),

  // Request size and rate
  REQUEST_TOO_LARGE: spec(status.INVALID_ARGUMENT, 'etcdserver: request is too large'),
  TOO_MANY_REQUESTS: spec(status.UNKNOWN, 'etcdserver: too many requests', {
    declaredCode: status.RESOURCE_EXHAUSTED,
  }),

  // Auth
  ROOT_USER_NOT_EXIST: spec(status.FAILED_PRECONDITION, 'etcdserver: root user does not exist'),
  ROOT_ROLE_NOT_EXIST: spec(status.FAILED_PRECONDITION, 'etcdserver: root user does not have root role'),
  USER_ALREADY_EXIST: spec(status.FAILED_PRECONDITION, 'etcdserver: user name already exists'),
  USER_EMPTY: spec(status.INVALID_ARGUMENT, 'etcdserver: user name is empty'),
  USER_NOT_FOUND: spec(status.FAILED_PRECONDITION, 'etcdserver: user name not found'),
  ROLE_ALREADY_EXIST: spec(status.FAILED_PRECONDITION, 'etcdserver: role name already exists'),
  ROLE_NOT_FOUND: spec(status.FAILED_PRECONDITION, 'etcdserver: role name not found'),
  ROLE_EMPTY: spec(status.INVALID_ARGUMENT, 'etcdserver: role name is empty'),
  AUTH_FAILED: spec(
    status.INVALID_ARGUMENT,
    'etcdserver: authentication failed, invalid user ID or password',
  ),
  PERMISSION_DENIED: spec(status.PERMISSION_DENIED, 'etcdserver: permission denied'),
  ROLE_NOT_GRANTED: spec(status.FAILED_PRECONDITION, 'etcdserver: role is not granted to the user'),
  PERMISSION_NOT_GRANTED: spec(
    status.FAILED_PRECONDITION,
    'etcdserver: permission is not granted to the role',
  ),
  AUTH_NOT_ENABLED: spec(status.FAILED_PRECONDITION, 'etcdserver: authentication is not enabled'),
  INVALID_AUTH_TOKEN: spec(status.UNAUTHENTICATED, 'etcdserver: invalid auth token'),
  INVALID_AUTH_MGMT: spec(status.INVALID_ARGUMENT, 'etcdserver: invalid auth management'),
  AUTH_OLD_REVISION: spec(status.INVALID_ARGUMENT, 'etcdserver: revision of auth store is old'),

  // Cluster state, leadership and timeouts
  NO_LEADER: spec(status.UNAVAILABLE, 'etcdserver: no leader'),
  NOT_LEADER: spec(status.FAILED_PRECONDITION, 'etcdserver: not leader'),
  LEADER_CHANGED: spec(status.UNAVAILABLE, 'etcdserver: leader changed'),
  NOT_CAPABLE: spec(status.UNAVAILABLE, 'etcdserver: not capable'),
  STOPPED: spec(status.UNAVAILABLE, 'etcdserver: server stopped'),
  TIMEOUT: spec(status.UNAVAILABLE, 'etcdserver: request timed out'),
  TIMEOUT_DUE_TO_LEADER_FAIL: spec(
    status.UNAVAILABLE,
    'etcdserver: request timed out, possibly due to previous leader failure',
  ),
  TIMEOUT_DUE_TO_CONNECTION_LOST: spec(
    status.UNAVAILABLE,
    'etcdserver: request timed out, possibly due to connection lost',
  ),
  TIMEOUT_WAIT_APPLIED_INDEX: spec(
    status.UNAVAILABLE,
    'etcdserver: request timed out, waiting for the applied index took too long',
  ),
  UNHEALTHY: spec(status.UNAVAILABLE, 'etcdserver: unhealthy cluster'),
  CORRUPT: spec(status.DATA_LOSS, 'etcdserver: corrupt cluster'),
  NOT_SUPPORTED_FOR_LEARNER: spec(status.UNAVAILABLE, 'etcdserver: rpc not supported for learner'),
  BAD_LEADER_TRANSFEREE: spec(status.FAILED_PRECONDITION, 'etcdserver: bad leader transferee'),
} satisfies Record<string, WireSpec>;

/** Name of an entry of `EtcdErrors`. */
export type EtcdErrorName = keyof typeof TABLE;

/** Every server error of etcd 3.4, keyed by a constant name. */
export const EtcdErrors: Readonly<Record<EtcdErrorName, EtcdErrorSpec>> = Object.freeze(
  Object.fromEntries(
    Object.entries(TABLE).map(([name, wire]) => [name, Object.freeze({ code: `ERR_${name}`, ...wire })]),
  ) as Record<EtcdErrorName, EtcdErrorSpec>,
);

/** The internal code of each entry, e.g. `ErrorCode.COMPACTED === 'ERR_COMPACTED'`. */
export const ErrorCode: Readonly<Record<EtcdErrorName, string>> = Object.freeze(
  Object.fromEntries(Object.entries(EtcdErrors).map(([name, s]) => [name, s.code])) as Record<EtcdErrorName, string>,
);

const byCode: ReadonlyMap<string, EtcdErrorSpec> = new Map(Object.values(EtcdErrors).map((s) => [s.code, s]));

/** The table entry for an internal code, or undefined if the code is not an etcd error. */
export function etcdErrorSpec(code: string): EtcdErrorSpec | undefined {
  return byCode.get(code);
}

/** A FloeError carrying an etcd error, for code that raises one directly (e.g. request checks). */
export function etcdError(name: EtcdErrorName, options?: { cause?: unknown }): FloeError {
  const s = EtcdErrors[name];
  return new FloeError(s.code, s.message, options);
}

/**
 * The grpc-js error to hand to a callback or `call.destroy`/`emit('error')`, exactly as etcd
 * sends it: status code plus the message as `details` (grpc-js sends `details` as
 * `grpc-message`). A FloeError whose code is not in the table goes out as etcd sends errors it
 * has no mapping for: UNKNOWN with the error's own message.
 */
export function toServiceError(err: FloeError): ServiceError {
  const s = byCode.get(err.code);
  const code = s?.grpcCode ?? status.UNKNOWN;
  const details = s?.message ?? err.message;
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), {
    code,
    details,
    metadata: new Metadata(),
  });
}
