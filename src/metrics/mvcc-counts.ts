/**
 * etcd's MVCC operation counters (mvcc/metrics_txn.go): every range, put and delete a
 * transaction performs is counted once it ends, and the transaction itself counts as a txn
 * when it performed more than one operation. A txn's compares are ranges (etcd evaluates
 * them with the transaction's own reads); only the branch that ran counts, nested txns
 * included. Each family has its etcd_debugging_ twin, incremented alike.
 */
import type { MvccMetrics } from './etcd-families';

/** The parts of a txn request these counts read (etcdpb's TxnRequest satisfies it). */
export interface TxnShape {
  readonly compare: readonly unknown[];
  readonly success: readonly OpShape[];
  readonly failure: readonly OpShape[];
}

/** One op of a txn branch. */
export interface OpShape {
  readonly request?: string;
  readonly request_put?: { readonly key: Uint8Array; readonly value: Uint8Array };
  readonly request_txn?: TxnShape;
}

/** The parts of a txn response these counts read. */
export interface TxnResultShape {
  readonly succeeded?: boolean;
  readonly responses?: readonly unknown[];
}

interface Tally {
  ranges: number;
  puts: number;
  deletes: number;
  putBytes: number;
}

function tallyTxn(t: Tally, req: TxnShape, resp: TxnResultShape): void {
  t.ranges += req.compare.length;
  const ops = resp.succeeded === true ? req.success : req.failure;
  const results = resp.responses ?? [];
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i] as OpShape;
    if (op.request === 'request_range') t.ranges++;
    else if (op.request === 'request_delete_range') t.deletes++;
    else if (op.request === 'request_put' && op.request_put !== undefined) {
      t.puts++;
      t.putBytes += op.request_put.key.length + op.request_put.value.length;
    } else if (op.request === 'request_txn' && op.request_txn !== undefined) {
      const nested = (results[i] as { response_txn?: TxnResultShape } | undefined)?.response_txn ?? {};
      tallyTxn(t, op.request_txn, nested);
    }
  }
}

function add(m: MvccMetrics, t: Tally): void {
  if (t.ranges + t.puts + t.deletes > 1) {
    m.txnTotal.inc();
    m.debugTxnTotal.inc();
  }
  if (t.ranges > 0) {
    m.rangeTotal.inc(t.ranges);
    m.debugRangeTotal.inc(t.ranges);
  }
  if (t.puts > 0) {
    m.putTotal.inc(t.puts);
    m.debugPutTotal.inc(t.puts);
    m.totalPutSizeBytes.inc(t.putBytes);
  }
  if (t.deletes > 0) {
    m.deleteTotal.inc(t.deletes);
    m.debugDeleteTotal.inc(t.deletes);
  }
}

/** Counts an applied txn (read-only or not) with the branch its response says ran. */
export function countTxn(m: MvccMetrics, req: TxnShape, resp: TxnResultShape): void {
  const t: Tally = { ranges: 0, puts: 0, deletes: 0, putBytes: 0 };
  tallyTxn(t, req, resp);
  add(m, t);
}

/** Counts one range. */
export function countRange(m: MvccMetrics): void {
  m.rangeTotal.inc();
  m.debugRangeTotal.inc();
}

/** Counts one applied put of `key` and `value`. */
export function countPut(m: MvccMetrics, key: Uint8Array, value: Uint8Array): void {
  m.putTotal.inc();
  m.debugPutTotal.inc();
  m.totalPutSizeBytes.inc(key.length + value.length);
}

/** Counts one applied delete-range (one operation, however many keys it removed). */
export function countDelete(m: MvccMetrics): void {
  m.deleteTotal.inc();
  m.debugDeleteTotal.inc();
}
