/**
 * Seeded random sequences of grant / renew / revoke / put-with-lease / delete / detach /
 * checkpoint / promote / demote / advance-time / expire, run against the lessor and against a
 * plain model (maps and linear scans). After every step the two must agree on everything a
 * caller can observe. Replay a failure with FLOE_SEED=<seed>.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FloeError } from '../pkg';
import { FOREVER_TTL_SEC, MAX_LEASE_TTL_SEC } from './index';
import { INT64_MAX, INT64_MIN } from './lease-id';
import { type Rng as RngT, Rng, forSeeds, memoryLessor } from './test-support';

interface ModelLease {
  ttlSec: number;
  remainingTtlSec: number;
  expiryMs: number;
  /** When the lease is next offered by expiredLeases (its expiry, or a retry time). */
  offerMs: number;
}

const MIN_TTL = 2;
const RETRY_MS = 3000;
const IDS = [1n, 2n, 3n, 4n, -1n, INT64_MAX, INT64_MIN, (1n << 53n) + 1n, 0n];
const TTLS: Array<number | bigint> = [-5, 0, 1, 2, 3, 5, 10, 60, MAX_LEASE_TTL_SEC, MAX_LEASE_TTL_SEC + 1, -(1n << 63n), INT64_MAX];
const KEYS = ['a', 'b', 'c', 'ab', '\x00', '\xff', 'k/1', 'k/2'];

function codeOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (e instanceof FloeError) return e.code;
    throw e;
  }
}

function runSequence(seed: number, steps: number): void {
  const rng: RngT = new Rng(seed);
  const { lessor, clock, deleter } = memoryLessor({ minTtlSec: MIN_TTL, expiredRetryMs: RETRY_MS });
  const leases = new Map<bigint, ModelLease>();
  const kv = new Map<string, bigint>(); // key -> lease (0n: none)
  let primary = false;

  const leaseKeys = (id: bigint): string[] =>
    [...kv].filter(([, l]) => l === id).map(([k]) => k).sort();

  for (let step = 0; step < steps; step++) {
    const now = clock.ms;
    const op = rng.int(100);
    const id = rng.pick(IDS);
    const where = `seed ${seed} step ${step} op ${op} id ${id}`;

    if (op < 15) {
      const ttl = rng.pick(TTLS);
      const want: string | null = id === 0n ? 'ERR_LEASE_NOT_FOUND' : ttl > MAX_LEASE_TTL_SEC ? 'ERR_LEASE_TTL_TOO_LARGE' : leases.has(id) ? 'ERR_LEASE_EXIST' : null;
      let granted = -1;
      assert.equal(codeOf(() => (granted = lessor.grant(id, ttl))), want, where);
      if (want === null) {
        const ttlSec = ttl < MIN_TTL ? MIN_TTL : Number(ttl);
        assert.equal(granted, ttlSec, where);
        const expiryMs = primary ? now + ttlSec * 1000 : Infinity;
        leases.set(id, { ttlSec, remainingTtlSec: 0, expiryMs, offerMs: expiryMs });
      }
    } else if (op < 30) {
      const m = leases.get(id);
      const want: string | null = !primary ? 'ERR_LEASE_NOT_PRIMARY' : m === undefined ? 'ERR_LEASE_NOT_FOUND' : now >= m.expiryMs ? 'ERR_LEASE_EXPIRED' : null;
      let got = -1;
      assert.equal(codeOf(() => (got = lessor.renew(id))), want, where);
      if (want === null) {
        assert.equal(got, m!.ttlSec, where);
        m!.expiryMs = m!.offerMs = now + m!.ttlSec * 1000;
      }
    } else if (op < 38) {
      const before = deleter.revisions.length;
      const keys = leaseKeys(id);
      assert.equal(codeOf(() => lessor.revoke(id)), leases.has(id) ? null : 'ERR_LEASE_NOT_FOUND', where);
      if (leases.has(id)) {
        if (keys.length > 0) {
          assert.equal(deleter.revisions.length, before + 1, where);
          assert.deepEqual(deleter.revisions[before], keys, `${where}: one revision deletes the sorted keys`);
          for (const k of keys) kv.delete(k);
        } else {
          assert.equal(deleter.revisions.length, before, where);
        }
        leases.delete(id);
      }
    } else if (op < 55) {
      // A put of a key, with a lease or none, as MVCC performs it.
      const key = rng.pick(KEYS);
      const lease = rng.chance(0.2) ? 0n : id;
      if (lease !== 0n && !leases.has(lease)) {
        assert.equal(codeOf(() => lessor.attach(lease, [Buffer.from(key, 'latin1')])), 'ERR_LEASE_NOT_FOUND', where);
      } else {
        deleter.put(key, lease);
        kv.set(key, lease);
      }
    } else if (op < 60) {
      // A delete of a key, as MVCC performs it: detach from its lease.
      const key = rng.pick(KEYS);
      deleter.del(key);
      kv.delete(key);
    } else if (op < 63) {
      // A stray detach naming a lease the key may not belong to.
      const key = rng.pick(KEYS);
      assert.equal(codeOf(() => lessor.detach(id, [Buffer.from(key, 'latin1')])), leases.has(id) ? null : 'ERR_LEASE_NOT_FOUND', where);
      if (leases.has(id) && kv.get(key) === id) kv.set(key, 0n);
    } else if (op < 65) {
      // An attach with no detach first: the key moves from whatever lease held it.
      const key = rng.pick(KEYS);
      assert.equal(codeOf(() => lessor.attach(id, [Buffer.from(key, 'latin1')])), leases.has(id) ? null : 'ERR_LEASE_NOT_FOUND', where);
      if (leases.has(id)) {
        kv.set(key, id);
        deleter.kv.add(key);
      }
    } else if (op < 68) {
      const remaining = rng.pick([0, 1, 3, 30]);
      lessor.checkpoint(id, remaining);
      const m = leases.get(id);
      if (m !== undefined) m.remainingTtlSec = remaining;
    } else if (op < 70) {
      const extendMs = rng.pick([0, 1000, 1500]);
      lessor.promote(extendMs);
      primary = true;
      for (const m of leases.values()) {
        m.expiryMs = m.offerMs = now + extendMs + (m.remainingTtlSec > 0 ? m.remainingTtlSec : m.ttlSec) * 1000;
      }
    } else if (op < 72) {
      lessor.demote();
      primary = false;
      for (const m of leases.values()) m.expiryMs = m.offerMs = Infinity;
    } else if (op < 88) {
      clock.advance(rng.chance(0.1) ? 60_000 : rng.int(4000));
    } else {
      const max = 1 + rng.int(3);
      const got = lessor.expiredLeases(max);
      const eligible = [...leases].filter(([, m]) => m.offerMs <= now);
      assert.equal(got.length, Math.min(max, eligible.length), `${where}: count`);
      const gotSet = new Set(got);
      const latestGot = Math.max(...got.map((g) => leases.get(g)!.offerMs));
      for (const [lid, m] of eligible) {
        if (gotSet.has(lid)) continue;
        assert.ok(m.offerMs >= latestGot, `${where}: lease ${lid} due earlier was passed over`);
      }
      for (const g of got) {
        const m = leases.get(g)!;
        assert.ok(now >= m.expiryMs, `${where}: ${g} handed out before expiry`);
        m.offerMs = now + RETRY_MS;
      }
    }

    // Everything observable agrees with the model.
    lessor.checkInvariants();
    assert.deepEqual(lessor.leaseIds(), [...leases.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)), where);
    for (const key of KEYS) {
      const lease = kv.get(key) ?? 0n;
      assert.equal(lessor.getLease(Buffer.from(key, 'latin1')), lease, `${where}: lease of ${JSON.stringify(key)}`);
    }
    const probe = rng.pick(IDS);
    const m = leases.get(probe);
    if (m === undefined) {
      assert.equal(codeOf(() => lessor.timeToLive(probe, true)), 'ERR_LEASE_NOT_FOUND', where);
    } else {
      const t = lessor.timeToLive(probe, true);
      const ttlSec = m.expiryMs === Infinity ? FOREVER_TTL_SEC : Math.trunc((m.expiryMs - clock.ms) / 1000) || 0;
      assert.equal(t.ttlSec, ttlSec, `${where}: ttl of ${probe}`);
      assert.equal(t.grantedTtlSec, m.ttlSec, where);
      assert.deepEqual(t.keys.map((k) => k.toString('latin1')), leaseKeys(probe), where);
      const info = lessor.lookup(probe)!;
      assert.equal(info.remainingTtlSec, m.remainingTtlSec, where);
      assert.equal(info.expiryMs, m.expiryMs, where);
    }
  }
}

test('the lessor matches a simple model over seeded random operation sequences', () => {
  forSeeds(40, (seed) => runSequence(seed, 500));
});
