/**
 * bcrypt password hashes (etcd stores golang.org/x/crypto/bcrypt hashes; bcryptjs writes the
 * same format, `$2b$`, which Go reads, and reads Go's `$2a$`). Hashing runs off the apply path
 * (async) before a request is proposed; clear passwords are never stored or logged.
 */
import bcrypt from 'bcryptjs';
import { FloeError } from '../pkg';

/** bcrypt.MinCost, MaxCost, DefaultCost. */
export const MIN_BCRYPT_COST = 4;
export const MAX_BCRYPT_COST = 31;
export const DEFAULT_BCRYPT_COST = 10;

function checkCost(cost: number): void {
  if (!Number.isInteger(cost) || cost < MIN_BCRYPT_COST || cost > MAX_BCRYPT_COST) {
    throw new FloeError('ERR_BAD_CONFIG', `bcrypt cost ${cost} is outside [${MIN_BCRYPT_COST}, ${MAX_BCRYPT_COST}]`);
  }
}

/** The bcrypt hash of `password` at `cost`. */
export async function hashPassword(password: string, cost: number): Promise<Buffer> {
  checkCost(cost);
  return Buffer.from(await bcrypt.hash(password, cost));
}

/**
 * Synchronous hashing, for the one case apply must hash: an entry written by etcd 3.4, which
 * carries the clear password (it hashes in apply).
 */
export function hashPasswordSync(password: string, cost: number): Buffer {
  checkCost(cost);
  return Buffer.from(bcrypt.hashSync(password, cost));
}

/** Whether `password` matches the stored `hash`. */
export async function comparePassword(password: string, hash: Buffer): Promise<boolean> {
  if (hash.length === 0) return false;
  return bcrypt.compare(password, hash.toString('latin1'));
}
