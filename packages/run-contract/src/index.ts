/**
 * @nes/run-contract: how a run ends, the one definition every part of NES reads and writes
 * (the runner, its worker, both executors, the HTTP client, the CLIs). Pure: no I/O.
 */
export * from './exit-codes.ts';
export * from './failure-from-exit.ts';
export * from './outcome.ts';
export * from './runner-result.ts';
