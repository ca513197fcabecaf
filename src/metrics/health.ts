/**
 * etcd 3.4's /health verdict (etcdhttp checkHealth): unhealthy when an alarm is active (other
 * than those the request excludes with `?exclude=NAME`), when the member knows no leader, or
 * when a request through raft does not complete within a second (etcd issues a quorum GET;
 * here an alarm GET, which also goes through raft and also answers the alarm question with
 * the cluster's committed view). 3.4 has no `?serializable`: the parameter is ignored.
 */

/** What the verdict needs from a member (the EtcdServerApi satisfies it). */
export interface HealthSource {
  readonly hasLeader: boolean;
  /** etcd's Alarm RPC; a GET (action 0) lists active alarms through raft. */
  alarm(req: { readonly action: 0; readonly memberID: string; readonly alarm: 0 }): Promise<{ readonly alarms?: readonly { readonly alarm: number }[] }>;
}

/** etcd's time limit on the health check's request through raft. */
export const HEALTH_TIMEOUT_MS = 1000;

/** etcd's alarm names by AlarmType, as `?exclude=` takes them. */
const ALARM_NAMES: readonly string[] = ['NONE', 'NOSPACE', 'CORRUPT'];

/** Why a check failed, for the log (etcd logs these as warnings); null when healthy. */
export type HealthFailure = { readonly reason: string } | null;

/** Runs the check; never throws (a failed or late request is an unhealthy verdict). */
export async function checkHealth(src: HealthSource, excluded: ReadonlySet<string>, timeoutMs = HEALTH_TIMEOUT_MS): Promise<HealthFailure> {
  if (!src.hasLeader) return { reason: 'no leader' };
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const r = await Promise.race([src.alarm({ action: 0, memberID: '0', alarm: 0 }), timeout]);
    if (r === 'timeout') return { reason: `request through raft timed out after ${timeoutMs}ms` };
    for (const a of r.alarms ?? []) {
      const name = ALARM_NAMES[a.alarm] ?? String(a.alarm);
      if (!excluded.has(name)) return { reason: `alarm ${name}` };
    }
    return null;
  } catch (e) {
    return { reason: `request through raft failed: ${(e as Error).message ?? String(e)}` };
  } finally {
    clearTimeout(timer);
  }
}
