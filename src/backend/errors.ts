/**
 * The backend's operating errors: FloeErrors with bbolt's own messages (callers and tests match
 * on them) and stable codes.
 */
import { FloeError } from '../pkg';

const messages = {
  ERR_BUCKET_EXISTS: 'bucket already exists',
  ERR_BUCKET_NOT_FOUND: 'bucket not found',
  ERR_BUCKET_NAME_REQUIRED: 'bucket name required',
  ERR_KEY_REQUIRED: 'key required',
  ERR_KEY_TOO_LARGE: 'key too large',
  ERR_VALUE_TOO_LARGE: 'value too large',
  ERR_INCOMPATIBLE_VALUE: 'incompatible value',
  ERR_TX_NOT_WRITABLE: 'tx not writable',
  ERR_TX_CLOSED: 'tx closed',
  ERR_DB_NOT_OPEN: 'database not open',
  ERR_INVALID: 'invalid database',
  ERR_VERSION_MISMATCH: 'version mismatch',
  ERR_CHECKSUM: 'checksum error',
  ERR_DB_READ_ONLY: 'database is in read-only mode',
  ERR_TX_WRITE_OPEN: 'a write transaction is already open',
} as const;

export type BackendErrorCode = keyof typeof messages;

/** A FloeError carrying bbolt's message for `code`. */
export function backendError(code: BackendErrorCode): FloeError {
  return new FloeError(code, messages[code]);
}

/** A corrupt or unreadable file: one line saying where. */
export function corrupt(detail: string): FloeError {
  return new FloeError('ERR_CORRUPT', detail);
}
