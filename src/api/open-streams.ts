/**
 * The long-lived streams a server holds open (watch and lease keep-alive streams). They never
 * finish on their own, so a graceful stop ends them: each registers a function that ends it
 * with a given error status.
 */
import type * as grpc from '@grpc/grpc-js';

/** The open long-lived streams of one gRPC server. */
export class OpenStreams {
  private readonly open = new Set<(err: grpc.ServiceError) => void>();

  /** Registers a stream; returns the function that unregisters it (call it when it closes). */
  add(end: (err: grpc.ServiceError) => void): () => void {
    this.open.add(end);
    return () => this.open.delete(end);
  }

  get size(): number {
    return this.open.size;
  }

  /** Ends every open stream with `err` (in registration order). */
  endAll(err: grpc.ServiceError): void {
    for (const end of [...this.open]) end(err);
    this.open.clear();
  }
}
