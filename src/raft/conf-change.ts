/**
 * Helpers over configuration changes: V1 <-> V2, whether a V2 change enters or leaves joint
 * consensus, and conf changes <-> log entries. The text form ("v1 l2 r3 u4": add voter 1, add
 * learner 2, remove 3, update 4) is etcd's and is used by traces and scenario files.
 */
import { decodeConfChange, decodeConfChangeV2, encodeConfChange, encodeConfChangeV2 } from './codec';
import { AnyConfChange, ConfChangeSingle, ConfChangeV2, EMPTY_BYTES, Entry, EntryType } from './types';

/** Any conf change as a V2 change (a V1 change is a V2 change with one element). */
export function asV2(cc: AnyConfChange): ConfChangeV2 {
  if (cc.kind === 'v2') return cc;
  return {
    kind: 'v2',
    transition: 'ConfChangeTransitionAuto',
    changes: [{ type: cc.type, nodeId: cc.nodeId }],
    context: cc.context,
  };
}

/**
 * Whether the change must go through joint consensus, and if so whether raft leaves the
 * joint config by itself (autoLeave). More than one change always uses joint consensus, as
 * does any explicit transition; only a single change with the Auto transition is "simple".
 */
export function enterJoint(cc: ConfChangeV2): { readonly autoLeave: boolean } | null {
  if (cc.transition === 'ConfChangeTransitionAuto' && cc.changes.length <= 1) return null;
  return { autoLeave: cc.transition !== 'ConfChangeTransitionJointExplicit' };
}

/** The empty V2 change (Auto transition, no changes; context ignored) leaves the joint config. */
export function leaveJoint(cc: ConfChangeV2): boolean {
  return cc.transition === 'ConfChangeTransitionAuto' && cc.changes.length === 0;
}

/** The entry type and payload that carry `cc` in the log. */
export function confChangeToEntryParts(cc: AnyConfChange): { readonly type: EntryType; readonly data: Uint8Array } {
  if (cc.kind === 'v1') return { type: 'EntryConfChange', data: encodeConfChange(cc) };
  return { type: 'EntryConfChangeV2', data: encodeConfChangeV2(cc) };
}

/** The conf change an entry carries, or null for a normal entry. */
export function confChangeFromEntry(e: Entry): AnyConfChange | null {
  switch (e.type) {
    case 'EntryNormal':
      return null;
    case 'EntryConfChange':
      return decodeConfChange(e.data);
    case 'EntryConfChangeV2':
      return decodeConfChangeV2(e.data);
  }
}

/** The empty V2 change that leaves a joint config. */
export const LEAVE_JOINT: ConfChangeV2 = {
  kind: 'v2',
  transition: 'ConfChangeTransitionAuto',
  changes: [],
  context: EMPTY_BYTES,
};

/** Parses "v1 l2 r3 u4" into changes; throws Error on bad input (tests and tools only). */
export function confChangesFromString(s: string): ConfChangeSingle[] {
  const out: ConfChangeSingle[] = [];
  for (const tok of s.trim().split(/\s+/)) {
    if (tok === '') continue;
    const m = /^([vlru])(\d+)$/.exec(tok);
    if (m === null) throw new Error(`unknown conf change token ${JSON.stringify(tok)}`);
    const kind = m[1]!;
    const type =
      kind === 'v'
        ? 'ConfChangeAddNode'
        : kind === 'l'
          ? 'ConfChangeAddLearnerNode'
          : kind === 'r'
            ? 'ConfChangeRemoveNode'
            : 'ConfChangeUpdateNode';
    out.push({ type, nodeId: BigInt(m[2]!) });
  }
  return out;
}

/** The inverse of confChangesFromString. */
export function confChangesToString(ccs: readonly ConfChangeSingle[]): string {
  const letter = { ConfChangeAddNode: 'v', ConfChangeAddLearnerNode: 'l', ConfChangeRemoveNode: 'r', ConfChangeUpdateNode: 'u' };
  return ccs.map((c) => `${letter[c.type]}${c.nodeId}`).join(' ');
}
