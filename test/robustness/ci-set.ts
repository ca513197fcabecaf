/**
 * The bounded CI set: every fault at least once across 1- and 3-member clusters. Failpoints
 * are Floe's own; a representative few run here (one per layer: WAL, backend commit,
 * snapshot install, defrag, compaction); `npm run robustness -- --scenario all` runs them all.
 */
export const CI_SCENARIOS: readonly string[] = [
  'kill-member-1',
  'sigstop-1',
  'failpoint-wal.afterSave-1',
  'kill-leader-3',
  'kill-member-3',
  'sigstop-3',
  'blackhole-3',
  'delay-3',
  'drop-3',
  'snapshot-3',
  'replace-3',
  'failpoint-backend.commit.beforeMetaSync-3',
  'failpoint-server.beforeApplySnapshot-3',
  'failpoint-backend.defrag.beforeRename-3',
  'failpoint-mvcc.compaction.beforeBackend-3',
];

/** Traffic seconds per CI scenario. */
export const CI_DURATION_MS = 8_000;
