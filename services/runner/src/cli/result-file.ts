/**
 * The run's result as one small JSON object, written where `NES_RESULT_FILE` points when nes-run
 * exits. In a Kubernetes pod that is the container's termination message (`/dev/termination-log`),
 * which the kubelet keeps after the pod's logs are gone and truncates at 4096 bytes: the object is
 * kept under that limit by shortening the free-text fields first, never by cutting the JSON.
 * Text fields are redacted by the caller like every log line; no parameter values are included.
 */
import { writeFileSync } from 'node:fs';
import type { FailureClass, RunError, RunStatus } from '../execution-types.ts';
import {
  EXIT_CANCELLED,
  EXIT_CELL_ERROR,
  EXIT_INFRA,
  EXIT_KERNEL_DIED,
  EXIT_OOM,
  EXIT_SOURCE,
  EXIT_SUCCEEDED,
  EXIT_TIMEOUT,
  EXIT_USAGE,
} from './exit-codes.ts';

/** The variable naming the file. */
export const RESULT_FILE_ENV = 'NES_RESULT_FILE';
/** Kubernetes keeps at most this many bytes of a termination message. */
export const RESULT_FILE_LIMIT = 4096;
const EVALUE_LIMIT = 1024;

export interface RunnerResult {
  /** Format version of this object. */
  v: 1;
  status: RunStatus;
  class: FailureClass | null;
  ename: string | null;
  evalue: string | null;
  cellIndex: number | null;
  /** The failed cell as its author counts it (RunError.cellNumber). */
  cellNumber?: number | null;
  cellsDone: number | null;
  cellsTotal: number | null;
  outputUri: string | null;
  exitCode: number;
}

/** What nes-run learned about the run before exiting (any of it may be missing). */
export interface ResultFacts {
  status?: RunStatus;
  error?: RunError | null;
  cellsDone?: number;
  cellsTotal?: number;
  outputUri?: string | null;
  /** The one-line message of an error that ended nes-run early (usage, source). */
  message?: string;
}

const STATUS_BY_EXIT: Record<number, RunStatus> = {
  [EXIT_SUCCEEDED]: 'succeeded',
  [EXIT_TIMEOUT]: 'timed_out',
  [EXIT_CANCELLED]: 'cancelled',
};

const CLASS_BY_EXIT: Record<number, FailureClass> = {
  [EXIT_CELL_ERROR]: 'cell_error',
  [EXIT_USAGE]: 'infra',
  [EXIT_SOURCE]: 'source',
  [EXIT_TIMEOUT]: 'timeout',
  [EXIT_KERNEL_DIED]: 'kernel_died',
  [EXIT_OOM]: 'oom',
  [EXIT_INFRA]: 'infra',
  [EXIT_CANCELLED]: 'cancelled',
};

const ENAME_BY_EXIT: Record<number, string> = {
  [EXIT_USAGE]: 'UsageError',
  [EXIT_SOURCE]: 'SourceError',
  [EXIT_INFRA]: 'InfraError',
};

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
        : (STATUS_BY_EXIT[exitCode] ?? 'failed');
  const failed = status !== 'succeeded';
  const error = failed ? (facts.error ?? null) : null;
  const evalue = error?.evalue ?? (failed ? (facts.message ?? null) : null);
  return {
    v: 1,
    status,
    class: error?.class ?? (failed ? (CLASS_BY_EXIT[exitCode] ?? 'infra') : null),
    ename: error?.ename ?? (failed ? (ENAME_BY_EXIT[exitCode] ?? null) : null),
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

/** The JSON text, never over RESULT_FILE_LIMIT bytes. */
export function formatResult(result: RunnerResult): string {
  let shaped: RunnerResult = { ...result, evalue: shorten(result.evalue, EVALUE_LIMIT) };
  // Multi-byte text can still overflow: halve the free text until it fits.
  for (let chars = EVALUE_LIMIT; ; chars = Math.floor(chars / 2)) {
    const text = JSON.stringify(shaped);
    if (Buffer.byteLength(text) <= RESULT_FILE_LIMIT) return text;
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
 * Writes the result to `path`. Never throws: a result that cannot be written must not change
 * the run's exit code (the executor then judges the run by its exit code alone).
 */
export function writeResultFile(path: string, result: RunnerResult): void {
  try {
    writeFileSync(path, formatResult(result));
  } catch (error) {
    process.stderr.write(
      `nes-run: warning: cannot write the result to ${RESULT_FILE_ENV}=${path}: ${(error as Error).message}\n`,
    );
  }
}
