/**
 * Raft reports what it decides through an injected logger (raft itself does no I/O). Lines
 * are complete sentences without a trailing newline. Scenario tests record them as traces,
 * so their wording is part of the tested behaviour.
 */
export interface RaftLogger {
  /** Debug lines are built lazily: they fire per message on hot paths. */
  debug(msg: () => string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** Discards everything; the default when the config names no logger. */
export const silentLogger: RaftLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
