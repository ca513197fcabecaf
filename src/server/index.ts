/**
 * src/server: one etcd member (design.md §2, §3): the ready loop, the apply pipeline,
 * membership, raft snapshots, quota and alarms. The API layer serves a Member through the
 * contract (contract.ts).
 */
export { startMember, SERVER_VERSION, type Member } from './member';
export {
  resolveMemberConfig,
  defaultMemberConfig,
  silentMemberLogger,
  effectiveQuotaBytes,
  autoCompactionRetention,
  parseDurationMs,
  DEFAULT_QUOTA_BYTES,
  DEFAULT_MAX_REQUEST_BYTES,
  DEFAULT_MAX_TXN_OPS,
  DEFAULT_SNAPSHOT_COUNT,
  type MemberConfig,
  type MemberLogger,
} from './config';
export { computeMemberId, computeClusterId, idHex, parseInitialCluster, type InitialMember } from './ids';
export type { MemberInfo } from './membership';
export type * from './contract';
