/**
 * Invariant checks. A failed assertion means the program's own state is broken: it throws an
 * AssertionError that no layer may catch and carry on from (style.md, principle 2).
 * Operating errors (bad input, not found) are typed errors instead; see errors.ts.
 */
export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

/** Throws an AssertionError when `cond` is false. `msg` says which invariant broke. */
export function assert(cond: unknown, msg: string | (() => string) = 'assertion failed'): asserts cond {
  if (!cond) throw new AssertionError(typeof msg === 'function' ? msg() : msg);
}

/** Marks a branch that must be unreachable; the argument keeps switch statements exhaustive. */
export function unreachable(x: never, msg = 'unreachable'): never {
  throw new AssertionError(`${msg}: ${String(x)}`);
}

/**
 * Expensive O(n) self-checks run only when verification is on: in tests (FLOE_VERIFY=1 is set
 * by the test runner) or when an operator asks for it. Production paths never pay for them.
 */
export const verifyEnabled: boolean = process.env.FLOE_VERIFY === '1';
