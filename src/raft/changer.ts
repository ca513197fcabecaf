/**
 * Configuration changes as pure functions from (config, progress) to a new (config, progress):
 *  - simple(): at most one voter added or removed (any number of learner changes), the
 *    classic one-at-a-time membership change: any two majorities of the old and new config
 *    overlap, so no joint phase is needed;
 *  - enterJoint(): any change, entering the joint config old&&new where every decision needs
 *    a majority of both;
 *  - leaveJoint(): from old&&new to new.
 * An impossible change (joint while joint, removing every voter, ...) throws a FloeError with
 * code ERR_RAFT_CONF_CHANGE and leaves the inputs untouched; the leader uses that to refuse
 * such a proposal before it reaches the log.
 *
 * A demoted voter cannot become a learner while still a voter of the outgoing half (learners
 * and voters are disjoint); it waits in learnersNext and becomes a learner on leaving.
 */
import { assert, FloeError } from '../pkg';
import { Inflights } from './inflights';
import { Progress } from './progress';
import { TrackerConfig } from './tracker';
import { ConfChangeSingle, ConfChangeType, ConfState, NodeId } from './types';

/** Code of the FloeError for an impossible configuration change. */
export const ERR_CONF_CHANGE = 'ERR_RAFT_CONF_CHANGE';

/** A new configuration and the progress map that goes with it. */
export interface ChangeResult {
  readonly cfg: TrackerConfig;
  readonly prs: Map<NodeId, Progress>;
}

/** What the changer needs from the tracker it starts from. */
export interface ChangerBase {
  readonly config: TrackerConfig;
  readonly progress: ReadonlyMap<NodeId, Progress>;
  newInflights(): Inflights;
}

function fail(msg: string): never {
  throw new FloeError(ERR_CONF_CHANGE, msg);
}

/** Computes configuration changes against a base tracker (never mutating it). */
export class Changer {
  constructor(
    private readonly base: ChangerBase,
    /** The log's last index: new members are probed from there. */
    private readonly lastIndex: number,
  ) {}

  /** Enters old&&new; with autoLeave raft leaves it by itself once it is applied. */
  enterJoint(autoLeave: boolean, ccs: readonly ConfChangeSingle[]): ChangeResult {
    const { cfg, prs } = this.copy();
    if (cfg.isJoint()) fail('config is already joint');
    // An empty config may be built up (bootstrap, tests) but never made joint.
    if (cfg.incoming.size === 0) fail("can't make a zero-voter config joint");
    for (const id of cfg.incoming) cfg.outgoing.add(id);
    this.apply(cfg, prs, ccs);
    cfg.autoLeave = autoLeave;
    checkInvariants(cfg, prs);
    return { cfg, prs };
  }

  /** Leaves the joint config: staged learners become learners, dropped voters are removed. */
  leaveJoint(): ChangeResult {
    const { cfg, prs } = this.copy();
    if (!cfg.isJoint()) fail("can't leave a non-joint config");
    for (const id of cfg.learnersNext) {
      cfg.learners.add(id);
      prs.get(id)!.isLearner = true;
    }
    cfg.learnersNext.clear();
    for (const id of cfg.outgoing) {
      if (!cfg.incoming.has(id) && !cfg.learners.has(id)) prs.delete(id);
    }
    cfg.outgoing.clear();
    cfg.autoLeave = false;
    checkInvariants(cfg, prs);
    return { cfg, prs };
  }

  /** Applies changes that alter at most one voter, without a joint phase. */
  simple(ccs: readonly ConfChangeSingle[]): ChangeResult {
    const { cfg, prs } = this.copy();
    if (cfg.isJoint()) fail("can't apply simple config change in joint config");
    this.apply(cfg, prs, ccs);
    if (symdiff(this.base.config.incoming, cfg.incoming) > 1) {
      fail('more than one voter changed without entering joint config');
    }
    checkInvariants(cfg, prs);
    return { cfg, prs };
  }

  private copy(): { cfg: TrackerConfig; prs: Map<NodeId, Progress> } {
    const cfg = this.base.config.clone();
    const prs = new Map<NodeId, Progress>();
    for (const [id, pr] of this.base.progress) prs.set(id, pr.clone());
    checkInvariants(cfg, prs);
    return { cfg, prs };
  }

  private apply(cfg: TrackerConfig, prs: Map<NodeId, Progress>, ccs: readonly ConfChangeSingle[]): void {
    for (const cc of ccs) {
      // etcd zeroes the node id of a change it decided not to apply; skip those.
      if (cc.nodeId === 0n) continue;
      const t: ConfChangeType = cc.type;
      switch (t) {
        case 'ConfChangeAddNode':
          this.makeVoter(cfg, prs, cc.nodeId);
          break;
        case 'ConfChangeAddLearnerNode':
          this.makeLearner(cfg, prs, cc.nodeId);
          break;
        case 'ConfChangeRemoveNode':
          remove(cfg, prs, cc.nodeId);
          break;
        case 'ConfChangeUpdateNode':
          break;
      }
    }
    if (cfg.incoming.size === 0) fail('removed all voters');
  }

  private makeVoter(cfg: TrackerConfig, prs: Map<NodeId, Progress>, id: NodeId): void {
    const pr = prs.get(id);
    if (pr === undefined) {
      this.initProgress(cfg, prs, id, false);
      return;
    }
    pr.isLearner = false;
    cfg.learners.delete(id);
    cfg.learnersNext.delete(id);
    cfg.incoming.add(id);
  }

  private makeLearner(cfg: TrackerConfig, prs: Map<NodeId, Progress>, id: NodeId): void {
    const pr = prs.get(id);
    if (pr === undefined) {
      this.initProgress(cfg, prs, id, true);
      return;
    }
    if (pr.isLearner) return;
    // Drop it as an incoming voter but keep its progress.
    remove(cfg, prs, id);
    prs.set(id, pr);
    if (cfg.outgoing.has(id)) {
      cfg.learnersNext.add(id);
    } else {
      pr.isLearner = true;
      cfg.learners.add(id);
    }
  }

  private initProgress(cfg: TrackerConfig, prs: Map<NodeId, Progress>, id: NodeId, isLearner: boolean): void {
    if (isLearner) cfg.learners.add(id);
    else cfg.incoming.add(id);
    prs.set(
      id,
      new Progress({
        // Probe from the last index: a new member usually has no log and is caught up by a
        // snapshot after the first rejection; one that has it matches at once.
        next: Math.max(this.lastIndex, 1),
        match: 0,
        inflights: this.base.newInflights(),
        isLearner,
        // A new member counts as active so that check-quorum does not depose the leader
        // before the member had a chance to answer.
        recentActive: true,
      }),
    );
  }
}

function remove(cfg: TrackerConfig, prs: Map<NodeId, Progress>, id: NodeId): void {
  if (!prs.has(id)) return;
  cfg.incoming.delete(id);
  cfg.learners.delete(id);
  cfg.learnersNext.delete(id);
  // Still a voter of the outgoing half: keep its progress until the joint config is left.
  if (!cfg.outgoing.has(id)) prs.delete(id);
}

function symdiff(a: ReadonlySet<NodeId>, b: ReadonlySet<NodeId>): number {
  let n = 0;
  for (const id of a) if (!b.has(id)) n++;
  for (const id of b) if (!a.has(id)) n++;
  return n;
}

/** Broken config invariants are bugs in the changer, not operating errors. */
function checkInvariants(cfg: TrackerConfig, prs: ReadonlyMap<NodeId, Progress>): void {
  for (const set of [cfg.incoming, cfg.outgoing, cfg.learners, cfg.learnersNext]) {
    for (const id of set) assert(prs.has(id), () => `no progress for ${id}`);
  }
  for (const id of cfg.learnersNext) {
    assert(cfg.outgoing.has(id), () => `${id} is in LearnersNext, but not Voters[1]`);
    assert(!prs.get(id)!.isLearner, () => `${id} is in LearnersNext, but is already marked as learner`);
  }
  for (const id of cfg.learners) {
    assert(!cfg.outgoing.has(id), () => `${id} is in Learners and Voters[1]`);
    assert(!cfg.incoming.has(id), () => `${id} is in Learners and Voters[0]`);
    assert(prs.get(id)!.isLearner, () => `${id} is in Learners, but is not marked as learner`);
  }
  if (!cfg.isJoint()) {
    assert(cfg.learnersNext.size === 0, 'LearnersNext must be empty when not joint');
    assert(!cfg.autoLeave, 'AutoLeave must be false when not joint');
  }
}

/**
 * Rebuilds the configuration a ConfState describes, starting from `base` (normally empty), by
 * replaying it as conf changes: for a joint state, first the outgoing voters one by one, then
 * entering the joint config with the incoming side.
 */
export function restoreConfState(base: ChangerBase, lastIndex: number, cs: ConfState): ChangeResult {
  const outgoing: ConfChangeSingle[] = cs.votersOutgoing.map((nodeId) => ({ type: 'ConfChangeAddNode', nodeId }));
  const incoming: ConfChangeSingle[] = [
    ...cs.votersOutgoing.map((nodeId): ConfChangeSingle => ({ type: 'ConfChangeRemoveNode', nodeId })),
    ...cs.voters.map((nodeId): ConfChangeSingle => ({ type: 'ConfChangeAddNode', nodeId })),
    ...cs.learners.map((nodeId): ConfChangeSingle => ({ type: 'ConfChangeAddLearnerNode', nodeId })),
    ...cs.learnersNext.map((nodeId): ConfChangeSingle => ({ type: 'ConfChangeAddLearnerNode', nodeId })),
  ];
  let cur: ChangerBase = base;
  const step = (f: (c: Changer) => ChangeResult): void => {
    const r = f(new Changer(cur, lastIndex));
    cur = { config: r.cfg, progress: r.prs, newInflights: () => base.newInflights() };
  };
  if (outgoing.length === 0) {
    for (const cc of incoming) step((c) => c.simple([cc]));
  } else {
    for (const cc of outgoing) step((c) => c.simple([cc]));
    step((c) => c.enterJoint(cs.autoLeave, incoming));
  }
  return { cfg: cur.config, prs: new Map(cur.progress) };
}
