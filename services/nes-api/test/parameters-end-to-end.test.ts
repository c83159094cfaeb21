/**
 * One parameter encoding from the request body to the injected cell: the same JSON text submitted
 * through POST /v1/runs, on the local executor and on the Kubernetes executor (the stand-in cluster
 * running the real nes-run), injects exactly what nes-run injects for the same values and what
 * papermill's PythonTranslator writes: the order given (dict keys like "1" included), 1.0 as a
 * float, big integers exact, 1e400 as float('inf'). And one reading of how a run fails: a cell
 * error and a dead kernel end with the same failure on both executors as nes-run reports (its exit
 * code and its result message, @nes/run-contract).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pythonJsonLoads } from '@nes/notebook';
import { EXIT_CODE_BY_CLASS, parseRunnerResult, type RunFailure } from '@nes/run-contract';
import {
  type FakeCluster,
  fakeClusterKubeconfigFile,
  startFakeCluster,
} from '../../../test/servers/kubernetes/index.ts';
import { type StartedService, startService } from '../src/service.ts';
import { k8sWorkspace } from './k8s-executor-support.ts';
import { writeNotebook } from './scheduler-support.ts';
import { Api } from './service-support.ts';

const BODY_PARAMETERS =
  '{"a": 7, "b": -0.5, "s": "it\'s \\"quoted\\"\\nnewline \\u00e9", "flag": true, ' +
  '"items": [1, 2.5, "x", null], "conf": {"z": 1, "1": "one", "nested": {"k": [true, false]}}, ' +
  '"b2": 1.0, "big": 12345678901234567890, "huge": 1e400}';

/** translators.py PythonTranslator (translate_escaped_str, translate_float, translate_dict). */
const PAPERMILL_CELL = [
  '# Parameters',
  'a = 7',
  'b = -0.5',
  's = "it\'s \\"quoted\\"\\nnewline \\xe9"',
  'flag = True',
  'items = [1, 2.5, "x", None]',
  'conf = {"z": 1, "1": "one", "nested": {"k": [True, False]}}',
  'b2 = 1.0',
  'big = 12345678901234567890',
  "huge = float('inf')",
  '',
].join('\n');

const ROOT = resolve(import.meta.dirname, '../../..');
const NES_RUN = join(ROOT, 'services/runner/bin/nes-run.ts');

// biome-ignore lint/suspicious/noExplicitAny: notebook JSON read back
type Json = any;

const source = (cell: Json): string => [cell.source].flat().join('');
const injected = (nb: Json): string =>
  source(nb.cells.find((c: Json) => c.metadata.tags?.includes('injected-parameters')));

const ws = k8sWorkspace();
const notebook = writeNotebook(ws.notebooks, 'values.ipynb', [
  'a = 0\nb = 0.0\ns = ""\nflag = False\nitems = []\nconf = {}\nb2 = 0.0\nbig = 0\nhuge = 0.0',
  'print(repr((a, b, s, flag, items, list(conf), b2, big, huge)))',
]);

/** Notebooks that fail, each in its own way. */
const FAILING = [
  writeNotebook(ws.notebooks, 'raises.ipynb', ['x = 1', 'raise ValueError(f"bad {x}")', 'y = 2']),
  writeNotebook(ws.notebooks, 'dies.ipynb', ['import os', 'os._exit(3)', 'z = 3']),
];

/** How nes-run reports the notebook's failure: its exit code and its result message. */
function nesRunFailure(input: string): RunFailure {
  const resultFile = join(ws.root, 'nes-run-result.json');
  const r = spawnSync(process.execPath, [NES_RUN, input, join(ws.root, 'nes-run-failed.ipynb')], {
    encoding: 'utf8',
    env: { ...process.env, NES_RESULT_FILE: resultFile },
  });
  const result = parseRunnerResult(readFileSync(resultFile, 'utf8'));
  assert.ok(result?.class, r.stderr);
  assert.equal(r.status, EXIT_CODE_BY_CLASS[result.class], r.stderr);
  return {
    class: result.class,
    ename: result.ename ?? '',
    evalue: result.evalue ?? '',
    cellIndex: result.cellIndex ?? null,
    cellNumber: result.cellNumber ?? null,
  };
}

/**
 * The same notebooks submitted to a service fail as nes-run says they fail: the same class, name
 * and cells, and for a cell's exception the same message. A dead kernel's message says what the
 * runner saw, which depends on how the kernel was hosted (a kernel nes-run launched itself
 * reports its exit code; one under a Jupyter Server that restarts it does not).
 */
async function checkFailures(api: Api): Promise<void> {
  const classes: string[] = [];
  for (const input of FAILING) {
    const expected = nesRunFailure(input);
    classes.push(expected.class);
    const submitted = await api.submit({ notebook: input });
    const run = await api.waitTerminal(submitted.id);
    assert.equal(run.status, 'failed');
    const { evalue, ...mapping } = run.error ?? ({} as RunFailure);
    const { evalue: expectedEvalue, ...expectedMapping } = expected;
    assert.deepEqual(mapping, expectedMapping, input);
    if (expected.class === 'kernel_died') assert.match(evalue, /^the kernel died/);
    else assert.equal(evalue, expectedEvalue, input);
  }
  assert.deepEqual(classes, ['cell_error', 'kernel_died']);
}

/** What nes-run injects for the same JSON text given as papermill's -b (base64 YAML). */
function nesRunCell(): string {
  const out = join(ws.root, 'nes-run-out.ipynb');
  const r = spawnSync(
    process.execPath,
    [
      NES_RUN,
      notebook,
      out,
      '--prepare-only',
      '-b',
      Buffer.from(BODY_PARAMETERS).toString('base64'),
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  return injected(pythonJsonLoads(readFileSync(out, 'utf8')));
}

async function submitRaw(api: Api): Promise<{ id: string; text: string }> {
  const response = await fetch(`${api.url}/v1/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' },
    body: `{"notebook": ${JSON.stringify(notebook)}, "parameters": ${BODY_PARAMETERS}}`,
  });
  const text = await response.text();
  assert.equal(response.status, 201, text);
  return { id: (JSON.parse(text) as { id: string }).id, text };
}

async function checkRun(api: Api): Promise<void> {
  const { id, text } = await submitRaw(api);
  // The run object: floats stay floats, big integers exact, the order given (keys like "1" in a
  // nested dict are listed first by any JavaScript object: see routes/context.ts).
  assert.match(text, /"parameters":\{"a":7,"b":-0\.5,"s":/);
  assert.match(text, /"b2":1\.0,"big":12345678901234567890,"huge":1e400\}/);
  const run = await api.waitTerminal(id);
  assert.equal(run.status, 'succeeded', JSON.stringify(run.error));
  const response = await api.request('GET', `/v1/runs/${id}/notebook`);
  assert.equal(response.status, 200);
  const nb = pythonJsonLoads(response.text) as Json;
  assert.equal(injected(nb), PAPERMILL_CELL);
  const printed = nb.cells
    .at(-1)
    .outputs.map((o: Json) => [o.text].flat().join(''))
    .join('');
  assert.equal(
    printed,
    `(7, -0.5, 'it\\'s "quoted"\\nnewline é', True, [1, 2.5, 'x', None], ['z', '1', 'nested'], 1.0, 12345678901234567890, inf)\n`,
  );
  // metadata.papermill.parameters as nbformat writes them: sorted keys, 1.0, the big integer.
  assert.match(response.text, /"b2": 1\.0,\n\s+"big": 12345678901234567890,/);
  assert.match(response.text, /"huge": Infinity/);
}

describe('one parameter encoding end to end', () => {
  test("nes-run injects papermill's text for the values (-b with the JSON text)", () => {
    assert.equal(nesRunCell(), PAPERMILL_CELL);
  });

  describe('the local executor', () => {
    let service: StartedService;
    let api: Api;
    before(async () => {
      service = await startService({
        env: {
          NES_DATA_DIR: join(ws.root, 'local-data'),
          NES_PORT: '0',
          NES_NOTEBOOK_ROOTS: ws.notebooks,
          NES_STORE: join(ws.root, 'local-store'),
        },
        log: () => undefined,
        executor: { warmKernels: { python3: 1 } },
      });
      api = new Api(service.url, service.adminToken);
    });
    after(async () => {
      await service?.close(0);
    });

    test('POST /v1/runs injects exactly what nes-run and papermill inject', async () => {
      await checkRun(api);
    });

    test('a failing notebook fails as nes-run reports it (class, names, cells)', async () => {
      await checkFailures(api);
    });

    test('values IPC could not carry (big integers) leave no runner worker behind', async () => {
      // Before the parameters went to the worker as text, a big integer could not be sent: the
      // run failed as infra and its worker (75 MB) waited forever. Three runs, then count.
      const workers = () =>
        spawnSync('pgrep', ['-P', String(process.pid), '-f', 'worker/main.ts'], {
          encoding: 'utf8',
        })
          .stdout.split('\n')
          .filter(Boolean).length;
      let seen = 0;
      for (let i = 0; i < 3; i += 1) {
        const { id } = await submitRaw(api);
        seen = Math.max(seen, workers());
        const run = await api.waitTerminal(id);
        assert.equal(run.status, 'succeeded', JSON.stringify(run.error));
      }
      assert.ok(seen >= 1, 'the count sees the workers while they run');
      await new Promise((r) => setTimeout(r, 1000));
      // Only the warm spare (warmWorkers defaults to 1) is left.
      const left = workers();
      assert.ok(left <= 1, `runner workers left: ${left}`);
    });
  });

  describe('the Kubernetes executor (stand-in cluster, real nes-run in the pod)', () => {
    let cluster: FakeCluster;
    let service: StartedService;
    let api: Api;
    before(async () => {
      cluster = await startFakeCluster();
      const settingsFile = join(ws.root, 'k8s-settings.yaml');
      writeFileSync(
        settingsFile,
        'secretEnv: {keys: []}\ntimeouts: {defaultSeconds: 300, maxSeconds: 3600, startupSeconds: 60}\nterminationGracePeriodSeconds: 10\n',
      );
      service = await startService({
        env: {
          NES_DATA_DIR: join(ws.root, 'k8s-data'),
          NES_PORT: '0',
          NES_NOTEBOOK_ROOTS: ws.notebooks,
          NES_STORE: ws.store,
          NES_EXECUTOR: 'kubernetes',
          NES_K8S_KUBECONFIG: fakeClusterKubeconfigFile(cluster, join(ws.root, 'kube')),
          NES_K8S_NAMESPACE: 'nes-runs',
          NES_K8S_IMAGE: 'ghcr.io/nes/runner:1.0.0',
          NES_K8S_PENDING_TIMEOUT_SECONDS: '30',
          NES_K8S_LEASE_NAME: 'nes-executor',
          NES_K8S_SETTINGS_FILE: settingsFile,
        },
        kubernetes: { tickIntervalMs: 200 },
        scheduler: { pollIntervalMs: 100 },
        log: () => undefined,
      });
      api = new Api(service.url, service.adminToken);
    });
    after(async () => {
      await service?.close(0);
      await cluster?.close();
    });

    test('POST /v1/runs injects exactly what nes-run and papermill inject', async () => {
      await checkRun(api);
    });

    test('a failing notebook fails as nes-run reports it (class, names, cells)', async () => {
      await checkFailures(api);
    });
  });
});
