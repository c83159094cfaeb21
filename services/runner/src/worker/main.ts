/**
 * The runner worker process: `node services/runner/src/worker/main.ts`, spawned by the local
 * executor with an IPC channel (protocol.ts). It loads everything a run needs first and says
 * 'ready', so an executor can keep one warm and hand it a run with no start-up cost; then it
 * runs exactly one run and exits with nes-run's exit code for the outcome.
 */
import { EXIT_INFRA } from '@nes/run-contract';
import { quietServicesDebug } from '../quiet-console.ts';
import type { ParentMessage, WorkerMessage } from './protocol.ts';
import { type KernelExit, type KernelReply, runWorkerSpec } from './run.ts';

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) {
      resolve();
      return;
    }
    process.send(message, undefined, {}, () => resolve());
  });
}

async function main(): Promise<number> {
  if (!process.send) {
    process.stderr.write('nes-runner-worker: start me with an IPC channel (the local executor)\n');
    return 2;
  }
  quietServicesDebug();
  // A warm worker loads now what its run will need: the GCS client only for a gs:// store.
  if (process.env.NES_STORE?.startsWith('gs://')) await import('@nes/stores');
  // ZeroMQ (a native module) for a kernel reached directly in the run's sandbox.
  await import('zeromq');
  let kernelExited: (exit: KernelExit) => void = () => undefined;
  const kernelExit = new Promise<KernelExit>((resolve) => {
    kernelExited = resolve;
  });
  const stop = new AbortController();
  const parentPid = process.ppid;
  let running = false;
  let kernelReply: ((reply: KernelReply) => void) | null = null;
  const parentGone = (why: string) => {
    if (!running) process.exit(0);
    stop.abort(new Error(why));
    kernelReply?.({ kernelId: null });
    // A kernel reached directly lives in a sandbox that dies with the executor (bubblewrap's
    // --die-with-parent), and nobody is left to report its end: it is gone now. Without this
    // the cancel would wait on a kernel that can no longer answer.
    kernelExited({ how: why, stderrTail: '' });
  };
  process.on('disconnect', () => parentGone('the executor went away'));
  // Backstop for an IPC channel that outlives its parent (it should not).
  const watch = setInterval(() => {
    if (process.ppid !== parentPid) parentGone('the executor process died');
  }, 1000);
  watch.unref();
  // A terminal's Ctrl-C or a SIGTERM: cancel and save, as nes-run does.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (!running) process.exit(0);
      stop.abort(new Error(`cancelled by ${signal}`));
    });
  }

  const spec = await new Promise<Extract<ParentMessage, { type: 'run' }>['spec']>((resolve) => {
    process.on('message', (raw) => {
      const message = raw as ParentMessage;
      if (message.type === 'run') resolve(message.spec);
      else if (message.type === 'cancel') stop.abort(new Error('cancelled'));
      else if (message.type === 'kernel') {
        kernelReply?.({
          kernelId: message.kernelId,
          ...(message.jupyter ? { jupyter: message.jupyter } : {}),
          ...(message.direct ? { direct: message.direct } : {}),
        });
      } else if (message.type === 'kernel_exit') {
        kernelExited({ how: message.how, stderrTail: message.stderrTail });
      }
    });
    void send({ type: 'ready' });
  });
  running = true;
  try {
    const outcome = await runWorkerSpec(spec, {
      send: (message) => void send(message),
      requestKernel: (kernelName) =>
        new Promise((resolve) => {
          kernelReply = (reply) => {
            kernelReply = null;
            resolve(reply);
          };
          void send({ type: 'need_kernel', kernelName });
        }),
      signal: stop.signal,
      kernelExit,
    });
    await send({ type: 'result', result: outcome.result });
    return outcome.exitCode;
  } catch (error) {
    process.stderr.write(`nes-runner-worker: ${(error as Error)?.stack ?? String(error)}\n`);
    return EXIT_INFRA;
  }
}

const code = await main();
process.exit(code);
