/**
 * Robustness checkers: the linearizability checker over a model of etcd and the watch
 * validators. Pure functions over recorded histories; no server involved.
 */
export * from './history';
export { apply, step, initialState, possibleRevision, inRange, kvEqual, formatKv, writesOf, responseMismatch, MODEL_ERRORS, type ModelState, type Applied, type InitialStateOptions } from './model';
export { checkLinearizable, describeRequest, type CheckOptions, type CheckResult, type CheckOk, type CheckIllegal, type CheckUnknown } from './linearize';
export { kv, req, res, op, lost } from './builders';
export { validateWatches, mergeWatchEvents, type WatchEvent, type WatchResponse, type WatchRecord, type WatchProperty, type WatchViolation } from './watch';
export { randomHistory, type RandomHistoryOptions, type RandomHistory } from './random-history';
