/**
 * The gRPC server families of go-grpc-prometheus, which etcd registers on its client server:
 * started, handled (by status code), messages received and sent, by grpc_type, grpc_service
 * and grpc_method; with `--metrics extensive`, also the handling-time histogram.
 */
import { assert } from '../pkg';
import type { Counter, CounterVec, Histogram, HistogramVec, Registry } from './registry';

/** gRPC status code names, indexed by code number (the label values of grpc_code). */
export const GRPC_CODE_NAMES: readonly string[] = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
];

/** Prometheus' DefBuckets, which go-grpc-prometheus uses for handling time. */
export const GRPC_HANDLING_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** grpc_type: how a method streams. */
export type GrpcType = 'unary' | 'client_stream' | 'server_stream' | 'bidi_stream';

/** The counters of one method, looked up once when its service is added. */
export interface GrpcMethodMetrics {
  readonly started: Counter;
  readonly received: Counter;
  readonly sent: Counter;
  /** handled[code]: calls that ended with that status code. */
  readonly handled: readonly Counter[];
  /** Handling time; null unless `--metrics extensive`. */
  readonly handlingSeconds: Histogram | null;
}

/** The gRPC server families of one registry. */
export class GrpcMetrics {
  private readonly started: CounterVec;
  private readonly handled: CounterVec;
  private readonly received: CounterVec;
  private readonly sent: CounterVec;
  private readonly handling: HistogramVec | null;

  /** `extensive`: also the handling-time histogram (etcd's `--metrics extensive`). */
  constructor(r: Registry, extensive: boolean) {
    const labelNames = ['grpc_type', 'grpc_service', 'grpc_method'];
    this.started = r.counterVec({ name: 'grpc_server_started_total', help: 'Total number of RPCs started on the server.', labelNames });
    this.handled = r.counterVec({
      name: 'grpc_server_handled_total',
      help: 'Total number of RPCs completed on the server, regardless of success or failure.',
      labelNames: [...labelNames, 'grpc_code'],
    });
    this.received = r.counterVec({ name: 'grpc_server_msg_received_total', help: 'Total number of RPC stream messages received on the server.', labelNames });
    this.sent = r.counterVec({ name: 'grpc_server_msg_sent_total', help: 'Total number of gRPC stream messages sent by the server.', labelNames });
    this.handling = extensive
      ? r.histogramVec({
          name: 'grpc_server_handling_seconds',
          help: 'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.',
          labelNames,
          buckets: GRPC_HANDLING_BUCKETS,
        })
      : null;
  }

  /**
   * The counters of one method, every status code's included, so each appears at 0 before its
   * first call (go-grpc-prometheus initialises them when a service is registered).
   */
  method(type: GrpcType, service: string, method: string): GrpcMethodMetrics {
    assert(service !== '' && method !== '', 'gRPC metrics need a service and a method name');
    return {
      started: this.started.labels(type, service, method),
      received: this.received.labels(type, service, method),
      sent: this.sent.labels(type, service, method),
      handled: GRPC_CODE_NAMES.map((code) => this.handled.labels(type, service, method, code)),
      handlingSeconds: this.handling === null ? null : this.handling.labels(type, service, method),
    };
  }
}
