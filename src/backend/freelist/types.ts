/**
 * The freelist: which pages of the file may be reused. Two implementations sit behind this one
 * interface and are chosen when a file is opened (design.md §4):
 *  - `array`:   sorted page ids, first-fit linear scan on allocate (bbolt's original, O(n));
 *  - `hashmap`: the seed's segregated hashmap: free spans grouped by size plus maps from a
 *               span's first and last page, so an exact-size allocate is O(1) and a free merges
 *               with its neighbours in O(1).
 * The on-disk freelist page is the same for both (see codec.ts).
 *
 * Life of a page id:
 *   allocate(txid, n)  -> the write transaction `txid` owns pages [id, id+n)
 *   free(txid, id, n)  -> pending: a reader older than `txid` may still see the page
 *   release(txid)      -> pending pages of every transaction <= txid become free (reusable)
 *   rollback(txid)     -> pending pages of `txid` stop being pending (the tx never happened)
 *
 * Ordering rule: a page freed by transaction T may be reused only by a transaction that starts
 * after every reader whose snapshot is older than T has closed. The database enforces this
 * by calling release(minOpenReaderTxid - 1) at the start of each write transaction.
 *
 * Page ids are plain numbers: 2^53 pages of 4 KiB is far beyond any file we can address.
 */
export type Pgid = number;
export type Txid = number;

export type FreelistKind = 'array' | 'hashmap';

export interface Freelist {
  readonly kind: FreelistKind;

  /**
   * Takes `n` (>= 1) contiguous free pages for transaction `txid` and returns the first id,
   * or 0 when no run of `n` free pages exists (the caller then grows the file).
   */
  allocate(txid: Txid, n: number): Pgid;

  /**
   * Marks the `n` pages starting at `start` as freed by transaction `txid`. They stay pending
   * (not allocatable) until release(t) is called with t >= txid. Freeing a page that is already
   * free or pending is a broken invariant (assert), as is freeing page 0 or 1 (the metas).
   */
  free(txid: Txid, start: Pgid, n: number): void;

  /** Moves the pending pages of every transaction with id <= `txid` into the free set. */
  release(txid: Txid): void;

  /**
   * Moves into the free set the pending pages that were both allocated and freed by
   * transactions with ids in [begin, end] (bbolt's releaseRange rule). Lets pages that lived
   * only between two long-lived readers be reused. A page allocated before `begin` (or of
   * unknown allocator: grown from the file's end, or allocated before the file was opened)
   * may still be visible to the older reader, so it stays pending until release().
   */
  releaseRange(begin: Txid, end: Txid): void;

  /** Forgets the pending frees of transaction `txid` (it rolled back). */
  rollback(txid: Txid): void;

  /** Number of free (allocatable now) pages. */
  freeCount(): number;

  /** Number of pending pages (freed, not yet released). */
  pendingCount(): number;

  /** True when `pgid` is free or pending. */
  freed(pgid: Pgid): boolean;

  /**
   * Every free and pending page id, ascending, without duplicates: what the on-disk freelist
   * page holds (pending pages are stored as free: after a restart no reader can see them).
   */
  allIds(): Pgid[];

  /** Free page ids only, ascending. */
  freeIds(): Pgid[];

  /**
   * Replaces the free set with `ids` (ascending, unique) and clears everything pending. Used
   * when the file is opened.
   */
  readIds(ids: readonly Pgid[]): void;

  /**
   * Replaces the free set with `ids` minus every page that is currently pending; keeps the
   * pending sets. Used after a write transaction rolls back: the free set returns to what the
   * last committed freelist page said, while frees of other (committed, unreleased)
   * transactions stay pending.
   */
  reload(ids: readonly Pgid[]): void;
}
