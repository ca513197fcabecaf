/**
 * Chooses lease ids for grants that arrive with ID 0 (the lessor itself refuses id 0; its caller
 * picks one before proposing the grant, as etcd's server does).
 *
 * The layout is etcd's request-id generator, so ids look like etcd's and stay unique across
 * restarts: the high 16 bits are the member id, the next 40 bits the start time in milliseconds,
 * the low 8 bits a counter; each id adds one to the low 48 bits (the counter may carry into the
 * time field, by design). Granted ids are masked to 63 bits so they are positive int64s.
 */
import { assert } from '../pkg';
import type { LeaseId } from './lease-id';

const SUFFIX_BITS = 48n;
const SUFFIX_MASK = (1n << SUFFIX_BITS) - 1n;
const TIME_BITS = 40n;
const COUNT_BITS = 8n;
const POSITIVE_MASK = (1n << 63n) - 1n;

export class LeaseIdGenerator {
  private readonly prefix: bigint;
  private suffix: bigint;

  /**
   * @param memberId the member's id; only its low 16 bits are used, as etcd does
   * @param startMs wall-clock time when the member started (passed in: the layer reads no clock)
   */
  constructor(memberId: bigint, startMs: number) {
    assert(Number.isSafeInteger(startMs) && startMs >= 0, () => `bad startMs ${startMs}`);
    this.prefix = BigInt.asUintN(16, memberId) << SUFFIX_BITS;
    this.suffix = BigInt.asUintN(Number(TIME_BITS), BigInt(startMs)) << COUNT_BITS;
  }

  /** The next id: positive, never 0, distinct from every earlier one of this generator. */
  next(): LeaseId {
    for (;;) {
      this.suffix = (this.suffix + 1n) & SUFFIX_MASK;
      const id = (this.prefix | this.suffix) & POSITIVE_MASK;
      if (id !== 0n) return id;
    }
  }
}
