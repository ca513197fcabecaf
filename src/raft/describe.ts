/**
 * One-line text forms of raft's data, in etcd's layout, for logs and scenario traces. Node
 * ids print in hex as etcd prints them; payloads print Go-quoted ("%q") unless an entry
 * formatter says otherwise.
 */
import { confChangeFromEntry, asV2, confChangesToString } from './conf-change';
import { SoftState } from './raft';
import type { Ready } from './raw-node';
import { ConfState, Entry, HardState, isEmptyHardState, Message, NodeId, Snapshot } from './types';

/** Formats an entry's payload. */
export type EntryFormatter = (data: Uint8Array) => string;

/** Go's %q for bytes: printable ASCII as is, `"` and `\` escaped, anything else as \xNN. */
export function quoteBytes(data: Uint8Array): string {
  let s = '"';
  for (const b of data) {
    if (b === 0x22) s += '\\"';
    else if (b === 0x5c) s += '\\\\';
    else if (b === 0x0a) s += '\\n';
    else if (b === 0x09) s += '\\t';
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return s + '"';
}

function ids(list: readonly NodeId[]): string {
  return `[${list.join(' ')}]`;
}

/** "Term:1 Vote:1 Commit:4" (no Vote when none). */
export function describeHardState(hs: HardState): string {
  let s = `Term:${hs.term}`;
  if (hs.vote !== 0n) s += ` Vote:${hs.vote.toString(16)}`;
  return `${s} Commit:${hs.commit}`;
}

/** "Lead:1 State:StateLeader". */
export function describeSoftState(ss: SoftState): string {
  return `Lead:${ss.lead.toString(16)} State:${ss.raftState}`;
}

/** "Voters:[1 2] VotersOutgoing:[] Learners:[3] LearnersNext:[] AutoLeave:false". */
export function describeConfState(cs: ConfState): string {
  return `Voters:${ids(cs.voters)} VotersOutgoing:${ids(cs.votersOutgoing)} Learners:${ids(cs.learners)} LearnersNext:${ids(cs.learnersNext)} AutoLeave:${cs.autoLeave}`;
}

/** "Index:4 Term:1 ConfState:...". */
export function describeSnapshot(s: Snapshot): string {
  const m = s.metadata;
  return `Index:${m.index} Term:${m.term} ConfState:${describeConfState(m.confState)}`;
}

/** "term/index Type payload"; conf changes print as "v2 l3 r4". */
export function describeEntry(e: Entry, f: EntryFormatter = quoteBytes): string {
  let formatted: string;
  if (e.type === 'EntryNormal') {
    formatted = f(e.data);
  } else {
    try {
      const cc = confChangeFromEntry(e);
      formatted = cc === null ? '' : confChangesToString(asV2(cc).changes);
    } catch (err) {
      formatted = err instanceof Error ? err.message : String(err);
    }
  }
  return `${e.term}/${e.index} ${e.type}${formatted !== '' ? ` ${formatted}` : ''}`;
}

/** One describeEntry line per entry, each ending in a newline. */
export function describeEntries(ents: readonly Entry[], f: EntryFormatter = quoteBytes): string {
  return ents.map((e) => describeEntry(e, f) + '\n').join('');
}

/** "1->2 MsgApp Term:1 Log:1/3 Commit:3 Entries:[...]", with rejections, contexts, snapshots. */
export function describeMessage(m: Message, f: EntryFormatter = quoteBytes): string {
  let s = `${m.from.toString(16)}->${m.to.toString(16)} ${m.type} Term:${m.term} Log:${m.logTerm}/${m.index}`;
  if (m.reject) s += ` Rejected (Hint: ${m.rejectHint})`;
  if (m.commit !== 0) s += ` Commit:${m.commit}`;
  if (m.context.length > 0) s += ` Context:${quoteBytes(m.context)}`;
  if (m.entries.length > 0) s += ` Entries:[${m.entries.map((e) => describeEntry(e, f)).join(', ')}]`;
  if (m.snapshot !== null && m.snapshot.metadata.index > 0) s += ` Snapshot: ${describeSnapshot(m.snapshot)}`;
  return s;
}

/** A multi-line description of a Ready, or "<empty Ready>". */
export function describeReady(rd: Ready, f: EntryFormatter = quoteBytes): string {
  let s = '';
  if (rd.softState !== null) s += describeSoftState(rd.softState) + '\n';
  if (rd.hardState !== null && !isEmptyHardState(rd.hardState)) s += `HardState ${describeHardState(rd.hardState)}\n`;
  if (rd.readStates.length > 0) {
    s += `ReadStates ${rd.readStates.map((r) => `{Index:${r.index} Ctx:${quoteBytes(r.requestCtx)}}`).join(' ')}\n`;
  }
  if (rd.entries.length > 0) s += 'Entries:\n' + describeEntries(rd.entries, f);
  if (rd.snapshot !== null) s += `Snapshot ${describeSnapshot(rd.snapshot)}\n`;
  if (rd.committedEntries.length > 0) s += 'CommittedEntries:\n' + describeEntries(rd.committedEntries, f);
  if (rd.messagesBeforePersist.length > 0) {
    s += 'MessagesBeforePersist:\n' + rd.messagesBeforePersist.map((m) => describeMessage(m, f) + '\n').join('');
  }
  if (rd.messages.length > 0) s += 'Messages:\n' + rd.messages.map((m) => describeMessage(m, f) + '\n').join('');
  if (s === '') return '<empty Ready>';
  return `Ready MustSync=${rd.mustSync}:\n${s}`;
}
