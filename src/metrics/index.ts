/**
 * src/metrics: a small Prometheus client (Registry, Counter, Gauge, Histogram, text format
 * 0.0.4), the process collector, etcd's metric families, and the observability HTTP paths
 * (/metrics, /health, /version). A leaf layer: it imports only `pkg`, and the layers it
 * measures receive its counters through their own small option interfaces.
 */
export {
  Registry,
  Counter,
  Gauge,
  Histogram,
  CounterVec,
  GaugeVec,
  HistogramVec,
  exponentialBuckets,
  EXPOSITION_CONTENT_TYPE,
  type FamilyOptions,
  type VecOptions,
  type HistogramOptions,
  type HistogramVecOptions,
  type MetricType,
} from './registry';
export { formatFloat } from './format';
export { registerProcessMetrics } from './process';
export { createEtcdMetrics, type EtcdMetrics, type ServerMetrics, type DiskMetrics, type MvccMetrics, type LeaseMetrics, type NetworkMetrics } from './etcd-families';
export { GrpcMetrics, GRPC_CODE_NAMES, type GrpcMethodMetrics, type GrpcType } from './grpc-families';
export { checkHealth, HEALTH_TIMEOUT_MS, type HealthSource, type HealthFailure } from './health';
export {
  observabilityHandler,
  excludedAlarms,
  MetricsListener,
  OBSERVABILITY_PATHS,
  type ObservabilityHandler,
  type ObservabilitySource,
  type ObservabilityOptions,
} from './observability-http';
export { countTxn, countRange, countPut, countDelete, type TxnShape, type OpShape, type TxnResultShape } from './mvcc-counts';
export { PeerProber, PROBE_INTERVAL_MS, RTT_REPORT_INTERVAL_MS, type ProberOptions } from './peer-prober';
export { PeerTraffic } from './peer-traffic';
