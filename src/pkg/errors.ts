/**
 * Operating errors: the caller did something the system refuses (bad input, not found, a file
 * that is not what it should be). Each has a stable `code` that the API layer maps to the
 * wire, a human message, and an optional `cause`.
 */
export class FloeError extends Error {
  override readonly name: string = 'FloeError';
  /** Stable machine-readable code, e.g. 'ERR_NOT_BBOLT', 'ERR_BUCKET_NOT_FOUND'. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** True when `e` is a FloeError, optionally of one code. */
export function isFloeError(e: unknown, code?: string): e is FloeError {
  return e instanceof FloeError && (code === undefined || e.code === code);
}
