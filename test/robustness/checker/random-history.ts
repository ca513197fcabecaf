/**
 * Seeded random histories that are linearizable by construction: each client issues calls one
 * after another, every call gets a linearization point inside its [call, return] interval, and
 * the model answers the calls in the order of those points. Used by the checker's own tests
 * (and as a load shape for benchmarks); a mutated response then makes the history illegal.
 */
import { Rng } from '../../../src/pkg';
import type { Operation, Request, TxnOp, WriteEvent } from './history';
import { UNKNOWN } from './history';
import { apply, initialState, writesOf, type ModelState } from './model';

/** Shape of a random history. */
export interface RandomHistoryOptions {
  readonly seed: number;
  readonly operations: number;
  /** Concurrent clients (default 5). */
  readonly clients?: number;
  /** Distinct keys k0..k{n-1} (default 10). */
  readonly keys?: number;
  /** Fraction of calls whose outcome is unknown (default 0.05); half of those took effect. */
  readonly unknownRate?: number;
  /** Longest call duration in ms (default 30): longer means more overlap. */
  readonly maxDurationMs?: number;
}

/** A random history and the truth behind it. */
export interface RandomHistory {
  readonly operations: Operation[];
  /** The writes in the order the model applied them. */
  readonly writes: WriteEvent[];
  readonly final: ModelState;
}

interface Slot {
  readonly clientId: number;
  readonly callMs: number;
  readonly returnMs: number;
  readonly pointMs: number;
  readonly unknown: boolean;
  readonly applied: boolean;
}

/** Builds a linearizable history of `operations` calls from `clients` clients. */
export function randomHistory(options: RandomHistoryOptions): RandomHistory {
  const rng = new Rng(options.seed);
  const clients = options.clients ?? 5;
  const keyCount = options.keys ?? 10;
  const unknownRate = options.unknownRate ?? 0.05;
  const maxDurationMs = options.maxDurationMs ?? 30;
  const freeAt = Array.from({ length: clients }, () => rng.int(5));
  const slots: Slot[] = [];
  for (let i = 0; i < options.operations; i++) {
    // The client that is free first calls next, so clients interleave as in real traffic.
    let c = 0;
    for (let j = 1; j < clients; j++) if ((freeAt[j] as number) < (freeAt[c] as number)) c = j;
    const callMs = (freeAt[c] as number) + 1 + rng.int(5);
    const durationMs = 1 + rng.int(maxDurationMs);
    const unknown = rng.chance(unknownRate);
    slots.push({ clientId: c, callMs, returnMs: callMs + durationMs, pointMs: callMs + rng.int(durationMs + 1), unknown, applied: !unknown || rng.chance(0.5) });
    freeAt[c] = callMs + durationMs;
  }
  const order = slots.map((_, i) => i).sort((a, b) => (slots[a] as Slot).pointMs - (slots[b] as Slot).pointMs || a - b);
  const keys = Array.from({ length: keyCount }, (_, i) => `k${i}`);
  const gen = { rng, keys, nextValue: 0, nextLease: 1 };
  const ops: Operation[] = new Array(slots.length);
  let state = initialState();
  for (const i of order) {
    const slot = slots[i] as Slot;
    const request = randomRequest(gen, state);
    let response: Operation['response'] = null;
    if (slot.applied) {
      const applied = apply(state, request);
      state = applied.next;
      response = applied.response;
    }
    ops[i] = {
      clientId: slot.clientId,
      callMs: slot.callMs,
      returnMs: slot.unknown ? UNKNOWN : slot.returnMs,
      request,
      response: slot.unknown ? null : response,
    };
  }
  return { operations: ops, writes: writesOf(state), final: state };
}

interface Gen {
  readonly rng: Rng;
  readonly keys: readonly string[];
  nextValue: number;
  nextLease: number;
}

function randomRequest(g: Gen, state: ModelState): Request {
  const { rng } = g;
  const key = rng.pick(g.keys);
  const p = rng.int(100);
  if (p < 35) return { type: 'range', key };
  if (p < 40) return { type: 'range', key: 'k', rangeEnd: 'l', limit: rng.chance(0.3) ? 1 + rng.int(3) : 0 };
  if (p < 45) return { type: 'range', key, revision: 1 + rng.int(state.revision + 1) };
  if (p < 65) return { type: 'put', key, value: `v${g.nextValue++}`, prevKv: rng.chance(0.3) };
  if (p < 70) return { type: 'put', key, value: `v${g.nextValue++}`, leaseId: 1 + rng.int(g.nextLease) };
  if (p < 77) return { type: 'delete', key, prevKv: rng.chance(0.3) };
  if (p < 79) return { type: 'delete', key: rng.pick(g.keys), rangeEnd: '\0' };
  if (p < 92) {
    // Compare-and-set on the current mod revision (succeeds) or a stale one (fails).
    const mod = state.kvs.get(key)?.modRevision ?? 0;
    const then: TxnOp[] = [{ type: 'put', key, value: `v${g.nextValue++}` }, { type: 'range', key }];
    const other = rng.pick(g.keys);
    return { type: 'txn', compares: [{ key, target: 'mod', result: '=', operand: rng.chance(0.5) ? mod : Math.max(0, mod - 1) }], success: then, failure: [{ type: 'range', key: other }] };
  }
  if (p < 96) return { type: 'leaseGrant', leaseId: g.nextLease++, ttlSec: 60 };
  return { type: 'leaseRevoke', leaseId: 1 + rng.int(g.nextLease) };
}
