import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Entry } from '../raft';
import { applyEntry, bytes, decodeSm, decodeWrite, emptySm, encodeSm, encodeWrite } from './state-machine';

const w = (index: number, term: number, proposal: number, key: string): Entry => ({ index, term, type: 'EntryNormal', data: encodeWrite({ proposal, key }) });

test('the hash chain tells apart histories that differ in any entry, term or order', () => {
  const run = (ents: Entry[]) => {
    const sm = emptySm();
    for (const e of ents) applyEntry(sm, e);
    return sm.hash;
  };
  const base = run([w(1, 1, 1, 'a'), w(2, 1, 2, 'b')]);
  assert.equal(run([w(1, 1, 1, 'a'), w(2, 1, 2, 'b')]), base);
  assert.notEqual(run([w(1, 1, 1, 'a'), w(2, 2, 2, 'b')]), base);
  assert.notEqual(run([w(1, 1, 2, 'b'), w(2, 1, 1, 'a')]), base);
  assert.notEqual(run([w(1, 1, 1, 'a'), w(2, 1, 3, 'b')]), base);
});

test('writes set keys; snapshots round-trip and encode equal states equally', () => {
  const a = emptySm();
  applyEntry(a, w(1, 1, 1, 'b'));
  applyEntry(a, w(2, 1, 2, 'a'));
  applyEntry(a, w(3, 1, 3, 'b'));
  assert.deepEqual(a.kv.get('b'), { proposal: 3, index: 3 });
  const back = decodeSm(encodeSm(a));
  assert.deepEqual(back, a);
  const b = emptySm();
  b.kv.set('a', { proposal: 2, index: 2 });
  b.kv.set('b', { proposal: 3, index: 3 });
  Object.assign(b, { index: a.index, hash: a.hash });
  assert.deepEqual(encodeSm(b), encodeSm(a), 'insertion order must not matter');
  assert.deepEqual(decodeWrite(bytes('p12:k')), { proposal: 12, key: 'k' });
  assert.equal(decodeWrite(bytes('junk')), null);
  assert.deepEqual(decodeSm(new Uint8Array(0)), emptySm());
});
