/**
 * The whole service over real HTTP on loopback (startService: PGlite or PostgreSQL, the local
 * executor on real kernels, the scheduler, the API): a full run with its events and notebook,
 * cancel while running, a run deadline, submit-time refusals, the home page and the admin token.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type PostgresServer, startPostgres } from '../../../test/servers/postgres/index.ts';
import { type StartedService, startService } from '../src/service.ts';
import { workspace, writeNotebook } from './scheduler-support.ts';
import { Api, printed, runEvents } from './service-support.ts';

const ws = workspace();
const greet = writeNotebook(ws.notebooks, 'greet.ipynb', [
  'name = "world"\ncount = 1',
  'print(("hello " + name + "\\n") * count, end="")',
]);
const sleepy = writeNotebook(ws.notebooks, 'sleepy.ipynb', [
  'seconds = 30',
  'import time; print("before", flush=True)',
  'time.sleep(seconds)',
  'print("after")',
]);

function baseEnv(dataDir: string): Record<string, string> {
  return { NES_DATA_DIR: dataDir, NES_PORT: '0', NES_NOTEBOOK_ROOTS: ws.notebooks };
}

async function start(env: Record<string, string>): Promise<{ service: StartedService; api: Api }> {
  const service = await startService({
    env,
    log: () => undefined,
    executor: { cancelGraceMs: 5000, warmKernels: { python3: 1 } },
  });
  return { service, api: new Api(service.url, service.adminToken) };
}

async function fullRun(api: Api): Promise<void> {
  const submitted = await api.submit({
    notebook: greet,
    parameters: { name: 'NES', count: 2 },
    labels: { suite: 'service' },
  });
  assert.equal(submitted.status, 'queued');
  assert.match(submitted.links.viewer, new RegExp(`/runs/${submitted.id}$`));
  assert.ok(submitted.links.self.startsWith(api.url), submitted.links.self);

  const stream = await runEvents(api, submitted.id);
  const statuses = stream
    .filter((e) => e.event === 'status')
    .map((e) => (e.data as { status: string }).status);
  assert.ok(statuses.includes('running'), JSON.stringify(statuses));
  assert.equal(statuses.at(-1), 'succeeded');
  assert.ok(stream.some((e) => e.event === 'progress'));

  const run = await api.waitTerminal(submitted.id);
  assert.equal(run.status, 'succeeded', JSON.stringify(run.error));
  assert.deepEqual(run.progress, {
    cellsDone: 3,
    cellsTotal: 3,
    currentCell: run.progress.currentCell,
  });
  assert.ok(run.outputUri, 'the run records its output notebook');

  const nb = await api.notebook(run.id);
  assert.deepEqual(nb.metadata.papermill.parameters, { name: 'NES', count: 2 });
  assert.equal(nb.metadata.papermill.exception ?? null, null);
  assert.ok(nb.metadata.papermill.duration >= 0);
  const injected = nb.cells.find((cell: { metadata: { tags?: string[] } }) =>
    cell.metadata.tags?.includes('injected-parameters'),
  );
  assert.equal(
    injected.source.join?.('') ?? injected.source,
    '# Parameters\nname = "NES"\ncount = 2\n',
  );
  assert.equal(printed(nb), 'hello NES\nhello NES\n');
  for (const cell of nb.cells) assert.equal(cell.metadata.papermill.status, 'completed');

  const listed = await api.request<{ runs: Array<{ id: string }> }>(
    'GET',
    '/v1/runs?label=suite=service&status=succeeded',
  );
  assert.ok(listed.body.runs.some((r) => r.id === run.id));
}

describe('the service on PGlite', () => {
  const dataDir = join(ws.root, 'data');
  let service: StartedService;
  let api: Api;

  before(async () => {
    ({ service, api } = await start(baseEnv(dataDir)));
  });
  after(async () => {
    await service?.close(0);
  });

  test('a local notebook through HTTP: events, succeeded, the notebook with its parameters', async () => {
    await fullRun(api);
  });

  test('cancel while running: cancelled, the notebook saved marked cancelled', async () => {
    const submitted = await api.submit({ notebook: sleepy });
    await api.waitFor(
      submitted.id,
      (run) => run.status === 'running' && run.progress.cellsDone >= 2,
    );
    const t0 = performance.now();
    const cancel = await api.request<{ id: string }>('POST', `/v1/runs/${submitted.id}/cancel`);
    assert.ok(cancel.status === 200 || cancel.status === 202, cancel.text);
    const run = await api.waitTerminal(submitted.id, 20_000);
    console.log(`cancel to cancelled over HTTP: ${Math.round(performance.now() - t0)} ms`);
    assert.equal(run.status, 'cancelled');
    assert.equal(run.error?.class, 'cancelled');
    const nb = await api.notebook(run.id);
    assert.equal(nb.metadata.papermill.exception, true);
    assert.match(printed(nb), /before/);
    assert.doesNotMatch(printed(nb), /after/);
  });

  test('a run past its timeoutSeconds ends timed_out with its notebook saved', async () => {
    const submitted = await api.submit({
      notebook: sleepy,
      parameters: { seconds: 30 },
      // The deadline counts from the start: leave a loaded machine time to print 'before'.
      timeoutSeconds: 8,
    });
    const run = await api.waitTerminal(submitted.id, 30_000);
    assert.equal(run.status, 'timed_out', JSON.stringify(run.error));
    assert.equal(run.error?.class, 'timeout');
    const nb = await api.notebook(run.id);
    assert.equal(nb.metadata.papermill.exception, true);
    assert.match(printed(nb), /before/);
  });

  test('submit refuses a relative local path, a path outside the roots and an unknown parameter', async () => {
    const before = await api.request<{ runs: unknown[] }>('GET', '/v1/runs?limit=100');
    const relative = await api.request<{ error: { code: string } }>('POST', '/v1/runs', {
      notebook: 'greet.ipynb',
    });
    assert.equal(relative.status, 422, relative.text);
    assert.equal(relative.body.error.code, 'local_path_not_absolute');
    const outside = await api.request<{ error: { code: string } }>('POST', '/v1/runs', {
      notebook: join(ws.root, 'elsewhere.ipynb'),
    });
    assert.equal(outside.status, 422, outside.text);
    assert.equal(outside.body.error.code, 'local_path_outside_roots');
    const unknown = await api.request<{ error: { code: string } }>('POST', '/v1/runs', {
      notebook: greet,
      parameters: { colour: 'blue' },
    });
    assert.equal(unknown.status, 422, unknown.text);
    assert.equal(unknown.body.error.code, 'invalid_parameters');
    const afterwards = await api.request<{ runs: unknown[] }>('GET', '/v1/runs?limit=100');
    assert.equal(afterwards.body.runs.length, before.body.runs.length, 'nothing stored');
  });

  test('the home page, health, and the admin token kept in the data directory', async () => {
    // The token URL signs in (303 to `/`), then `/` is the viewer, or how to build it.
    const home = await fetch(`${service.url}/?token=${service.adminToken}`);
    assert.equal(home.status, 200);
    assert.equal(new URL(home.url).search, '');
    assert.match(await home.text(), /<meta name="nes-frame-origin" content="http|NES is running/);
    assert.equal((await fetch(`${service.url}/readyz`)).status, 200);
    assert.equal((await fetch(`${service.url}/v1/runs`)).status, 401);
    assert.equal(service.viewerUrl, `${service.url}/?token=${service.adminToken}`);
    const file = join(dataDir, 'admin-token');
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });
});

describe('the service on PostgreSQL', () => {
  let server: PostgresServer;
  let service: StartedService;
  let api: Api;

  before(async () => {
    server = await startPostgres();
    const databaseUrl = await server.createDatabase('nes_service');
    ({ service, api } = await start({
      ...baseEnv(join(ws.root, 'data-pg')),
      NES_DATABASE_URL: databaseUrl,
      NES_ADMIN_TOKEN: 'service-test-admin-token',
    }));
  });
  after(async () => {
    await service?.close(0);
    await server?.stop();
  });

  test('a local notebook through HTTP: events, succeeded, the notebook with its parameters', async () => {
    assert.equal(service.adminToken, 'service-test-admin-token');
    await fullRun(api);
  });
});

test('NES_EXECUTOR=kubernetes without a runner image is refused, naming the missing key', async () => {
  await assert.rejects(
    startService({ env: { ...baseEnv(join(ws.root, 'data-k8s')), NES_EXECUTOR: 'kubernetes' } }),
    /NES_K8S_IMAGE: the runner image is required/,
  );
});
