/**
 * Running one cell's code on the kernel and waiting for whichever comes first: the reply, the
 * kernel's death, the cell timeout, the run's deadline, or cancellation. For the last three the
 * kernel is interrupted and given a moment to report (its KeyboardInterrupt lands in the cell).
 */
import type { KernelMessage } from '@jupyterlab/services';
import type { ExecuteRequest, KernelClient, KernelDeath } from './kernel-client.ts';

export type CellOutcome =
  | { kind: 'reply'; reply: KernelMessage.IExecuteReplyMsg }
  /** `reply`: the cell's reply, when it came before the death (the cell itself completed). */
  | { kind: 'died'; death: KernelDeath; reply?: KernelMessage.IExecuteReplyMsg }
  | { kind: 'timeout' }
  | { kind: 'stopped' }
  | { kind: 'lost'; message: string };

interface ExecuteCodeOptions {
  /** The cell may raise (the `raises-exception` tag): do not abort queued requests. */
  allowErrors: boolean;
  timeoutMs?: number | undefined;
  /** Aborted when the run must stop (cancelled, or past its deadline). */
  stop: AbortSignal;
  /** Called synchronously with the execute request's msg_id, before any reply can arrive. */
  onRequest: (msgId: string) => void;
  /** The cell's request, when it was sent ahead (see execute.ts); else it is sent now. */
  sent?: ExecuteRequest | undefined;
  /** Interrupts the kernel (default: session.interrupt()). */
  interrupt?: () => Promise<void>;
}

/** The execute request of a cell: its code as nbclient sends it. */
export function requestCell(
  session: KernelClient,
  code: string,
  allowErrors: boolean,
  gated = false,
): ExecuteRequest {
  return session.requestExecute(
    {
      code,
      silent: false,
      store_history: true,
      // No front end can answer input(): the kernel raises at once instead of waiting forever.
      allow_stdin: false,
      stop_on_error: !allowErrors,
    },
    { gated },
  );
}

/** How long an interrupted kernel gets to finish the cell before the run moves on. */
const INTERRUPT_GRACE_MS = 3000;

/**
 * After the execute reply, how long to wait for the kernel's `idle` status on IOPub (which
 * closes the cell's output) before moving on without it. IOPub is a ZeroMQ PUB socket: past its
 * high-water mark (a cell emitting 100,000 displays faster than they are read) it drops
 * messages, the idle one included, and the request would never complete. nbclient waits the
 * same way (`iopub_timeout`, 4 s).
 */
export const IOPUB_IDLE_GRACE_MS = 4000;

export async function executeCode(
  session: KernelClient,
  code: string,
  options: ExecuteCodeOptions,
): Promise<CellOutcome> {
  // A cell sent ahead goes on: its reply may have come before the death (it completed).
  if (session.death && !options.sent) return { kind: 'died', death: session.death };
  const future = options.sent ?? requestCell(session, code, options.allowErrors);
  options.onRequest(future.msgId);

  const cleanups: Array<() => void> = [];
  const settled = future.done.then(
    (reply): CellOutcome => ({ kind: 'reply', reply }),
    (error: unknown): CellOutcome => ({
      kind: 'lost',
      message: error instanceof Error ? error.message : String(error),
    }),
  );
  let earlyReply: KernelMessage.IExecuteReplyMsg | undefined;
  const died = session.died.then(
    (death): CellOutcome =>
      earlyReply ? { kind: 'died', death, reply: earlyReply } : { kind: 'died', death },
  );
  const replied = new Promise<CellOutcome>((resolve) => {
    future.onReply((reply) => {
      earlyReply = reply;
      const timer = setTimeout(() => resolve({ kind: 'reply', reply }), IOPUB_IDLE_GRACE_MS);
      timer.unref();
      cleanups.push(() => clearTimeout(timer));
    });
  });
  const racers: Array<Promise<CellOutcome>> = [settled, died, replied];
  if (options.timeoutMs !== undefined) {
    const ms = options.timeoutMs;
    racers.push(
      new Promise((resolve) => {
        const timer = setTimeout(() => resolve({ kind: 'timeout' }), ms);
        cleanups.push(() => clearTimeout(timer));
      }),
    );
  }
  racers.push(
    new Promise((resolve) => {
      if (options.stop.aborted) return resolve({ kind: 'stopped' });
      const onStop = () => resolve({ kind: 'stopped' });
      options.stop.addEventListener('abort', onStop, { once: true });
      cleanups.push(() => options.stop.removeEventListener('abort', onStop));
    }),
  );

  try {
    let outcome = await Promise.race(racers);
    if (outcome.kind === 'lost') {
      // The future is cancelled when the kernel restarts; the restart notice may trail it.
      outcome = await Promise.race([died, delay(1000, outcome)]);
    }
    if (outcome.kind === 'timeout' || outcome.kind === 'stopped') {
      await (options.interrupt ?? (() => session.interrupt()))().catch(() => undefined);
      const after = await Promise.race([settled, died, delay(INTERRUPT_GRACE_MS, null)]);
      // A cell sent ahead that the kernel had begun before the stop, and finished: completed.
      if (options.sent && after?.kind === 'reply' && after.reply.content.status === 'ok') {
        return after;
      }
    }
    return outcome;
  } finally {
    for (const cleanup of cleanups) cleanup();
  }
}

/** A timer that does not keep the process alive on its own. */
function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms).unref());
}
