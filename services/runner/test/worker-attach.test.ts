/** Attaching a run to a pre-started kernel, and the worker process protocol. */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { serializeNotebook } from '@nes/notebook';
import { WORKER_ENTRY } from '../src/index.ts';
import { getKernel, JupyterApiError, startKernel } from '../src/jupyter-api.ts';
import { type PrivateJupyterServer, startJupyterServer } from '../src/jupyter-server.ts';
import type { WorkerMessage, WorkerRunSpec } from '../src/worker/protocol.ts';
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
