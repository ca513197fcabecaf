import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isFloeError } from '../pkg';
import { ChangeResult, Changer, ERR_CONF_CHANGE, restoreConfState } from './changer';
import { confChangesFromString } from './conf-change';
import { Inflights } from './inflights';
import { Progress } from './progress';
import { TestRng } from './test-rng';
import { TrackerConfig } from './tracker';
import { ConfState, EMPTY_CONF_STATE, NodeId } from './types';

interface State {
  readonly config: TrackerConfig;
  readonly progress: ReadonlyMap<NodeId, Progress>;
  newInflights(): Inflights;
}

const EMPTY: State = { config: new TrackerConfig(), progress: new Map(), newInflights: () => new Inflights(10, 0) };

function state(r: ChangeResult): State {
  return { config: r.cfg, progress: r.prs, newInflights: () => new Inflights(10, 0) };
}

/** Applies "v1 v2 ..." one change at a time with simple(). */
function build(s: string, lastIndex = 10): State {
  let st = EMPTY;
  for (const cc of confChangesFromString(s)) st = state(new Changer(st, lastIndex).simple([cc]));
  return st;
}

function simple(st: State, s: string): State {
  return state(new Changer(st, 10).simple(confChangesFromString(s)));
}

function enter(st: State, s: string, autoLeave = false): State {
  return state(new Changer(st, 10).enterJoint(autoLeave, confChangesFromString(s)));
}

function leave(st: State): State {
  return state(new Changer(st, 10).leaveJoint());
}

function refused(f: () => unknown, message: string): void {
  assert.throws(f, (e: unknown) => isFloeError(e, ERR_CONF_CHANGE) && (e as Error).message === message);
}

test('simple changes add and remove one voter at a time and any learners', () => {
  const st = build('v1 v2 v3 l4');
  assert.equal(st.config.toString(), 'voters=(1 2 3) learners=(4)');
  assert.equal(simple(st, 'v5').config.toString(), 'voters=(1 2 3 5) learners=(4)');
  assert.equal(simple(st, 'r3').config.toString(), 'voters=(1 2) learners=(4)');
  assert.equal(simple(st, 'v4').config.toString(), 'voters=(1 2 3 4)', 'promote a learner');
  assert.equal(simple(st, 'l3').config.toString(), 'voters=(1 2) learners=(3 4)', 'demote a voter');
  assert.equal(simple(st, 'l5 l6 r4').config.toString(), 'voters=(1 2 3) learners=(5 6)', 'learners do not count');
  assert.equal(simple(st, 'r9').config.toString(), 'voters=(1 2 3) learners=(4)', 'removing a non-member is a no-op');
  assert.equal(simple(st, 'u2').config.toString(), 'voters=(1 2 3) learners=(4)', 'update changes nothing');
});

test('simple changes refuse to change two voters, to run while joint, or to remove every voter', () => {
  const st = build('v1 v2 v3');
  refused(() => simple(st, 'v4 r3'), 'more than one voter changed without entering joint config');
  refused(() => simple(st, 'v4 v5'), 'more than one voter changed without entering joint config');
  refused(() => simple(EMPTY, 'v1 v2'), 'more than one voter changed without entering joint config');
  refused(() => simple(build('v1'), 'r1'), 'removed all voters');
  refused(() => simple(enter(st, 'v4'), 'v5'), "can't apply simple config change in joint config");
  // The input state is untouched by a refused change.
  assert.equal(st.config.toString(), 'voters=(1 2 3)');
});

test('joint consensus: enter old&&new, keep outgoing voters tracked, leave to new', () => {
  const st = build('v1 v2 v3');
  const j = enter(st, 'v4 r3', true);
  assert.equal(j.config.toString(), 'voters=(1 2 4)&&(1 2 3) autoleave');
  assert.ok(j.progress.has(3n), 'the outgoing voter keeps its progress while joint');
  const out = leave(j);
  assert.equal(out.config.toString(), 'voters=(1 2 4)');
  assert.deepEqual([...out.progress.keys()].sort(), [1n, 2n, 4n]);
});

test('joint consensus: a demoted voter waits in learners_next until the joint config is left', () => {
  const st = build('v1 v2 v3');
  const j = enter(st, 'l3');
  assert.equal(j.config.toString(), 'voters=(1 2)&&(1 2 3) learners_next=(3)');
  assert.equal(j.progress.get(3n)!.isLearner, false, 'still a voter of the outgoing half');
  const out = leave(j);
  assert.equal(out.config.toString(), 'voters=(1 2) learners=(3)');
  assert.equal(out.progress.get(3n)!.isLearner, true);
  // A learner that is not an outgoing voter is added right away.
  assert.equal(enter(st, 'l4 v5').config.toString(), 'voters=(1 2 3 5)&&(1 2 3) learners=(4)');
  // Re-promoting a staged learner while joint takes it out of learners_next.
  assert.equal(enter(st, 'l3 v3').config.toString(), 'voters=(1 2 3)&&(1 2 3)');
});

test('joint consensus refuses to nest, to start from nothing, and to leave a non-joint config', () => {
  const st = build('v1 v2 v3');
  refused(() => enter(enter(st, 'v4'), 'v5'), 'config is already joint');
  refused(() => enter(EMPTY, 'v1'), "can't make a zero-voter config joint");
  refused(() => leave(st), "can't leave a non-joint config");
  refused(() => enter(st, 'r1 r2 r3'), 'removed all voters');
});

test('a new member is probed from the last index and counts as recently active', () => {
  const st = build('v1 v2 v3', 42);
  const pr = st.progress.get(2n)!;
  assert.equal(pr.next, 42);
  assert.equal(pr.match, 0);
  assert.equal(pr.recentActive, true);
  assert.equal(build('v1', 0).progress.get(1n)!.next, 1, 'next is at least 1');
});

test('restoring a ConfState rebuilds exactly that config, joint or not', () => {
  const rng = new TestRng(3);
  for (let round = 0; round < 500; round++) {
    // A random config reached by random legal changes.
    let st = build('v1');
    for (let k = 0; k < 6; k++) {
      const id = BigInt(1 + rng.int(7));
      const type = rng.pick(['v', 'l', 'r'] as const);
      try {
        if (st.config.isJoint()) st = rng.chance(0.5) ? leave(st) : st;
        else if (rng.chance(0.3)) st = enter(st, `${type}${id} ${rng.pick(['v', 'l'])}${1 + rng.int(7)}`, rng.chance(0.5));
        else st = simple(st, `${type}${id}`);
      } catch (e) {
        if (!isFloeError(e, ERR_CONF_CHANGE)) throw e;
      }
    }
    const cs: ConfState = st.config.toConfState();
    const restored = restoreConfState(EMPTY, 10, cs);
    assert.deepEqual(restored.cfg.toConfState(), cs, st.config.toString());
    assert.deepEqual([...restored.prs.keys()].sort(), [...st.progress.keys()].sort());
    for (const [id, pr] of restored.prs) assert.equal(pr.isLearner, st.progress.get(id)!.isLearner);
  }
  assert.deepEqual(restoreConfState(EMPTY, 0, EMPTY_CONF_STATE).cfg.toConfState(), EMPTY_CONF_STATE);
});
