/**
 * What happens to a cluster during a run, all drawn from the seed: client writes and
 * ReadIndex reads, membership changes (add learner, promote, remove, re-add, and joint changes
 * of two members), leader transfers, log compaction, crashes with later restarts, and
 * partitions with later heals. One action every few virtual milliseconds.
 */
import { AnyConfChange, ConfChangeSingle, ConfChangeType, EMPTY_BYTES, NodeId } from '../raft';
import { Cluster } from './cluster';
import { SimNode } from './node';

/** Keys clients write (few, so reads check overwrites). */
const KEYS = ['a', 'b', 'c', 'd', 'e'];

/**
 * Removals never leave fewer voters than this. With two voters, one that was down while the
 * configuration changed campaigns in its stale configuration at ever higher terms and ignores
 * the other's lower-term vote requests: without pre-vote the pair never elects a leader
 * (etcd's raft behaves the same; seeds 11669 and 21487 found it when two were allowed).
 */
const MIN_VOTERS = 3;

/** Max virtual ms between two workload actions. */
const MAX_ACTION_GAP_MS = 12;

/** Whether a run includes each kind of fault (all true by default). */
export interface WorkloadMix {
  readonly crashes: boolean;
  readonly partitions: boolean;
  readonly confChanges: boolean;
  readonly transfers: boolean;
  readonly compaction: boolean;
}

/** Drives `cluster` until virtual time `untilMs`. */
export function runWorkload(c: Cluster, untilMs: number, mix: WorkloadMix): void {
  const rng = c.rng;
  /** Ids whose removal was proposed. */
  const removing = new Set<NodeId>();
  const act = (): void => {
    if (c.queue.nowMs >= untilMs) return;
    action(c, mix, removing);
    c.queue.schedule(1 + rng.int(MAX_ACTION_GAP_MS), act);
  };
  c.queue.schedule(0, act);
  c.runUntil(untilMs);
}

function action(c: Cluster, mix: WorkloadMix, removing: Set<NodeId>): void {
  const rng = c.rng;
  const up = c.nodes.filter((n) => n.up);
  const r = rng.int(1000);
  if (r < 450) {
    if (up.length > 0) c.propose(rng.pick(up), rng.pick(KEYS));
  } else if (r < 570) {
    if (up.length > 0) c.read(rng.pick(up));
  } else if (r < 585) {
    if (mix.crashes && up.length > 1) crashAndRestart(c, rng.pick(up));
  } else if (r < 600) {
    if (mix.partitions) partition(c);
  } else if (r < 660) {
    if (mix.compaction && up.length > 0) c.compact(rng.pick(up));
  } else if (r < 700) {
    if (mix.confChanges) confChange(c, removing);
  } else if (r < 712) {
    const l = c.leader();
    if (mix.transfers && l !== undefined && l.confState.voters.length > 1) {
      c.transfer(l, rng.pick(l.confState.voters.filter((v) => v !== l.id)));
    }
  }
}

function crashAndRestart(c: Cluster, n: SimNode): void {
  c.crash(n);
  c.queue.schedule(20 + c.rng.int(600), () => {
    if (!n.up && !n.retired) c.start(n);
  });
}

function partition(c: Cluster): void {
  const ids = c.nodes.map((n) => n.id);
  const side = ids.filter(() => c.rng.chance(0.5));
  c.net.partition(side, ids);
  c.stats.partitions++;
  c.history.add(`partition {${side.join(' ')}} | {${ids.filter((i) => !side.includes(i)).join(' ')}}`);
  c.queue.schedule(50 + c.rng.int(1500), () => {
    c.net.heal();
    c.history.add('network heals');
  });
}

/**
 * One membership change through the leader, chosen from what its applied configuration
 * allows: add a learner (a new machine, or one whose earlier add was lost; a removed member
 * comes back this way, as etcd requires, with a fresh id and an empty disk), promote a
 * learner, remove a member (voters never drop below MIN_VOTERS), or promote and remove at once
 * (joint consensus, left automatically).
 */
function confChange(c: Cluster, removing: Set<NodeId>): void {
  const l = c.leader();
  if (l === undefined) return;
  const cs = l.confState;
  if (cs.votersOutgoing.length > 0) return; // still joint
  const rng = c.rng;
  // Never re-add an id once its removal was proposed: the removal may commit later.
  const outside = c.nodes.filter((n) => !n.retired && !removing.has(n.id) && !l.isMember(n.id)).map((n) => n.id);
  if (outside.length === 0) {
    const fresh = c.newMachine();
    if (fresh !== null) outside.push(fresh.id);
  }
  const removable = cs.voters.length > MIN_VOTERS ? [...cs.voters, ...cs.learners] : [...cs.learners];
  const choices: (() => void)[] = [];
  const single = (type: ConfChangeType, id: NodeId, what: string) => () => {
    if (type === 'ConfChangeAddLearnerNode') wake(c, c.node(id));
    if (type === 'ConfChangeRemoveNode') removing.add(id);
    // A single change as either entry type: V1, or V2 with the Auto transition (not joint).
    const cc: AnyConfChange = rng.chance(0.5)
      ? { kind: 'v1', type, nodeId: id, context: EMPTY_BYTES, id: 0n }
      : { kind: 'v2', transition: 'ConfChangeTransitionAuto', changes: [{ type, nodeId: id }], context: EMPTY_BYTES };
    c.confChange(l, cc, what);
  };
  if (outside.length > 0) {
    const id = rng.pick(outside);
    choices.push(single('ConfChangeAddLearnerNode', id, `add learner ${id}`));
  }
  if (cs.learners.length > 0) {
    const id = rng.pick(cs.learners);
    choices.push(single('ConfChangeAddNode', id, `promote ${id}`));
  }
  if (removable.length > 0) {
    const id = rng.pick(removable);
    choices.push(single('ConfChangeRemoveNode', id, `remove ${id}`));
  }
  if (cs.learners.length > 0 && cs.voters.length > 2) {
    const up = rng.pick(cs.learners);
    const down = rng.pick(cs.voters);
    const changes: ConfChangeSingle[] = [
      { type: 'ConfChangeAddNode', nodeId: up },
      { type: 'ConfChangeRemoveNode', nodeId: down },
    ];
    choices.push(() => {
      removing.add(down);
      c.confChange(l, { kind: 'v2', transition: 'ConfChangeTransitionAuto', changes, context: EMPTY_BYTES }, `joint: promote ${up}, remove ${down}`);
    });
  }
  if (choices.length > 0) rng.pick(choices)();
}

/** Starts a joining machine's process if it is down. */
function wake(c: Cluster, n: SimNode): void {
  if (!n.up && !n.retired) c.start(n);
}
