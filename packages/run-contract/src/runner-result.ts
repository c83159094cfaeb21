/**
 * The runner's result, the one message that crosses from a finished runner to whoever launched it:
 *
 * - `WorkerResult`, the last IPC message of a runner worker to the local executor;
 * - `RunnerResult`, the JSON nes-run writes where `NES_RESULT_FILE` points when it exits. In a
 *   Kubernetes pod that is the container's termination message (`/dev/termination-log`), which the
 *   kubelet keeps after the pod's logs are gone and truncates at 4096 bytes: `formatResult` keeps
 *   the object under that limit by shortening the free-text fields, never by cutting the JSON.
 *   The Kubernetes executor reads it back with `parseRunnerResult`.
 */
import { EXIT_SUCCEEDED, exitMeaning, outcomeForExitCode } from './exit-codes.ts';
import type { FailureClass, RunFailure, RunOutcome } from './outcome.ts';

/** What a runner worker reports over IPC when its run ends (then it exits with nes-run's code). */
export interface WorkerResult {
  status: RunOutcome;
  error: RunFailure | null;
  cellsDone: number;
  cellsTotal: number;
  /** Where the output notebook is (null when the run never got to write one). */
  outputUri: string | null;
  durationMs: number;
}

/** The variable naming the file nes-run writes its result to. */
export const RESULT_FILE_ENV = 'NES_RESULT_FILE';
/** Kubernetes keeps at most this many bytes of a termination message. */
export const RESULT_FILE_LIMIT = 4096;
const EVALUE_LIMIT = 1024;

/** The result message, format version 1. Text is redacted; no parameter values are included. */
export interface RunnerResult {
  /** Format version of this object. */
  v: 1;
  status: RunOutcome;
  class: FailureClass | null;
  ename: string | null;
  evalue: string | null;
  cellIndex: number | null;
  /** The failed cell as its author counts it (RunFailure.cellNumber). */
  cellNumber?: number | null;
  cellsDone: number | null;
  cellsTotal: number | null;
  outputUri: string | null;
  exitCode: number;
}

/** What nes-run learned about the run before exiting (any of it may be missing). */
export interface ResultFacts {
  status?: RunOutcome;
  error?: RunFailure | null;
  cellsDone?: number;
  cellsTotal?: number;
  outputUri?: string | null;
  /** The one-line message of an error that ended nes-run early (usage, source). */
  message?: string;
}

/** The result object for an exit code and what is known; text goes through `redact`. */
export function buildResult(
  exitCode: number,
  facts: ResultFacts,
  redact: (text: string) => string,
): RunnerResult {
  // The exit code wins over a status learned earlier (a run that succeeded but could not
  // write its record exits as infra).
  const status =
    exitCode === EXIT_SUCCEEDED
      ? (facts.status ?? 'succeeded')
      : facts.status !== undefined && facts.status !== 'succeeded'
        ? facts.status
        : outcomeForExitCode(exitCode);
  const failed = status !== 'succeeded';
  const error = failed ? (facts.error ?? null) : null;
  const meaning = failed ? exitMeaning(exitCode) : undefined;
  const evalue = error?.evalue ?? (failed ? (facts.message ?? null) : null);
  return {
    v: 1,
    status,
    class: error?.class ?? (failed ? (meaning?.class ?? 'infra') : null),
    ename: error?.ename ?? meaning?.ename ?? null,
    evalue: evalue === null ? null : redact(evalue),
    cellIndex: error?.cellIndex ?? null,
    cellNumber: error?.cellNumber ?? null,
    cellsDone: facts.cellsDone ?? null,
    cellsTotal: facts.cellsTotal ?? null,
    outputUri: facts.outputUri ?? null,
    exitCode,
  };
}

function shorten(text: string | null, chars: number): string | null {
  if (text === null || text.length <= chars) return text;
  return `${text.slice(0, Math.max(0, chars - 1))}…`;
}

const utf8 = new TextEncoder();

/** The JSON text, never over RESULT_FILE_LIMIT bytes. */
export function formatResult(result: RunnerResult): string {
  let shaped: RunnerResult = { ...result, evalue: shorten(result.evalue, EVALUE_LIMIT) };
  // Multi-byte text can still overflow: halve the free text until it fits.
  for (let chars = EVALUE_LIMIT; ; chars = Math.floor(chars / 2)) {
    const text = JSON.stringify(shaped);
    if (utf8.encode(text).byteLength <= RESULT_FILE_LIMIT) return text;
    shaped = {
      ...shaped,
      evalue: shorten(shaped.evalue, chars),
      ename: shorten(shaped.ename, chars),
      outputUri: shorten(shaped.outputUri, chars * 2),
    };
    if (chars === 0)
      return JSON.stringify({ ...shaped, evalue: null, ename: null, outputUri: null });
  }
}

/**
 * The runner's result read back from a termination message, or null when the message is not
 * one (a log tail the kubelet kept instead, or nothing). Every field is checked: the message
 * comes from a container the run's code shared.
 */
export function parseRunnerResult(
  message: string | undefined | null,
): Partial<RunnerResult> | null {
  if (!message?.trimStart().startsWith('{')) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  const raw = parsed as Record<string, unknown>;
  const text = (value: unknown) => (typeof value === 'string' ? value : null);
  const count = (value: unknown) => (typeof value === 'number' ? value : null);
  const out: Partial<RunnerResult> = {
    ename: text(raw.ename),
    evalue: text(raw.evalue),
    cellIndex: count(raw.cellIndex),
    cellNumber: count(raw.cellNumber),
    cellsDone: count(raw.cellsDone),
    cellsTotal: count(raw.cellsTotal),
    outputUri: text(raw.outputUri),
  };
  if (typeof raw.exitCode === 'number') out.exitCode = raw.exitCode;
  if (typeof raw.status === 'string') out.status = raw.status as RunOutcome;
  if (typeof raw.class === 'string') out.class = raw.class as FailureClass;
  return out;
}
