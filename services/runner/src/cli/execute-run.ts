/**
 * nes-run's execution step: the flags turned into the engine's options (deadline, autosave,
 * output caps, --log-output, --stdout-file/--stderr-file), SIGINT/SIGTERM turned into a cancel
 * that still saves the notebook (a second signal exits at once), and the engine's result turned
 * into an exit code.
 */
import { writeFileSync } from 'node:fs';
import type { Notebook } from '@nes/notebook';
import { EXIT_CANCELLED, EXIT_INFRA, exitCodeForOutcome } from '@nes/run-contract';
import type {
  ExecuteOptions,
  ExecuteResult,
  NotebookSink,
  RunFailure,
  RunSummary,
} from '../execution-types.ts';
import type { KernelClient } from '../kernel-client.ts';
import type { CliOptions } from './args.ts';
import { effectiveDeadlineMs } from './job-deadline.ts';
import type { Reporter } from './reporter.ts';
import { mark } from './timings.ts';

export async function execute(
  // timeoutSeconds is what is left of the limit; timeLimitSeconds the limit as given (messages).
  options: CliOptions & { timeLimitSeconds?: number | undefined },
  notebook: Notebook,
  sink: NotebookSink,
  kernelName: string | undefined,
  reporter: Reporter,
  redact: (text: string) => string,
  executeNotebook: (options: ExecuteOptions) => Promise<ExecuteResult>,
  earlyKernel: Promise<KernelClient | null> | null,
): Promise<Outcome> {
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      process.stderr.write(`\nnes-run: ${signal} again: exiting now\n`);
      process.exit(EXIT_CANCELLED);
    }
    reporter.log(
      'WARNING',
      `nes-run: ${signal}: cancelling, saving the notebook (send again to exit now)`,
    );
    controller.abort(new Error(`cancelled by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const files = outputFiles(options);
  // Only stdout: the notebook is written once, at the end (as papermill does).
  const onlyStdout = options.output === '-' && options.store === undefined;
  let finalSaveFailed = false;
  const executeOptions: ExecuteOptions = {
    notebook,
    sink,
    kernelName,
    cwd: options.cwd,
    startTimeoutMs: options.startTimeoutSeconds * 1000,
    cellTimeoutMs: seconds(options.executionTimeoutSeconds),
    deadlineMs: effectiveDeadlineMs(seconds(options.timeoutSeconds), process.env, Date.now()),
    ...(options.timeLimitSeconds !== undefined
      ? { timeLimitSeconds: options.timeLimitSeconds }
      : {}),
    autosave: {
      onCellComplete: options.requestSaveOnCellExecute && !onlyStdout,
      longCellEverySeconds: onlyStdout ? 0 : options.autosaveCellEverySeconds,
      ...(options.autosaveMinIntervalSeconds !== undefined
        ? { minIntervalMs: options.autosaveMinIntervalSeconds * 1000 }
        : {}),
    },
    limits: {
      ...(options.maxOutputBytes !== undefined ? { perOutputBytes: options.maxOutputBytes } : {}),
      ...(options.maxNotebookOutputBytes !== undefined
        ? { perNotebookBytes: options.maxNotebookOutputBytes }
        : {}),
    },
    signal: controller.signal,
    onEvent: (event) => {
      if (event.type === 'started') mark('running');
      if (event.type === 'saved' && event.reason === 'final') mark('saved');
      if (event.type === 'finished') mark('kernel stopped');
      if (event.type === 'save_failed' && event.reason === 'final') finalSaveFailed = true;
      reporter.event(event);
    },
    ...(options.jupyterUrl
      ? { jupyter: { url: options.jupyterUrl, token: options.jupyterToken } }
      : earlyKernel
        ? { kernel: earlyKernel }
        : {}),
    ...(options.logOutput || files.stdout || files.stderr
      ? {
          onOutputText: (text: string, stream: 'stdout' | 'stderr') => {
            if (options.logOutput) reporter.outputText(text, stream);
            files[stream]?.push(text);
          },
        }
      : {}),
    ...(options.logOutput
      ? {
          onOutputPlainText: (text: string) => reporter.outputText(text, 'stdout'),
          // papermill's engines.py: 'Executing Cell {:-<40}' and 'Ending Cell {:-<43}'.
          onCellBoundary: (phase: 'start' | 'end', cellIndex: number) => {
            const number = String(cellIndex + 1);
            reporter.log(
              'INFO',
              phase === 'start'
                ? `Executing Cell ${number.padEnd(40, '-')}`
                : `Ending Cell ${number.padEnd(43, '-')}`,
            );
          },
        }
      : {}),
  };
  let result: ExecuteResult;
  try {
    result = await executeNotebook(executeOptions);
  } catch (err) {
    const e = err as Error & { class?: string };
    reporter.log('ERROR', `nes-run: ${e.class ?? 'infra'}: ${redact(e.message)}`);
    const error: RunFailure = {
      class: 'infra',
      ename: e.name ?? 'Error',
      evalue: redact(e.message ?? String(err)),
      cellIndex: null,
    };
    return { code: EXIT_INFRA, summary: null, error, notebook: null, finalSaveFailed };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    files.flush();
  }
  const { notebook: finished, ...summary } = result;
  reporter.summary(summary, sink.uri);
  return {
    code: exitCodeForOutcome(summary),
    summary,
    error: summary.error,
    notebook: finished,
    finalSaveFailed,
  };
}

interface Outcome {
  code: number;
  summary: RunSummary | null;
  error: RunFailure | null;
  /** The notebook as finished (null when the run could not start). */
  notebook: Notebook | null;
  finalSaveFailed: boolean;
}

function seconds(value: number | undefined): number | undefined {
  return value === undefined ? undefined : Math.round(value * 1000);
}

/** --stdout-file / --stderr-file: the notebook's stream output, written as it comes. */
function outputFiles(options: CliOptions) {
  const chunks: { stdout?: string[]; stderr?: string[] } = {};
  const paths = { stdout: options.stdoutFile, stderr: options.stderrFile };
  for (const stream of ['stdout', 'stderr'] as const) {
    const path = paths[stream];
    if (path) {
      writeFileSync(path, '');
      chunks[stream] = [];
    }
  }
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    for (const stream of ['stdout', 'stderr'] as const) {
      const pending = chunks[stream];
      const path = paths[stream];
      if (pending && path && pending.length > 0) {
        writeFileSync(path, pending.join(''), { flag: 'a' });
        pending.length = 0;
      }
    }
  };
  if (chunks.stdout || chunks.stderr) {
    timer = setInterval(flush, 500);
    timer.unref();
  }
  return {
    stdout: chunks.stdout,
    stderr: chunks.stderr,
    flush: () => {
      if (timer) clearInterval(timer);
      flush();
    },
  };
}
