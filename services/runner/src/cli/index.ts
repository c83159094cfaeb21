/**
 * The parts of nes-run that other command lines reuse (`nes submit` parses parameters and maps run
 * outcomes to exit codes exactly as nes-run does). Imported as `@nes/runner/cli`.
 */
export { parameterPairs } from './args.ts';
export * from './exit-codes.ts';
export { collectParameters } from './params.ts';
