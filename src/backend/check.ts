/**
 * check(): every consistency problem of a committed state, as one line each.
 *  - every page below the high-water mark is reachable exactly once or free, never both;
 *  - nothing reachable or free lies beyond the high-water mark;
 *  - tree pages are branch or leaf pages, the freelist page is a freelist page;
 *  - keys are non-empty and strictly ascending within a page and across pages (each child's
 *    keys lie between its branch key and the next one);
 *  - the freelist page lists no page twice, and (when the db is idle) the in-memory freelist
 *    holds exactly the ids of the freelist page.
 * It reports; it never throws on a corrupt file.
 */
import { FloeError } from '../pkg';
import { decodeFreelistPage } from './freelist/codec';
import type { Freelist } from './freelist';
import type { ReadTx } from './tx';
import { inspect } from './walk';

/** Checks the snapshot of `tx`; `live` is the db's freelist when no write is in progress. */
export function checkDb(tx: ReadTx, live: Freelist | null): string[] {
  const m = tx.meta;
  const ins = inspect(m, (id) => tx.file.read(id));
  const problems = ins.problems;
  if (m.freelist === null) return problems; // unreachable pages are free by definition

  let ids: number[] | null = null;
  try {
    if (m.freelist >= 2 && m.freelist < m.pgid) ids = decodeFreelistPage(tx.file.read(m.freelist), m.freelist);
  } catch (e) {
    if (!(e instanceof FloeError)) throw e;
    problems.push(e.message);
  }
  if (ids === null) return problems;

  const freed = new Uint8Array(m.pgid);
  for (const id of ids) {
    if (id < 2 || id >= m.pgid) {
      problems.push(`page ${id}: on the freelist but out of bounds: high-water mark ${m.pgid}`);
    } else if (freed[id] === 1) {
      problems.push(`page ${id}: already freed`);
    } else {
      freed[id] = 1;
      if (ins.reachable[id] === 1) problems.push(`page ${id}: reachable freed`);
    }
  }
  for (let id = 2; id < m.pgid; id++) {
    if (ins.reachable[id] === 0 && freed[id] === 0) problems.push(`page ${id}: unreachable unfreed`);
  }

  if (live !== null) {
    const mem = live.allIds();
    const uniq = ids.filter((id, i) => i === 0 || id !== ids![i - 1]);
    let i = 0;
    while (i < mem.length && i < uniq.length && mem[i] === uniq[i]) i++;
    if (i < mem.length || i < uniq.length) {
      problems.push(
        `freelist: the in-memory freelist (${mem.length} pages) differs from the freelist page ` +
          `(${uniq.length} pages) first at position ${i}: ${mem[i] ?? 'none'} vs ${uniq[i] ?? 'none'}`,
      );
    }
  }
  return problems;
}
