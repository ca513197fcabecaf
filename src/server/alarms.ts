/**
 * Alarms as etcd 3.4 keeps them (etcdserver/api/v3alarm): bucket `alarm`, one key per
 * (member, alarm type) holding the encoded etcdserverpb.AlarmMember, value empty.
 */
import type { BatchTx } from '../backend';
import { readFields, ProtoWriter } from '../pkg';

export const ALARM_BUCKET = Buffer.from('alarm');

export interface ActiveAlarm {
  readonly memberId: bigint;
  /** etcdserverpb.AlarmType: 1 NOSPACE, 2 CORRUPT. */
  readonly alarm: number;
}

/** etcdserverpb.AlarmMember {MemberID = 1 (uint64), Alarm = 2 (enum)}, zero fields left out. */
export function encodeAlarmMember(a: ActiveAlarm): Buffer {
  return new ProtoWriter().uintNonZero(1, a.memberId).uintNonZero(2, a.alarm).finish();
}

export function decodeAlarmMember(b: Uint8Array): ActiveAlarm {
  let memberId = 0n;
  let alarm = 0;
  for (const f of readFields(b)) {
    if (f.field === 1) memberId = BigInt.asUintN(64, BigInt(f.int));
    else if (f.field === 2) alarm = Number(f.int);
  }
  return { memberId, alarm };
}

/** The active alarms, persisted through the apply step's batch. */
export class AlarmStore {
  private readonly active = new Map<string, ActiveAlarm>();

  constructor(private readonly batch: BatchTx) {
    batch.createBucket(ALARM_BUCKET);
    const r = batch.range(ALARM_BUCKET, Buffer.alloc(0), Buffer.alloc(32, 0xff), 0);
    for (const k of r.keys) {
      const a = decodeAlarmMember(k);
      this.active.set(keyOf(a), a);
    }
  }

  /** Raises an alarm; returns it, or null when it was already active. */
  activate(a: ActiveAlarm): ActiveAlarm | null {
    const k = keyOf(a);
    if (this.active.has(k)) return null;
    this.active.set(k, a);
    this.batch.put(ALARM_BUCKET, encodeAlarmMember(a), Buffer.alloc(0));
    return a;
  }

  /** Clears an alarm; returns it, or null when it was not active. */
  deactivate(a: ActiveAlarm): ActiveAlarm | null {
    const k = keyOf(a);
    const had = this.active.get(k);
    if (had === undefined) return null;
    this.active.delete(k);
    this.batch.delete(ALARM_BUCKET, encodeAlarmMember(a));
    return had;
  }

  /** Active alarms of type `alarm` (0: all), by member id then type. */
  list(alarm = 0): ActiveAlarm[] {
    return [...this.active.values()]
      .filter((a) => alarm === 0 || a.alarm === alarm)
      .sort((x, y) => (x.memberId < y.memberId ? -1 : x.memberId > y.memberId ? 1 : x.alarm - y.alarm));
  }

  has(alarm: number): boolean {
    return this.list(alarm).length > 0;
  }
}

function keyOf(a: ActiveAlarm): string {
  return `${a.memberId}:${a.alarm}`;
}
