import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Notebook } from '@nes/notebook';
import { parseNotebook, serializeNotebook } from '@nes/notebook';
import {
  LocalStore,
  type NotebookSinkLike,
  type ObjectInfo,
  type ObjectStore,
  openStore,
  outputKeyFromTemplate,
  RunArtifacts,
  runKeys,
  StoreError,
  StoreNotebookSink,
} from '../src/index.ts';

const scratch = mkdtempSync(join(tmpdir(), 'nes-sink-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function notebook(marker: number): Notebook {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { marker } as Notebook['metadata'],
    cells: [
      {
        cell_type: 'code',
        id: 'c1',
        source: `x = ${marker}`,
        metadata: {},
        outputs: [],
        execution_count: null,
      },
    ],
  } as Notebook;
}

/** A store that records when each put started and ended, optionally failing. */
function recordingStore(
  failures = 0,
): ObjectStore & { puts: { start: number; end: number; body: string }[] } {
  const inner = new LocalStore(join(scratch, `rec-${Math.random().toString(36).slice(2)}`));
  let left = failures;
  const puts: { start: number; end: number; body: string }[] = [];
  return Object.assign(Object.create(inner) as ObjectStore, {
    puts,
    uri: inner.uri,
    uriOf: (key: string) => inner.uriOf(key),
    put: async (key: string, body: unknown, options: object): Promise<ObjectInfo> => {
      const start = performance.now();
      if (left > 0) {
        left -= 1;
        throw new StoreError('store_unavailable', 'injected');
      }
      const info = await inner.put(key, body as string, options);
      puts.push({ start, end: performance.now(), body: body as string });
      return info;
    },
  });
}

describe('StoreNotebookSink', () => {
  test('writes ipynb with content type and run metadata', async () => {
    const store = new LocalStore(join(scratch, 'meta'));
    const sink: NotebookSinkLike = new StoreNotebookSink(store, 'runs/r1/output.ipynb', {
      runId: 'r1',
    });
    assert.equal(sink.uri, store.uriOf('runs/r1/output.ipynb'));
    await sink.write(notebook(1), 'autosave');
    let stat = await store.stat('runs/r1/output.ipynb');
    assert.equal(stat?.contentType, 'application/x-ipynb+json');
    assert.deepEqual(stat?.metadata, {
      'nes-run-id': 'r1',
      'nes-status': 'running',
      'nes-save': 'autosave',
    });
    (sink as StoreNotebookSink).setStatus('succeeded');
    await sink.write(notebook(2), 'final');
    stat = await store.stat('runs/r1/output.ipynb');
    assert.equal(stat?.metadata['nes-status'], 'succeeded');
    const back = parseNotebook((await store.get('runs/r1/output.ipynb')).toString());
    assert.equal((back.metadata as { marker?: number }).marker, 2);
  });

  test('many rapid writes: at most one per second, bounded by elapsed time, last one wins', async () => {
    const store = recordingStore();
    const sink = new StoreNotebookSink(store, 'out.ipynb', { minIntervalMs: 1000 });
    const started = performance.now();
    const writes: Promise<void>[] = [];
    let i = 0;
    while (performance.now() - started < 2500) {
      writes.push(sink.write(notebook(i), 'autosave'));
      i += 1;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    writes.push(sink.write(notebook(i), 'final'));
    await Promise.all(writes);
    const elapsedS = (performance.now() - started) / 1000;
    assert.ok(i > 200, `asked ${i} times`);
    assert.ok(
      store.puts.length <= Math.floor(elapsedS) + 1,
      `${store.puts.length} writes in ${elapsedS.toFixed(1)} s`,
    );
    assert.ok(store.puts.length >= 3);
    for (let k = 1; k < store.puts.length; k += 1) {
      const gap = (store.puts[k]?.start ?? 0) - (store.puts[k - 1]?.end ?? 0);
      assert.ok(gap >= 995, `gap ${gap.toFixed(0)} ms between writes ${k - 1} and ${k}`);
    }
    assert.equal(
      (JSON.parse(store.puts.at(-1)?.body ?? '{}').metadata as { marker: number }).marker,
      i,
    );
    assert.equal(sink.writes, store.puts.length);
  });

  test('a failed autosave rejects once; the final save is retried', async () => {
    const sleeps: number[] = [];
    const fakeSleep = async (ms: number) => {
      sleeps.push(ms);
    };
    const flaky = recordingStore(1);
    const sink = new StoreNotebookSink(flaky, 'out.ipynb', { minIntervalMs: 0, sleep: fakeSleep });
    await assert.rejects(sink.write(notebook(1), 'autosave'), /injected/);
    await sink.write(notebook(2), 'autosave');
    assert.equal(flaky.puts.length, 1);

    const failing = recordingStore(3);
    const finalSink = new StoreNotebookSink(failing, 'out.ipynb', {
      minIntervalMs: 0,
      sleep: fakeSleep,
      finalAttempts: 4,
    });
    sleeps.length = 0;
    await finalSink.write(notebook(3), 'final');
    assert.equal(failing.puts.length, 1, 'the fourth attempt landed');
    assert.deepEqual(sleeps, [500, 1000, 2000]);

    const dead = recordingStore(10);
    const deadSink = new StoreNotebookSink(dead, 'out.ipynb', {
      minIntervalMs: 0,
      sleep: fakeSleep,
      finalAttempts: 3,
    });
    await assert.rejects(deadSink.write(notebook(4), 'final'), /injected/);
  });

  test('a large notebook is written as a stream, whole, and again whole on a retry', async () => {
    const big = notebook(5);
    const cell = big.cells[0] as Notebook['cells'][number] & { outputs: unknown[] };
    const text = `${'y'.repeat(1024 * 1024 - 1)}\n`;
    cell.outputs = Array.from({ length: 12 }, () => ({
      output_type: 'stream',
      name: 'stdout',
      text,
    }));
    const bodies: string[] = [];
    let failuresLeft = 1;
    const inner = new LocalStore(join(scratch, 'big'));
    const store = Object.assign(Object.create(inner) as ObjectStore, {
      uriOf: (key: string) => inner.uriOf(key),
      put: async (key: string, body: unknown, options: object) => {
        assert.ok(typeof body !== 'string', 'over 8 MiB: not one string');
        let read = '';
        for await (const piece of body as AsyncIterable<string>) read += piece;
        bodies.push(read);
        if (failuresLeft-- > 0) throw new StoreError('store_unavailable', 'injected');
        return await inner.put(key, read, options);
      },
    });
    const sink = new StoreNotebookSink(store, 'big.ipynb', {
      minIntervalMs: 0,
      finalAttempts: 2,
      sleep: async () => {},
    });
    await sink.write(big, 'final');
    assert.equal(bodies.length, 2);
    assert.equal(bodies[0], serializeNotebook(big));
    assert.equal(bodies[1], bodies[0], 'the retry wrote the whole notebook again');
    const back = parseNotebook((await inner.get('big.ipynb')).toString());
    assert.equal((back.cells[0] as { outputs: unknown[] }).outputs.length, 12);
  });
});

describe('RunArtifacts', () => {
  test('layout, create-only input, manifest recording where each artifact went', async () => {
    const store = new LocalStore(join(scratch, 'runs'));
    const run = new RunArtifacts(store, 'r-20261122-1');
    assert.deepEqual(run.keys, runKeys('r-20261122-1'));
    assert.deepEqual(run.keys, {
      input: 'runs/r-20261122-1/input.ipynb',
      output: 'runs/r-20261122-1/output.ipynb',
      manifest: 'runs/r-20261122-1/manifest.json',
      log: 'runs/r-20261122-1/logs/runner.log',
    });
    await run.keepInput('{"as":"fetched"}');
    // The same run again keeps its copy; another notebook under its id is refused.
    await run.keepInput(new TextEncoder().encode('{"as":"fetched"}'));
    await assert.rejects(
      run.keepInput('{"changed":true}'),
      (e: unknown) => e instanceof StoreError && e.code === 'already_exists',
    );
    assert.equal((await store.get(run.keys.input)).toString(), '{"as":"fetched"}');
    assert.equal(await run.readManifest(), null);
    const sink = run.outputSink();
    await sink.write(notebook(1), 'final');
    await run.writeLog('started\nfinished\n');
    const written = await run.writeManifest({
      status: 'succeeded',
      source: { uri: 'github://o/r/nb.ipynb', ref: 'main', commitSha: 'a'.repeat(40) },
      parameters: { x: 1 },
      kernel: 'python3',
      timings: {
        startedAt: '2026-11-22T10:00:00Z',
        finishedAt: '2026-11-22T10:00:03Z',
        durationMs: 3000,
      },
      error: null,
    });
    const read = await run.readManifest();
    assert.deepEqual(read, written);
    assert.equal(read?.artifacts.output, store.uriOf('runs/r-20261122-1/output.ipynb'));
    assert.equal(read?.source.commitSha, 'a'.repeat(40));
    assert.equal((await store.stat(run.keys.output))?.metadata['nes-run-id'], 'r-20261122-1');
    assert.deepEqual(
      (await store.list('runs/r-20261122-1/')).objects.map((o) => o.key.split('/').pop()),
      ['input.ipynb', 'manifest.json', 'output.ipynb'],
    );
    assert.equal((await store.stat(run.keys.log))?.contentType, 'text/plain; charset=utf-8');
  });

  test('templated output keys (papermill parameterize_path) and bad run ids', () => {
    const key = outputKeyFromTemplate('reports/{region}/{name}.ipynb', {
      region: 'eu',
      name: 'daily',
    });
    assert.equal(key, 'reports/eu/daily.ipynb');
    const run = new RunArtifacts(new LocalStore(join(scratch, 't')), 'r2', { output: key });
    assert.equal(run.keys.output, 'reports/eu/daily.ipynb');
    assert.throws(() => outputKeyFromTemplate('../{x}.ipynb', { x: 'a' }), StoreError);
    assert.throws(
      () => outputKeyFromTemplate('{missing}.ipynb', {}),
      /Missing parameter 'missing'/,
    );
    for (const bad of ['', '..', '../x', 'a/b', 'a b'])
      assert.throws(() => new RunArtifacts(run.store, bad), StoreError);
  });

  test('openStore: directories and file URLs; other schemes and nothing are refused', async () => {
    const dir = join(scratch, 'opened');
    const store = await openStore(dir);
    assert.ok(store instanceof LocalStore);
    assert.equal(((await openStore(`file://${dir}`)) as LocalStore).root, dir);
    await assert.rejects(openStore('s3://bucket/x'), (error: Error) => {
      assert.ok(error instanceof StoreError);
      assert.match(error.message, /unsupported store "s3:\/\/bucket\/x"/);
      return true;
    });
    await assert.rejects(openStore(''), /empty store location/);
  });
});
