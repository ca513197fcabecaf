import { assert } from '../../pkg';
import { FreelistBase } from './base';
import type { Pgid } from './types';

/**
 * bbolt's original freelist: the free page ids in one sorted array.
 *
 * Costs, with F free pages and P pages released at once:
 *  - allocate(n): first-fit linear scan for n consecutive ids, then removal from the array:
 *    O(F). On a fragmented file every multi-page allocation walks past all the singletons.
 *  - release: sort the released pages, then merge them into the array: O(F + P log P).
 *  - freeIds: a copy, O(F).
 * This is the baseline the hashmap freelist is measured against (bench/freelist.ts).
 */
export class ArrayFreelist extends FreelistBase {
  readonly kind = 'array' as const;
  private ids: Pgid[] = [];

  protected takeRun(n: number): Pgid {
    const ids = this.ids;
    let runFrom = 0;
    for (let i = 0; i < ids.length; i++) {
      if (i > 0 && ids[i] !== ids[i - 1]! + 1) runFrom = i;
      if (i - runFrom + 1 === n) {
        const start = ids[runFrom]!;
        ids.splice(runFrom, n);
        return start;
      }
    }
    return 0;
  }

  protected addFreeSpans(spans: readonly number[]): void {
    // Spans are disjoint, so ordering them by start orders their pages.
    const order: number[] = [];
    for (let i = 0; i < spans.length; i += 2) order.push(i);
    order.sort((a, b) => spans[a]! - spans[b]!);
    const added: Pgid[] = [];
    for (const i of order) for (let k = 0; k < spans[i + 1]!; k++) added.push(spans[i]! + k);

    // Merge in place from the back: grow by the added count, then fill from the highest
    // slot down, so nothing is copied twice and no second large array is allocated.
    const ids = this.ids;
    let a = ids.length - 1;
    let b = added.length - 1;
    for (let k = 0; k < added.length; k++) ids.push(0);
    for (let out = ids.length - 1; b >= 0; out--) ids[out] = a >= 0 && ids[a]! > added[b]! ? ids[a--]! : added[b--]!;
  }

  protected resetFree(ids: readonly Pgid[]): void {
    this.ids = ids.slice();
  }

  override freeIds(): Pgid[] {
    return this.ids.slice();
  }

  protected verifyStructure(): void {
    const ids = this.ids;
    assert(ids.length === this.freeCount(), 'array freelist length disagrees with the free count');
    for (let i = 0; i < ids.length; i++) {
      assert(i === 0 ? ids[i]! >= 2 : ids[i]! > ids[i - 1]!, () => `array freelist not ascending at ${i}`);
      assert(this.freeBits.has(ids[i]!), () => `array freelist page ${ids[i]} not marked free`);
    }
  }
}
