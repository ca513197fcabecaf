/** Where the WAL and the snapshotter report what they did (repairs, new segments, skipped files). */
export interface WalLogger {
  info(msg: string): void;
  warn(msg: string): void;
}

/** A logger that drops everything (the default). */
export const silentWalLogger: WalLogger = { info: () => undefined, warn: () => undefined };
