/**
 * src/sim: deterministic simulation of Raft clusters (design.md §6). Members, network, disks
 * and clock all live on one thread in virtual time and draw every choice from one seed, so a
 * failing seed replays exactly. Tests only.
 */
export { simulate, SimFailure, REPORT_EVENTS, LIVENESS_TIMEOUT_MS } from './simulate';
export type { SimOptions, SimReport } from './simulate';
export { Cluster, TICK_MS } from './cluster';
export type { ClusterOptions, ClusterStats, InjectedBug } from './cluster';
export { runWorkload } from './workload';
export type { WorkloadMix } from './workload';
export { Checker, InvariantViolation, checkLogsMatch } from './invariants';
export type { Ack, ReadCheck } from './invariants';
export { EventQueue } from './clock';
export { Network, RELIABLE } from './network';
export type { LinkFaults } from './network';
export { Disk } from './disk';
export type { DiskWrite } from './disk';
export { SimNode } from './node';
export type { RaftKnobs } from './node';
export { History } from './history';
