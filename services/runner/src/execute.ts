/**
 * executeNotebook: run every cell of a parameterized notebook on a Jupyter kernel and write the
 * result the way papermill would, faster and with clear failure classes.
 *
 * The steps, in order: prepare the notebook (papermill's metadata, all cells pending) and save
 * it; get a Jupyter Server (a private one, or the caller's); start the kernel; run the cells in
 * order, stopping at the first failure; then, whatever happened, finish the metadata, add
 * papermill's error banner, save the notebook (retried), shut the kernel and server down, and
 * only then return the result.
 */
import { relative, resolve } from 'node:path';
import type { KernelMessage } from '@jupyterlab/services';
import {
  type Cell,
  type CodeCell,
  INJECTED_PARAMETERS_TAG,
  type JsonObject,
  type Notebook,
} from '@nes/notebook';
import { Autosaver, errorMessage, isoNow, resolveAutosavePolicy } from './autosave.ts';
import { type CellOutcome, executeCode, requestCell } from './cell-execution.ts';
import type {
  ExecuteOptions,
  ExecuteResult,
  FailureClass,
  JupyterServerTarget,
  RunEvent,
  RunFailure,
  RunOutcome,
  RunSummary,
} from './execution-types.ts';
import { normalizeBaseUrl, type ServerEndpoint } from './jupyter-api.ts';
import {
  locateJupyterServer,
  type PrivateJupyterServer,
  startJupyterServer,
} from './jupyter-server.ts';
import {
  type ExecuteRequest,
  type KernelClient,
  KernelNotFoundError,
  NoSuchKernelError,
} from './kernel-client.ts';
import { endedByNesExit, recordExit } from './nes-exit.ts';
import { oomKilledSince, readOomKillCount } from './oom.ts';
import { OutputBudget, resolveOutputLimits } from './output-limits.ts';
import { OutputCollector } from './outputs.ts';
import {
  markCellComplete,
  markCellFailed,
  markCellRunning,
  markNotebookComplete,
  nowMicros,
  startNotebook,
  withErrorBanner,
} from './papermill.ts';
import { quietServicesDebug } from './quiet-console.ts';

export const DEFAULT_START_TIMEOUT_MS = 60_000;

/**
 * How many cells are sent ahead of the one running, to a kernel with the request gate: the
 * kernel then goes from one cell to the next without waiting for the runner (500 trivial cells,
 * side by side: 3.2 -> 2.7 s). A cell that fails, or a stop, aborts the ones sent ahead in the
 * kernel (request-gate.ts), so what runs is exactly what would run one cell at a time.
 */
const CELLS_SENT_AHEAD = 8;

/** A failure that ends the run, with its class. */
class RunFailureError extends Error {
  readonly failure: RunFailure;
  constructor(failure: RunFailure) {
    super(`${failure.ename}: ${failure.evalue}`);
    this.failure = failure;
  }
}

/**
 * The author's number of the cell at `index`: its position among the notebook's own code cells
 * (the injected parameters cell is papermill's, not the author's, so it is not counted).
 */
function authorCellNumber(cells: readonly Cell[], index: number): number | null {
  const target = cells[index];
  if (target?.cell_type !== 'code' || isInjected(target)) return null;
  let number = 0;
  for (let i = 0; i <= index; i++) {
    const cell = cells[i];
    if (cell?.cell_type === 'code' && !isInjected(cell)) number += 1;
  }
  return number;
}

function isInjected(cell: Cell): boolean {
  const tags = (cell.metadata as { tags?: unknown }).tags;
  return Array.isArray(tags) && tags.includes(INJECTED_PARAMETERS_TAG);
}

function failure(
  cls: FailureClass,
  ename: string,
  evalue: string,
  cellIndex: number | null = null,
): RunFailure {
  return { class: cls, ename, evalue, cellIndex };
}

const STATUS_BY_CLASS: Record<FailureClass, RunOutcome> = {
  cell_error: 'failed',
  timeout: 'timed_out',
  kernel_died: 'failed',
  oom: 'failed',
  cancelled: 'cancelled',
  source: 'failed',
  infra: 'failed',
};

export async function executeNotebook(options: ExecuteOptions): Promise<ExecuteResult> {
  const restoreConsole = quietServicesDebug();
  try {
    return await new NotebookRun(options).run();
  } finally {
    restoreConsole();
  }
}

class NotebookRun {
  readonly #options: ExecuteOptions;
  readonly #startedAt = performance.now();
  readonly #startMicros = nowMicros();
  #nb: Notebook;
  readonly #autosaver: Autosaver;
  readonly #collector: OutputCollector;
  /** Aborted when the run must stop: cancelled by the caller, or past its deadline. */
  readonly #stop = new AbortController();
  #stopReason: 'cancelled' | 'deadline' | null = null;
  #deadlineTimer: NodeJS.Timeout | null = null;
  #cellsTotal: number;
  #cellsDone = 0;
  #currentMsgId: string | null = null;
  #currentCell: CodeCell | null = null;
  #kernel: KernelClient | null = null;
  /** Requests sent ahead, by cell index, in order; and their IOPub messages until their turn. */
  readonly #ahead = new Map<number, ExecuteRequest>();
  readonly #aheadMessages = new Map<string, KernelMessage.IIOPubMessage[]>();
  /** The last cell index considered for sending ahead. */
  #aheadThrough = -1;
  #onAheadBegan: ((msgId: string) => void) | null = null;
  /** The run's one interrupt (a timeout or a stop ends the run). */
  #interrupted: Promise<void> | null = null;
  /** The cell that called nes.exit(): the run ended there, successfully. */
  #exitCellIndex: number | null = null;

  constructor(options: ExecuteOptions) {
    this.#options = options;
    this.#nb = startNotebook(options.notebook, this.#startMicros);
    this.#cellsTotal = this.#nb.cells.filter((cell) => cell.cell_type === 'code').length;
    this.#autosaver = new Autosaver({
      sink: options.sink,
      policy: resolveAutosavePolicy(options.autosave),
      snapshot: () => snapshotNotebook(this.#nb),
      emit: (event) => this.#emit(event),
    });
    this.#collector = new OutputCollector(
      new OutputBudget(resolveOutputLimits(options.limits)),
      options.onOutputText,
      options.onOutputPlainText,
    );
  }

  #emit(event: RunEvent): void {
    try {
      this.#options.onEvent?.(event);
    } catch {
      // An observer must not break the run.
    }
  }

  #boundary(phase: 'start' | 'end', cellIndex: number): void {
    try {
      this.#options.onCellBoundary?.(phase, cellIndex);
    } catch {
      // An observer must not break the run.
    }
  }

  #log(level: 'info' | 'warn' | 'error', message: string): void {
    this.#emit({ type: 'log', time: isoNow(), level, message });
  }

  #armStops(): void {
    const { signal, deadlineMs } = this.#options;
    const stop = (reason: 'cancelled' | 'deadline') => {
      if (this.#stopReason) return;
      this.#stopReason = reason;
      // First: no cell sent ahead may begin from now on.
      this.#kernel?.closeGate?.();
      this.#stop.abort(reason);
    };
    if (signal) {
      if (signal.aborted) stop('cancelled');
      else signal.addEventListener('abort', () => stop('cancelled'), { once: true });
    }
    if (deadlineMs !== undefined) {
      this.#deadlineTimer = setTimeout(() => stop('deadline'), Math.max(0, deadlineMs));
      this.#deadlineTimer.unref();
    }
  }

  #stopFailure(cellIndex: number | null): RunFailure {
    if (this.#stopReason === 'deadline') {
      return failure(
        'timeout',
        'DeadlineExceeded',
        `The run exceeded its deadline of ${limitText(this.#options)} s`,
        cellIndex,
      );
    }
    return failure('cancelled', 'Cancelled', 'The run was cancelled', cellIndex);
  }

  async run(): Promise<ExecuteResult> {
    this.#armStops();
    let error: RunFailure | null = null;
    let session: KernelClient | null = null;
    let server: PrivateJupyterServer | null = null;
    try {
      const kernelName = this.#kernelName();
      this.#autosaver.saveStart();
      this.#stop.signal.throwIfAborted();
      const started = await this.#startKernel(
        kernelName,
        (s) => {
          session = s;
        },
        (s) => {
          server = s;
        },
      );
      session = started;
      this.#emit({
        type: 'started',
        time: isoNow(),
        kernel: kernelName,
        cellsTotal: this.#cellsTotal,
      });
      error = await this.#runCells(started);
    } catch (caught) {
      error = this.#startFailure(caught);
    } finally {
      if (this.#deadlineTimer) clearTimeout(this.#deadlineTimer);
    }
    // The kernel is stopped while the notebook is saved (the kernel's own exit takes a good part
    // of a short run; papermill too stops it before its last write). The kernel first: a server
    // stopped while it restarts a dead kernel waits out its grace.
    const stopped = (async () => {
      await (session as KernelClient | null)?.shutdown();
      await (server as PrivateJupyterServer | null)?.stop();
    })().then(
      () => null,
      (stopError: unknown) => ({ stopError }),
    );
    error = await this.#finish(error);
    const stopFailed = await stopped;
    if (stopFailed) throw stopFailed.stopError;
    const summary: RunSummary = {
      status: error ? STATUS_BY_CLASS[error.class] : 'succeeded',
      error,
      cellsTotal: this.#cellsTotal,
      cellsDone: this.#cellsDone,
      durationMs: Math.round(performance.now() - this.#startedAt),
      saves: this.#autosaver.saves,
    };
    this.#emit({ type: 'finished', time: isoNow(), summary });
    return { ...summary, notebook: this.#nb };
  }

  #kernelName(): string {
    const name = this.#options.kernelName ?? this.#nb.metadata.kernelspec?.name;
    if (!name) {
      throw new RunFailureError(
        failure(
          'source',
          'NoKernelName',
          'The notebook has no metadata.kernelspec.name and no kernel name was given',
        ),
      );
    }
    return name;
  }

  async #startKernel(
    kernelName: string,
    onKernel: (kernel: KernelClient) => void,
    onServer: (server: PrivateJupyterServer) => void,
  ): Promise<KernelClient> {
    const timeoutMs = this.#options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    const startTimeout = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([this.#stop.signal, startTimeout]);
    try {
      if (this.#options.jupyter?.url) return await this.#onServer(kernelName, signal);
      // A kernel the caller started for this run (nes-run starts it while it prepares).
      const given = await this.#options.kernel;
      if (given) {
        onKernel(given);
        return await this.#withLanguageInfo(given);
      }
      const t0 = performance.now();
      const cwd = resolve(this.#options.cwd ?? process.cwd());
      const { LocalKernel, ProvisionerRequiredError } = await import('./local-kernel.ts');
      let kernel: KernelClient;
      try {
        kernel = await LocalKernel.start({
          kernelName,
          cwd,
          binDir: locateJupyterServer().binDir,
          ...(this.#options.env ? { env: this.#options.env } : {}),
          signal,
        });
      } catch (error) {
        if (!(error instanceof ProvisionerRequiredError)) throw error;
        return await this.#onPrivateServer(kernelName, timeoutMs, signal, onKernel, onServer);
      }
      onKernel(kernel);
      this.#log('info', `Kernel ${kernelName} ready in ${Math.round(performance.now() - t0)} ms`);
      return await this.#withLanguageInfo(kernel);
    } catch (error) {
      if (startTimeout.aborted && !this.#stopReason) {
        throw new RunFailureError(
          failure('infra', 'StartTimeout', `The kernel was not ready within ${timeoutMs / 1000} s`),
        );
      }
      throw error;
    }
  }

  /**
   * A kernelspec that starts through a jupyter_client provisioner (Python code): on a private
   * Jupyter Server, stopped when the run ends.
   */
  async #onPrivateServer(
    kernelName: string,
    timeoutMs: number,
    signal: AbortSignal,
    onKernel: (kernel: KernelClient) => void,
    onServer: (server: PrivateJupyterServer) => void,
  ): Promise<KernelClient> {
    const t0 = performance.now();
    const server = await startJupyterServer({
      timeoutMs,
      signal,
      ...(this.#options.env ? { env: this.#options.env } : {}),
    });
    onServer(server);
    this.#log('info', `Jupyter Server ready in ${Math.round(performance.now() - t0)} ms`);
    const { KernelSession } = await import('./kernel-session.ts');
    const cwd = resolve(this.#options.cwd ?? process.cwd());
    const t1 = performance.now();
    const session = await KernelSession.start(server, {
      kernelName,
      path: relative(server.rootDir, cwd),
      signal,
    });
    onKernel(session);
    this.#log('info', `Kernel ${kernelName} ready in ${Math.round(performance.now() - t1)} ms`);
    return await this.#withLanguageInfo(session);
  }

  /** A kernel on the caller's Jupyter Server: started there, or a pre-started one taken over. */
  async #onServer(kernelName: string, signal: AbortSignal): Promise<KernelClient> {
    const target = this.#options.jupyter as JupyterServerTarget & { url: string };
    const { KernelSession } = await import('./kernel-session.ts');
    const endpoint: ServerEndpoint = {
      url: normalizeBaseUrl(target.url),
      token: target.token ?? '',
    };
    if (this.#options.env) {
      this.#log('warn', 'env is ignored with an existing Jupyter Server: its kernels keep theirs');
    }
    if (target.kernelId) {
      const t1 = performance.now();
      const session = await KernelSession.attach(endpoint, target.kernelId, {
        kernelName,
        signal,
      });
      this.#log(
        'info',
        `Kernel ${kernelName} (${target.kernelId}) attached in ${Math.round(performance.now() - t1)} ms`,
      );
      return await this.#withLanguageInfo(session);
    }
    const cwd = resolve(this.#options.cwd ?? process.cwd());
    const rootDir = target.rootDir;
    const path = rootDir ? relative(rootDir, cwd) : (this.#options.cwd ?? '');
    if (path.startsWith('..')) {
      throw new RunFailureError(
        failure('infra', 'BadWorkingDirectory', `${cwd} is outside the server root ${rootDir}`),
      );
    }
    const t1 = performance.now();
    const session = await KernelSession.start(endpoint, { kernelName, path, signal });
    this.#log('info', `Kernel ${kernelName} ready in ${Math.round(performance.now() - t1)} ms`);
    return await this.#withLanguageInfo(session);
  }

  async #withLanguageInfo(session: KernelClient): Promise<KernelClient> {
    const info = await session.info;
    const languageInfo = info.language_info as unknown as JsonObject | undefined;
    if (languageInfo) this.#nb.metadata.language_info = { name: '', ...languageInfo };
    return session;
  }

  #startFailure(caught: unknown): RunFailure {
    if (caught instanceof RunFailureError) return caught.failure;
    if (this.#stopReason) return this.#stopFailure(null);
    if (caught instanceof NoSuchKernelError) {
      return failure('source', 'NoSuchKernel', caught.message);
    }
    if (caught instanceof KernelNotFoundError) {
      return failure('infra', 'KernelNotFound', caught.message);
    }
    const name = caught instanceof Error ? caught.name : 'Error';
    return failure('infra', name, errorMessage(caught));
  }

  async #runCells(session: KernelClient): Promise<RunFailure | null> {
    this.#kernel = session;
    if (this.#stopReason) session.closeGate?.();
    try {
      return await this.#runCellsInOrder(session);
    } finally {
      // What was sent ahead and not reached was aborted in the kernel: its messages are dropped.
      this.#ahead.clear();
      this.#aheadMessages.clear();
    }
  }

  async #runCellsInOrder(session: KernelClient): Promise<RunFailure | null> {
    const oomBaseline = readOomKillCount();
    session.onIOPub((msg) => this.#route(msg));
    let codeCellNumber = 0;
    for (let index = 0; index < this.#nb.cells.length; index += 1) {
      // Stopped: a cell sent ahead that the kernel began before the stop still has its turn (it
      // is interrupted, or it had finished); one it did not begin never will (the gate closed).
      if (this.#stopReason && !(await this.#aheadBegan(session))) {
        return this.#stopFailure(null);
      }
      const cell = this.#nb.cells[index] as Cell;
      const start = nowMicros();
      this.#boundary('start', index);
      markCellRunning(cell, start);
      this.#autosaver.touch();
      if (cell.cell_type !== 'code') {
        markCellComplete(cell, start, nowMicros());
        this.#boundary('end', index);
        continue;
      }
      codeCellNumber += 1;
      this.#emit({ type: 'cell_started', time: isoNow(), cellIndex: index, codeCellNumber });
      this.#autosaver.cellStarted();
      const error = cell.source.trim()
        ? await this.#runCodeCell(session, cell, index, oomBaseline)
        : undefined; // nbclient skips blank cells
      const end = nowMicros();
      markCellComplete(cell, start, end);
      this.#boundary('end', index);
      this.#cellsDone += 1;
      this.#autosaver.touch();
      this.#emit({
        type: 'cell_finished',
        time: isoNow(),
        cellIndex: index,
        status: cell.metadata.papermill?.status === 'failed' ? 'failed' : 'completed',
        durationMs: (end - start) / 1000,
      });
      this.#autosaver.cellCompleted();
      if (error !== undefined) return error;
    }
    return null;
  }

  /** Returns undefined to go on, or the run's end: null (success) or its failure. */
  async #runCodeCell(
    session: KernelClient,
    cell: CodeCell,
    index: number,
    oomBaseline: number | null,
  ): Promise<RunFailure | null | undefined> {
    const allowErrors = allowsErrors(cell);
    cell.metadata.execution = {};
    this.#collector.beginCell(cell);
    this.#currentCell = cell;
    const sent = this.#ahead.get(index);
    this.#ahead.delete(index);
    const outcome: CellOutcome = await executeCode(session, cell.source, {
      allowErrors,
      timeoutMs: this.#options.cellTimeoutMs,
      stop: this.#stop.signal,
      sent,
      interrupt: () => {
        this.#interrupted ??= session.interrupt();
        return this.#interrupted;
      },
      onRequest: (msgId) => {
        this.#currentMsgId = msgId;
        const early = this.#aheadMessages.get(msgId);
        this.#aheadMessages.delete(msgId);
        for (const msg of early ?? []) this.#route(msg);
        this.#sendAhead(session, index);
      },
    });
    this.#currentMsgId = null;
    this.#currentCell = null;
    this.#autosaver.touch();
    // The kernel died after this cell's reply, with cells sent ahead: it was in a later one (it
    // went on to the next cell at once). This cell completed; the death is the next cell's.
    if (outcome.kind === 'died' && outcome.reply && this.#ahead.size > 0) {
      return this.#replied(cell, index, outcome.reply, allowErrors);
    }

    switch (outcome.kind) {
      case 'reply':
        return this.#replied(cell, index, outcome.reply, allowErrors);
      case 'died': {
        const oom = oomKilledSince(oomBaseline);
        const detail = oom ? `${outcome.death.detail} (out of memory)` : outcome.death.detail;
        const ename =
          outcome.death.reason === 'connection_lost' ? 'KernelConnectionLost' : 'DeadKernelError';
        this.#collector.addError(cell, ename, detail, [`${ename}: ${detail}`]);
        markCellFailed(this.#nb, cell);
        const cls: FailureClass =
          outcome.death.reason === 'connection_lost' ? 'infra' : oom ? 'oom' : 'kernel_died';
        return failure(cls, ename, detail, index);
      }
      case 'lost': {
        const evalue = `Lost the execution of this cell: ${outcome.message}`;
        this.#collector.addError(cell, 'KernelConnectionLost', evalue, [evalue]);
        markCellFailed(this.#nb, cell);
        return failure('infra', 'KernelConnectionLost', evalue, index);
      }
      case 'timeout': {
        const seconds = (this.#options.cellTimeoutMs ?? 0) / 1000;
        const evalue = `Cell execution timed out after ${seconds} s`;
        this.#collector.addError(cell, 'CellTimeoutError', evalue, [`CellTimeoutError: ${evalue}`]);
        markCellFailed(this.#nb, cell);
        return failure('timeout', 'CellTimeoutError', evalue, index);
      }
      case 'stopped': {
        const stopped = this.#stopFailure(index);
        this.#collector.addError(cell, stopped.ename, stopped.evalue, [
          `${stopped.ename}: ${stopped.evalue}`,
        ]);
        markCellFailed(this.#nb, cell);
        return stopped;
      }
    }
  }

  #replied(
    cell: CodeCell,
    index: number,
    reply: KernelMessage.IExecuteReplyMsg,
    allowErrors: boolean,
  ): RunFailure | null | undefined {
    recordTiming(cell, 'shell.execute_reply', reply.header.date);
    const content = reply.content;
    if (content.execution_count !== undefined) cell.execution_count = content.execution_count;
    if (content.status === 'ok') return undefined;
    const ename = content.status === 'error' ? content.ename : 'ExecutionAborted';
    const evalue = content.status === 'error' ? content.evalue : 'The kernel aborted the cell';
    if (allowErrors) return undefined;
    if (endedByNesExit(cell, ename)) {
      this.#exitCellIndex = index;
      return null;
    }
    markCellFailed(this.#nb, cell);
    // papermill: SystemExit() and SystemExit(0) stop the notebook without failing the run.
    if (ename === 'SystemExit' && (evalue === '' || evalue === '0')) return null;
    return failure('cell_error', ename, evalue, index);
  }

  /**
   * Sends the requests of the next cells to run, up to CELLS_SENT_AHEAD past `index`, to a kernel
   * with the request gate. Not with a cell timeout: a timeout's interrupt must reach the cell
   * that timed out, never the next one, already begun.
   */
  #sendAhead(session: KernelClient, index: number): void {
    if (session.gated !== true || this.#options.cellTimeoutMs !== undefined) return;
    if (this.#stopReason || session.death) return;
    this.#aheadThrough = Math.max(this.#aheadThrough, index);
    while (this.#ahead.size < CELLS_SENT_AHEAD && this.#aheadThrough < this.#nb.cells.length - 1) {
      this.#aheadThrough += 1;
      const cell = this.#nb.cells[this.#aheadThrough] as Cell;
      if (cell.cell_type !== 'code' || !cell.source.trim()) continue;
      const request = requestCell(session, cell.source, allowsErrors(cell), true);
      this.#aheadMessages.set(request.msgId, []);
      this.#ahead.set(this.#aheadThrough, request);
    }
  }

  /**
   * After a stop: whether the next cell sent ahead began before the gate closed (its
   * execute_input came, or its reply is not `aborted`).
   */
  async #aheadBegan(session: KernelClient): Promise<boolean> {
    const first = this.#ahead.values().next();
    if (first.done) return false;
    const request = first.value;
    const began = new Promise<boolean>((resolve) => {
      if (this.#aheadMessages.get(request.msgId)?.some(isExecuteInput)) resolve(true);
      this.#onAheadBegan = (msgId) => {
        if (msgId === request.msgId) resolve(true);
      };
    });
    try {
      // Its reply says it (not its completion, which waits for an idle status IOPub may drop).
      const replied = new Promise<boolean>((resolve) => {
        request.onReply((reply) => resolve(reply.content.status !== 'aborted'));
      });
      return await Promise.race([began, replied, session.died.then(() => false)]);
    } finally {
      this.#onAheadBegan = null;
    }
  }

  #route(msg: KernelMessage.IIOPubMessage): void {
    const parent = (msg.parent_header as Partial<KernelMessage.IHeader>).msg_id;
    const early = parent === undefined ? undefined : this.#aheadMessages.get(parent);
    if (early) {
      // A cell sent ahead, begun before the run reached it: kept, in order, for its turn.
      early.push(msg);
      if (isExecuteInput(msg)) this.#onAheadBegan?.(parent as string);
      return;
    }
    const cell = this.#currentCell;
    if (cell && parent !== undefined && parent === this.#currentMsgId) {
      if (msg.header.msg_type === 'status') {
        const state = (msg.content as { execution_state?: string }).execution_state;
        if (state === 'busy') recordTiming(cell, 'iopub.status.busy', msg.header.date);
        if (state === 'idle') recordTiming(cell, 'iopub.status.idle', msg.header.date);
        return;
      }
      if (msg.header.msg_type === 'execute_input') {
        recordTiming(cell, 'iopub.execute_input', msg.header.date);
      }
      this.#collector.handle(msg);
      this.#autosaver.touch();
    } else if (msg.header.msg_type === 'update_display_data') {
      this.#collector.handleDisplayUpdate(msg);
      this.#autosaver.touch();
    }
  }

  /** Finishes the notebook whatever happened, saves it, and returns the run's final error. */
  async #finish(error: RunFailure | null): Promise<RunFailure | null> {
    markNotebookComplete(this.#nb, this.#startMicros, nowMicros(), this.#exitCellIndex);
    if (this.#exitCellIndex !== null) recordExit(this.#nb, this.#exitCellIndex);
    let result = error;
    if (error && error.cellIndex !== null) {
      error = { ...error, cellNumber: authorCellNumber(this.#nb.cells, error.cellIndex) };
      result = error;
    }
    if (error && error.cellIndex !== null && error.class !== 'cancelled') {
      const failed = this.#nb.cells[error.cellIndex];
      const count = failed?.cell_type === 'code' ? failed.execution_count : null;
      const marked = withErrorBanner(this.#nb, error.cellIndex, count);
      this.#nb = marked.notebook;
      result = { ...error, cellIndex: marked.cellIndex };
    }
    const saveError = await this.#autosaver.saveFinal(this.#nb);
    if (saveError) {
      this.#log(
        'error',
        `Could not save the notebook to ${this.#options.sink.uri}: ${saveError.message}`,
      );
      if (!result) return failure('infra', 'SaveFailed', saveError.message);
    }
    return result;
  }
}

function allowsErrors(cell: CodeCell): boolean {
  return cell.metadata.tags?.includes('raises-exception') ?? false;
}

function isExecuteInput(msg: KernelMessage.IIOPubMessage): boolean {
  return msg.header.msg_type === 'execute_input';
}

/** nbclient's `record_timing`: kernel message times, as `%Y-%m-%dT%H:%M:%S.%fZ`. */
function recordTiming(cell: CodeCell, key: string, date: string | undefined): void {
  const execution = (cell.metadata.execution ?? {}) as JsonObject;
  execution[key] = nbclientTimestamp(date);
  cell.metadata.execution = execution;
}

export function nbclientTimestamp(date: string | undefined): string {
  const match =
    date && /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(?:Z|[+-]00:?00)?$/.exec(date);
  if (match) return `${match[1]}.${(match[2] ?? '').padEnd(6, '0').slice(0, 6)}Z`;
  return `${new Date().toISOString().slice(0, 23)}000Z`;
}

/**
 * A copy that later mutations of the run cannot reach. Strings are immutable and shared, so this
 * costs a few objects per cell and output, whatever the outputs weigh.
 */
export function snapshotNotebook(nb: Notebook): Notebook {
  const copyMetadata = <T extends object>(metadata: T): T => {
    const copy = { ...metadata } as Record<string, unknown>;
    for (const key of ['papermill', 'execution']) {
      const value = copy[key];
      if (value && typeof value === 'object') copy[key] = { ...value };
    }
    return copy as T;
  };
  return {
    ...nb,
    metadata: copyMetadata(nb.metadata),
    cells: nb.cells.map((cell): Cell => {
      if (cell.cell_type !== 'code') return { ...cell, metadata: copyMetadata(cell.metadata) };
      return {
        ...cell,
        metadata: copyMetadata(cell.metadata),
        outputs: cell.outputs.map((output) => ({ ...output })),
      };
    }),
  };
}

/** The limit in seconds as people write it: the user's own value, else the deadline to 0.1 s. */
function limitText(options: ExecuteOptions): string {
  if (options.timeLimitSeconds !== undefined) return String(options.timeLimitSeconds);
  return String(Math.round((options.deadlineMs ?? 0) / 100) / 10);
}
