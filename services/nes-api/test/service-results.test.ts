/**
 * Results end to end: a notebook run by the real service (local executor, in its bubblewrap
 * sandbox, on a real kernel) imports `nes`, records values and a figure and exits early; the
 * run links its results and GET /v1/runs/{id}/results serves them. Also: results stored on both
 * drivers, and read back from a run's manifest (an executor that does not report them), checked.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { collectResults, type RunResults } from '@nes/runner';
import { LocalStore, RunArtifacts } from '@nes/stores';
import { checkedResults, loadRunResults } from '../src/runs/run-results.ts';
import { type StartedService, startService } from '../src/service.ts';
import { type Driver, pgliteDriver, postgresDriver, spec } from './run-store-support.ts';
import { workspace, writeNotebook } from './scheduler-support.ts';
import { Api } from './service-support.ts';
import { MemoryRunStore } from './support/memory-run-store.ts';

const NES = fileURLToPath(new URL('../../../packages/cli/bin/nes.ts', import.meta.url));

function nes(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [NES, ...args], { env }, (error, stdout, stderr) => {
      done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const ws = workspace();
const recording = writeNotebook(ws.notebooks, 'recording.ipynb', [
  'threshold = 10',
  [
    'import nes, sys',
    "nes.record('rows_loaded', 1234)",
    "nes.record('summary', {'p95': 0.93, 'threshold': threshold})",
    "nes.record('module', nes.__file__)",
  ].join('\n'),
  [
    'import matplotlib',
    "matplotlib.use('agg')",
    'import matplotlib.pyplot as plt',
    'fig, ax = plt.subplots(); ax.plot([3, 1, 2])',
    "nes.record('chart', fig)",
  ].join('\n'),
  "nes.exit({'reason': 'enough'})",
  "raise RuntimeError('must not run')",
]);

interface ResultsBody {
  runId: string;
  status: string;
  complete: boolean;
  values: Record<string, unknown>;
  results: Array<{ name: string; kind: string; cellIndex: number; mimeTypes?: string[] }>;
  exit: { value: unknown; cellIndex: number } | null;
  dropped: string[];
  links: { run: string; notebook: string };
}

describe('results through the service (sandboxed local executor)', () => {
  let service: StartedService;
  let api: Api;
  const dataDir = join(ws.root, 'data');

  before(async () => {
    service = await startService({
      env: {
        NES_DATA_DIR: dataDir,
        NES_PORT: '0',
        NES_NOTEBOOK_ROOTS: ws.notebooks,
        // The `nes` module must be importable where runs really execute: in the sandbox.
        NES_SANDBOX: 'require',
      },
      log: () => undefined,
      executor: { warmKernels: { python3: 1 } },
    });
    api = new Api(service.url, service.adminToken);
  });
  after(async () => {
    await service?.close(5000);
  });

  test('a run links its results; they are collected when it finishes', async () => {
    const submitted = await api.submit({ notebook: recording, parameters: { threshold: 7 } });
    const links = submitted.links as typeof submitted.links & { results: string };
    assert.equal(links.results, `${api.url}/v1/runs/${submitted.id}/results`);
    const early = await api.request<ResultsBody>('GET', `/v1/runs/${submitted.id}/results`);
    assert.equal(early.status, 200, early.text);
    if (early.body.status !== 'succeeded') {
      assert.equal(early.body.complete, false);
      assert.deepEqual(early.body.values, {});
    }

    const run = await api.waitTerminal(submitted.id, 120_000);
    assert.equal(run.status, 'succeeded', JSON.stringify(run.error));
    // Six code cells with the injected parameters: the one after nes.exit did not run.
    assert.deepEqual([run.progress.cellsDone, run.progress.cellsTotal], [5, 6]);
    const { status, body } = await api.request<ResultsBody>('GET', `/v1/runs/${run.id}/results`);
    assert.equal(status, 200);
    assert.equal(body.complete, true);
    assert.equal(body.values.rows_loaded, 1234);
    assert.deepEqual(body.values.summary, { p95: 0.93, threshold: 7 });
    assert.match(String(body.values.module), /site-packages\/nes\.py$/, 'from the kernel env');
    const chart = body.results.find((r) => r.name === 'chart');
    assert.equal(chart?.kind, 'display');
    assert.ok(chart?.mimeTypes?.includes('image/png'));
    assert.deepEqual(body.exit?.value, { reason: 'enough' });
    assert.equal(body.links.notebook, `${api.url}/v1/runs/${run.id}/notebook`);

    // The display result points at the output that holds the figure.
    const notebook = await api.notebook(run.id);
    const output = notebook.cells[chart?.cellIndex ?? -1].outputs.find(
      (o: { data?: Record<string, unknown> }) => o.data?.['image/png'],
    );
    assert.ok(output, 'the figure is in the cell the result names');
  });

  test('nes get --results and nes submit --wait --json print them', async () => {
    const env = { ...process.env, NES_URL: api.url, NES_TOKEN: api.token };
    const submitted = await nes(['submit', recording, '--wait', '--json'], env);
    assert.equal(submitted.code, 0, submitted.stderr);
    const final = JSON.parse(submitted.stdout);
    assert.equal(final.status, 'succeeded');
    assert.equal(final.results.values.rows_loaded, 1234);
    assert.deepEqual(final.results.exit.value, { reason: 'enough' });

    const human = await nes(['get', final.id, '--results'], env);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /rows_loaded\s+1234/);
    assert.match(human.stdout, /summary\s+\{"p95":0.93,"threshold":10\}/);
    assert.match(human.stdout, /chart\s+\(display: image\/png, text\/plain, cell index 2\)/);
    assert.match(human.stdout, /exit value \(cell index 3\): \{"reason":"enough"\}/);
    const json = await nes(['get', final.id, '--results', '--json'], env);
    assert.deepEqual(JSON.parse(json.stdout).values.summary, { p95: 0.93, threshold: 10 });
  });

  test("the notebook's history and a result's trend come from the same runs", async () => {
    const q = `notebook=${encodeURIComponent(recording)}`;
    const history = await api.request<{ totals: Record<string, number>; lastSuccess: unknown }>(
      'GET',
      `/v1/history?${q}&days=1`,
    );
    assert.equal(history.status, 200, history.text);
    assert.ok((history.body.totals.succeeded ?? 0) >= 1);
    assert.ok(history.body.lastSuccess);
    const trend = await api.request<{ points: Array<{ value: number }> }>(
      'GET',
      `/v1/history/results?${q}&name=rows_loaded`,
    );
    assert.equal(trend.status, 200, trend.text);
    assert.ok(trend.body.points.length >= 1);
    assert.ok(trend.body.points.every((p) => p.value === 1234));
  });

  test('unknown runs are 404, and reading results needs a token', async () => {
    const missing = await api.request('GET', '/v1/runs/nope/results');
    assert.equal(missing.status, 404);
    const anonymous = await fetch(`${api.url}/v1/runs/nope/results`);
    assert.equal(anonymous.status, 401);
  });
});

describe('results stored with the run', () => {
  const results: RunResults = {
    version: 1,
    results: [{ name: 'n', kind: 'value', value: 3, cellIndex: 1, outputIndex: 0 }],
    exit: null,
    dropped: [],
  };
  for (const make of [pgliteDriver, postgresDriver]) {
    test(`terminal transitions keep them (${make.name})`, async () => {
      const driver: Driver = await make();
      const store = await driver.open();
      try {
        const { run } = await store.createRun(spec());
        assert.equal(await store.getResults(run.id), null);
        await store.transition(run.id, 'starting');
        await store.transition(run.id, 'succeeded', { results });
        assert.deepEqual(await store.getResults(run.id), results);
        assert.equal(await store.getResults('missing'), undefined);
        // Read back later (a manifest) only fills what is missing.
        await store.saveResults(run.id, { ...results, results: [] });
        assert.deepEqual(await store.getResults(run.id), results);
      } finally {
        await store.close();
        await driver.dispose();
      }
    });
  }
});

describe('results read from the manifest', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nes-results-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('a finished run without stored results gets those of its manifest, once', async () => {
    const store = new MemoryRunStore();
    const objects = new LocalStore(dir);
    const { run } = await store.createRun(spec());
    await store.transition(run.id, 'starting');
    await store.transition(run.id, 'succeeded');
    const artifacts = new RunArtifacts(objects, run.id);
    const document = {
      values: { k: 1 },
      results: [{ name: 'k', kind: 'value', value: 1, cellIndex: 0, outputIndex: 0 }],
      exit: { value: 'done', cellIndex: 2 },
      dropped: [],
    };
    await artifacts.writeManifest({
      status: 'succeeded',
      source: { uri: 'x', ref: null, commitSha: null },
      parameters: {},
      kernel: 'python3',
      error: null,
      results: document,
    });
    const loaded = await loadRunResults(store, objects, run.id, true);
    assert.deepEqual(loaded?.exit, { value: 'done', cellIndex: 2 });
    assert.deepEqual(store.results.get(run.id), loaded, 'stored for the next read');
    assert.equal(await loadRunResults(store, objects, 'no-manifest', true), null);
  });

  test('results of the wrong shape or size are not kept', () => {
    assert.equal(checkedResults({ results: [{ name: 1, kind: 'value' }] }), null);
    assert.equal(
      checkedResults({ results: [{ name: 'a', kind: 'script', cellIndex: 0, outputIndex: 0 }] }),
      null,
    );
    const huge = {
      results: [
        {
          name: 'a',
          kind: 'value',
          value: 'x'.repeat(3 * 1024 * 1024),
          cellIndex: 0,
          outputIndex: 0,
        },
      ],
    };
    assert.equal(checkedResults(huge), null);
    const fine = collectResults({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] });
    assert.deepEqual(checkedResults(fine), fine);
  });
});
