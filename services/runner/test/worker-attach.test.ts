/** Attaching a run to a pre-started kernel, and the worker process protocol. */
import assert from 'node:assert/strict';
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { serializeNotebook } from '@nes/notebook';
import {
  findKernelSpec,
  type KernelSpec,
  locateJupyterServer,
  WORKER_ENTRY,
} from '../src/index.ts';
import { getKernel, JupyterApiError, startKernel } from '../src/jupyter-api.ts';
import { type PrivateJupyterServer, startJupyterServer } from '../src/jupyter-server.ts';
import type { DirectKernel, WorkerMessage, WorkerRunSpec } from '../src/worker/protocol.ts';
import { runWorkerSpec } from '../src/worker/run.ts';
import { code, notebook } from './support/notebooks.ts';
import { runCells } from './support/run.ts';

let server: PrivateJupyterServer;
before(async () => {
  server = await startJupyterServer();
});
after(async () => {
  await server?.stop();
});

describe('attach to a pre-started kernel', () => {
  test('runs on the given kernel and shuts it down at the end', async () => {
    const model = await startKernel(server, 'python3', 'tmp');
    const { result, saved, events } = await runCells(
      [code('import os; print(os.getpid())'), code('x = 6 * 7\nprint(x)')],
      { server: { url: server.url, token: server.token, kernelId: model.id } },
    );
    assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
    assert.equal(saved.metadata.language_info?.name, 'python');
    const logs = events.flatMap((e) => (e.type === 'log' ? [e.message] : []));
    assert.ok(
      logs.some((m) => m.includes(`(${model.id}) attached`)),
      logs.join('\n'),
    );
    await assert.rejects(getKernel(server, model.id), (error: unknown) => {
      return error instanceof JupyterApiError && error.status === 404;
    });
  });

  test('a kernel id the server does not know fails the run as infra', async () => {
    const { result } = await runCells([code('1')], {
      server: { url: server.url, token: server.token, kernelId: 'no-such-kernel' },
    });
    assert.equal(result.status, 'failed');
    assert.equal(result.error?.class, 'infra');
    assert.equal(result.error?.ename, 'KernelNotFound');
  });
});

describe('worker process', () => {
  test('ready, run, need_kernel, events, result; parameters injected; exit code 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nes-worker-'));
    const input = join(dir, 'nb.ipynb');
    writeFileSync(
      input,
      serializeNotebook(
        notebook([code('greeting = "hi"', ['parameters']), code('print(greeting * 2)')]),
      ),
    );
    const model = await startKernel(server, 'python3', dir.slice(1));
    const child = fork(WORKER_ENTRY, [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    const messages: WorkerMessage[] = [];
    const spec: WorkerRunSpec = {
      runId: 'w1',
      notebook: input,
      ref: null,
      commitSha: null,
      parametersJson: '{"greeting": "yo"}',
      kernel: null,
      store: join(dir, 'store'),
      jupyter: { url: server.url, token: server.token, rootDir: server.rootDir },
      timeoutSeconds: 60,
      localRoots: [dir],
    };
    const exit = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    child.on('message', (raw) => {
      const message = raw as WorkerMessage;
      messages.push(message);
      if (message.type === 'ready') child.send({ type: 'run', spec });
      if (message.type === 'need_kernel') {
        assert.equal(message.kernelName, 'python3');
        child.send({ type: 'kernel', kernelId: model.id });
      }
    });
    assert.equal(await exit, 0);
    const result = messages.find((m) => m.type === 'result');
    assert.ok(result?.type === 'result');
    assert.equal(result.result.status, 'succeeded', JSON.stringify(result.result.error));
    assert.equal(result.result.cellsDone, 3);
    const types = messages.map((m) => (m.type === 'event' ? m.event.type : m.type));
    assert.equal(types[0], 'ready');
    assert.ok(types.indexOf('need_kernel') < types.indexOf('started'));
    assert.ok(messages.some((m) => m.type === 'output' && m.text === 'yoyo\n'));
    const out = JSON.parse(readFileSync(join(dir, 'store/runs/w1/output.ipynb'), 'utf8'));
    assert.deepEqual(out.metadata.papermill.parameters, { greeting: 'yo' });
    assert.ok(
      out.cells.some((c: { metadata: { tags?: string[] } }) =>
        c.metadata.tags?.includes('injected-parameters'),
      ),
    );
    const manifest = JSON.parse(readFileSync(join(dir, 'store/runs/w1/manifest.json'), 'utf8'));
    assert.equal(manifest.status, 'succeeded');
  });
});

describe('the input kept once per run, as nes-run keeps it', () => {
  test('the same notebook again (a relaunch) runs; another one fails before anything executes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nes-worker-input-'));
    const input = join(dir, 'nb.ipynb');
    const first = serializeNotebook(notebook([code('print("first")')]));
    writeFileSync(input, first);
    const spec: WorkerRunSpec = {
      runId: 'w-input',
      notebook: input,
      ref: null,
      commitSha: null,
      parametersJson: '{}',
      kernel: null,
      store: join(dir, 'store'),
      jupyter: { url: server.url, token: server.token, rootDir: server.rootDir },
      timeoutSeconds: 60,
      localRoots: [dir],
    };
    const kernelsAsked: string[] = [];
    const io = {
      send: () => {},
      signal: new AbortController().signal,
      requestKernel: async (name: string) => {
        kernelsAsked.push(name);
        return { kernelId: (await startKernel(server, 'python3', dir.slice(1))).id };
      },
    };
    const kept = join(dir, 'store/runs/w-input/input.ipynb');

    const ran = await runWorkerSpec(spec, io);
    assert.equal(ran.result.status, 'succeeded', JSON.stringify(ran.result.error));
    const relaunched = await runWorkerSpec(spec, io);
    assert.equal(relaunched.result.status, 'succeeded', JSON.stringify(relaunched.result.error));
    assert.equal(readFileSync(kept, 'utf8'), first);

    writeFileSync(input, serializeNotebook(notebook([code('print("second")')])));
    const changed = await runWorkerSpec(spec, io);
    assert.equal(changed.result.status, 'failed');
    assert.equal(changed.result.error?.class, 'infra');
    assert.match(changed.result.error?.evalue ?? '', /already holds another notebook/);
    assert.equal(kernelsAsked.length, 2, 'the changed notebook never reached a kernel');
    assert.equal(readFileSync(kept, 'utf8'), first, 'the kept input is untouched');
  });
});

/**
 * A kernel launched by the parent and handed over by its sockets (the local executor's kernels
 * in their sandboxes): here a plain ipykernel on `ipc` sockets in a temporary directory.
 */
describe('worker process with a direct kernel', () => {
  function launchIpcKernel(dir: string): { kernel: ChildProcess; direct: DirectKernel } {
    const key = randomUUID();
    const connectionFile = join(dir, 'kernel.json');
    writeFileSync(
      connectionFile,
      JSON.stringify({
        transport: 'ipc',
        ip: join(dir, 'k'),
        shell_port: 1,
        iopub_port: 2,
        stdin_port: 3,
        control_port: 4,
        hb_port: 5,
        key,
        signature_scheme: 'hmac-sha256',
      }),
    );
    const python = join(locateJupyterServer().binDir as string, 'python');
    const kernel = spawn(python, ['-m', 'ipykernel_launcher', '-f', connectionFile], {
      cwd: dir,
      stdio: 'ignore',
    });
    const spec = findKernelSpec('python3') as KernelSpec;
    const socket = (port: number) => `ipc://${join(dir, `k-${port}`)}`;
    return {
      kernel,
      direct: {
        spec: { ...spec, interruptMode: 'message' },
        endpoints: {
          shell: socket(1),
          iopub: socket(2),
          control: socket(4),
          key,
          signatureScheme: 'hmac-sha256',
        },
      },
    };
  }

  async function runWith(cells: string[]): Promise<{
    messages: WorkerMessage[];
    exitCode: number | null;
    kernelExit: Promise<string>;
  }> {
    const dir = mkdtempSync(join(tmpdir(), 'nes-worker-direct-'));
    const input = join(dir, 'nb.ipynb');
    writeFileSync(input, serializeNotebook(notebook(cells.map((source) => code(source)))));
    const { kernel, direct } = launchIpcKernel(dir);
    const kernelExit = new Promise<string>((resolve) =>
      kernel.once('exit', (code, signal) =>
        resolve(signal ? `signal ${signal}` : `exit code ${code}`),
      ),
    );
    const child = fork(WORKER_ENTRY, [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    const messages: WorkerMessage[] = [];
    const spec: WorkerRunSpec = {
      runId: 'd1',
      notebook: input,
      ref: null,
      commitSha: null,
      parametersJson: '{}',
      kernel: 'python3',
      store: join(dir, 'store'),
      timeoutSeconds: 120,
      localRoots: [dir],
    };
    child.on('message', (raw) => {
      const message = raw as WorkerMessage;
      messages.push(message);
      if (message.type === 'ready') child.send({ type: 'run', spec });
      if (message.type === 'need_kernel') {
        child.send({ type: 'kernel', kernelId: null, direct });
        // The parent watches the kernel and tells the worker when it is gone.
        void kernelExit.then((how) => {
          if (child.connected) child.send({ type: 'kernel_exit', how, stderrTail: '' });
        });
      }
      if (message.type === 'stop_kernel') kernel.kill('SIGKILL');
    });
    const exitCode = await new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    return { messages, exitCode, kernelExit };
  }

  test('asked for at once, attached over ipc, asked to shut down at the end', async () => {
    const { messages, exitCode, kernelExit } = await runWith(['print(6 * 7)']);
    assert.equal(exitCode, 0);
    const result = messages.find((m) => m.type === 'result');
    assert.ok(result?.type === 'result');
    assert.equal(result.result.status, 'succeeded', JSON.stringify(result.result.error));
    assert.ok(messages.some((m) => m.type === 'output' && m.text === '42\n'));
    // The run names its kernel: it is asked for before anything else is sent.
    assert.equal(messages[1]?.type, 'need_kernel');
    // The worker only asked it to shut down; it exits by itself.
    assert.equal(await kernelExit, 'exit code 0');
  });

  test('a direct kernel that dies fails the run as kernel_died', async () => {
    const { messages, kernelExit } = await runWith([
      'x = 1',
      'import os, signal; os.kill(os.getpid(), signal.SIGKILL)',
      'print("never")',
    ]);
    assert.equal(await kernelExit, 'signal SIGKILL');
    const result = messages.find((m) => m.type === 'result');
    assert.ok(result?.type === 'result');
    assert.equal(result.result.status, 'failed');
    assert.equal(result.result.error?.class, 'kernel_died', JSON.stringify(result.result.error));
  });
});
