/**
 * `etcdctl lock` and `etcdctl elect` (etcd 3.4's etcdctl runs both recipes itself, over KV,
 * Lease and Watch; the Lock and Election gRPC services are tested in src/concurrency).
 *
 * What can be compared byte for byte: a lock's key is `NAME/<session lease in hex>` and etcdctl
 * grants that lease itself, so no `lease grant` step teaches the normalizer its id. The cases
 * print what does not depend on it: the lock command's ETCD_LOCK_REV and the key's NAME part,
 * revisions, and an observer (`elect -l`) of candidates whose keys are written by `put`.
 */
import { ctl, untilText, type Case } from './cases';

/** etcdctl's ExitError (a failed request or command) and ExitBadArgs. */
const FAILED = 1;
const BAD_ARGS = 128;
/** Bound on a step that waits for a known sequence of events. */
const WAIT_TIMEOUT_MS = 10_000;
/** Time for a background etcdctl to start and reach its wait before the next step. */
const SETTLE_MS = 1_500;

const lockCmd: Case = {
  name: 'lock-command',
  shows:
    'etcdctl lock NAME cmd: the command runs holding the lock (ETCD_LOCK_KEY under NAME/, ETCD_LOCK_REV), the key is deleted after it; a failing command; contention: a second locker runs only after the first released; argument errors',
  steps: [
    ctl(['lock', 'L', '--', 'sh', '-c', 'echo "holder ${ETCD_LOCK_KEY%/*} rev=$ETCD_LOCK_REV"'], { expect: { exit: 0, stdout: 'holder L rev=2\n' } }),
    ctl(['get', 'L', '--prefix', '-w', 'json']), // released: nothing left, revision 3
    ctl(['lock', 'L', '--', 'sh', '-c', 'exit 3'], { expect: { exit: FAILED, stderr: 'Error: exit status 3' } }),
    ctl(['lock', 'L', '--', 'sh', '-c', 'echo "A rev=$ETCD_LOCK_REV"; sleep 2; echo "A done"'], { background: 'a', timeoutMs: WAIT_TIMEOUT_MS }),
    { kind: 'sleep', ms: SETTLE_MS },
    // Queued behind A: granted when A's key is deleted, at that revision.
    // A holds it at rev 6 (put), B queues at rev 7, A's release is rev 8.
    ctl(['lock', 'L', '--', 'sh', '-c', 'echo "B rev=$ETCD_LOCK_REV"'], { timeoutMs: WAIT_TIMEOUT_MS, expect: { exit: 0, stdout: 'B rev=8\n' } }),
    { kind: 'join', name: 'a' },
    ctl(['get', 'L', '--prefix', '-w', 'json']),
    ctl(['lock'], { expect: { exit: BAD_ARGS } }),
  ],
};

const electObserve: Case = {
  name: 'elect-observe',
  shows:
    'etcdctl elect -l NAME: prints the leader (the oldest key under NAME/), each value it is given, and its successor once it is deleted; argument errors',
  steps: [
    ctl(['put', 'E/a', 'p1']), // rev 2: the leader
    ctl(['elect', '-l', 'E'], {
      background: 'obs',
      stopWhen: untilText('E/b\nq\n'),
      timeoutMs: WAIT_TIMEOUT_MS,
      expect: { stdout: 'E/a\np1\nE/a\np2\nE/b\nq\n' },
    }),
    { kind: 'sleep', ms: SETTLE_MS },
    ctl(['put', 'E/b', 'q']), // a later candidate: not printed while E/a leads
    ctl(['put', 'E/a', 'p2']), // the leader proclaims
    ctl(['del', 'E/a']), // the leader resigns: E/b leads
    { kind: 'join', name: 'obs' },
    ctl(['get', 'E/', '--prefix', '--print-value-only']),
    ctl(['elect'], { expect: { exit: BAD_ARGS } }),
    ctl(['elect', '-l', 'a', 'b'], { expect: { exit: BAD_ARGS } }),
  ],
};

/** The lock and election cases, appended to the table in compat.test.ts. */
export const LOCK_CASES: readonly Case[] = [lockCmd, electObserve];
