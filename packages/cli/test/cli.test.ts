/** `nes` spawned for real against the contract-speaking test server. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PARAMETER_FLAGS } from '@nes/notebook';
import { type ContractServer, startContractServer } from '../../client/test/contract-server.ts';

const BIN = fileURLToPath(new URL('../bin/nes.ts', import.meta.url));
let server: ContractServer;
const dir = mkdtempSync(join(tmpdir(), 'nes-cli-'));

before(async () => {
  server = await startContractServer();
});
after(() => server.close());

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function nes(
  args: string[],
  env: Record<string, string> = {},
  onSpawn?: (pid: number) => void,
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, NES_URL: server.url, NES_TOKEN: 'admin-token', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
      if (onSpawn && stderr.includes('running')) {
        onSpawn(child.pid as number);
        onSpawn = undefined;
      }
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const lastBody = (path: string) => {
  const r = server.requests.filter((q) => q.path === path && q.method === 'POST').at(-1);
  assert.ok(r, `a POST to ${path}`);
  return r;
};

test('submit --wait: exit 0 on success, --json prints the final run, output URI file written', async () => {
  const uriFile = join(dir, 'uri');
  const r = await nes([
    'submit',
    'examples/ok.ipynb',
    '--wait',
    '--json',
    '--output-uri-file',
    uriFile,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const run = JSON.parse(r.stdout);
  assert.equal(run.status, 'succeeded');
  assert.deepEqual(run.results.values, { rows: 3 }, 'the results travel with the final run');
  assert.equal(readFileSync(uriFile, 'utf8'), run.outputUri);
  assert.match(r.stderr, /succeeded, output file:\/\/\/out\//);
});

test('submit --wait: cell_error exits 1, as nes-run does', async () => {
  const r = await nes(['submit', 'fail.ipynb', '--wait']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /failed \(cell_error at cell 1: ValueError: boom\)/);
  const statuses = [...r.stderr.matchAll(/^run-\d+: (\w+)$/gm)].map((m) => m[1]);
  assert.deepEqual(statuses, [...new Set(statuses)], `each status once, in order: ${r.stderr}`);
  assert.match(r.stdout, /^run-\d+\n$/);
});

test('submit --wait: SIGTERM cancels the run and exits 130', async () => {
  const r = await nes(['submit', 'slow.ipynb', '--wait'], {}, (pid) => {
    setTimeout(() => process.kill(pid, 'SIGTERM'), 50);
  });
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /SIGTERM: cancelling run/);
  assert.match(r.stderr, /cancelled/);
  assert.ok(server.requests.some((q) => q.path.endsWith('/cancel')));
});

test('submit: parameters parsed like nes-run (-b base64, -f YAML, -y, -p guessed, -r raw), labels, flags', async () => {
  const file = join(dir, 'params.yaml');
  writeFileSync(file, 'alpha: 0.5\nflag: yes\nlist: [1, 2]\nname: from-file\n');
  const r = await nes([
    'submit',
    'github://o/r/nb.ipynb',
    '-y',
    'gamma: on\nalpha: 0.25',
    '-f',
    file,
    '-b',
    Buffer.from('beta: 010\nname: from-base64\n').toString('base64'),
    '-p',
    'count',
    '3',
    '-p',
    'ratio',
    '1.0',
    '-p',
    'on',
    'True',
    '-p',
    'none',
    'None',
    '-r',
    'name',
    '007',
    '--ref',
    'main',
    '--label',
    'team=data',
    '--label',
    'dag=a=b',
    '--kernel',
    'python3',
    '--timeout',
    '60',
    '--idempotency-key',
    'k-1',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^run-\d+\n$/);
  const req = lastBody('/v1/runs');
  assert.equal(req.headers['idempotency-key'], 'k-1');
  assert.equal(
    req.body,
    // papermill's order whatever the command line's: -b < -f < -y < -p < -r.
    '{"notebook":"github://o/r/nb.ipynb","ref":"main","parameters":{"beta":8,"name":"007","alpha":0.25,"flag":true,"list":[1,2],"gamma":true,"count":3,"ratio":1.0,"on":true,"none":null},"kernel":"python3","labels":{"team":"data","dag":"a=b"},"timeoutSeconds":60}',
  );
});

test('get, list (table and --json), logs, open, inspect, cancel, rerun', async () => {
  const sub = await nes(['submit', 'list-me.ipynb', '--label', 'suite=cli', '--wait']);
  assert.equal(sub.code, 0, sub.stderr);
  const id = sub.stdout.trim();

  const get = await nes(['get', id]);
  assert.equal(get.code, 0);
  assert.match(get.stdout, new RegExp(`^id +${id}$`, 'm'));
  assert.match(get.stdout, /^status +succeeded$/m);

  const table = await nes(['list', '--label', 'suite=cli', '--status', 'succeeded']);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trimEnd().split('\n');
  assert.match(lines[0] ?? '', /^ID +STATUS +CELLS +DURATION +CREATED +NOTEBOOK$/);
  assert.match(lines[1] ?? '', new RegExp(`^${id} +succeeded +3/3 .* list-me\\.ipynb$`));
  const listReq = server.requests.filter((q) => q.path === '/v1/runs' && q.method === 'GET').at(-1);
  assert.deepEqual(listReq?.query.getAll('label'), ['suite=cli']);
  assert.deepEqual(listReq?.query.getAll('status'), ['succeeded']);

  const listJson = await nes(['list', '--json', '--limit', '1']);
  assert.equal(JSON.parse(listJson.stdout).length, 1);

  const logs = await nes(['logs', id, '-f']);
  assert.equal(logs.stdout, 'cell 1 done\ncell 2 done\ncell 3 done\n');

  const open = await nes(['open', id]);
  assert.equal(open.stdout, `${server.url}/runs/${id}\n`);

  const inspect = await nes(['inspect', 'nb.ipynb', '--ref', 'v1', '--json']);
  assert.equal(JSON.parse(inspect.stdout).parameters[0].name, 'alpha');
  const inspectTable = await nes(['inspect', 'nb.ipynb']);
  assert.match(inspectTable.stdout, /^alpha +float +0\.5 +learning rate$/m);

  const cancel = await nes(['cancel', id, '--json']);
  assert.equal(JSON.parse(cancel.stdout).status, 'succeeded');

  const rerun = await nes(['rerun', id, '-p', 'x', '2', '--wait', '--json']);
  assert.equal(rerun.code, 0, rerun.stderr);
  assert.equal(lastBody(`/v1/runs/${id}/rerun`).body, '{"parameters":{"x":2}}');
  assert.notEqual(JSON.parse(rerun.stdout).id, id);
});

test('sweep: grid values guessed, date ranges, --wait exit code', async () => {
  const grid = await nes([
    'sweep',
    'nb.ipynb',
    '--grid',
    'a=1,2.5',
    '--grid',
    'b=x,True',
    '--concurrency',
    '2',
    '--wait',
    '--json',
  ]);
  assert.equal(grid.code, 0, grid.stderr);
  assert.equal(
    lastBody('/v1/sweeps').body,
    '{"notebook":"nb.ipynb","parameters":{},"grid":{"a":[1,2.5],"b":["x",true]},"maxConcurrency":2}',
  );
  assert.equal(JSON.parse(grid.stdout).status, 'succeeded');
  const dates = await nes([
    'sweep',
    'fail.ipynb',
    '--dates',
    '2026-01-30..2026-02-01',
    '--param-name',
    'day',
    '--wait',
  ]);
  assert.equal(dates.code, 1, dates.stderr);
  assert.match(
    lastBody('/v1/sweeps').body,
    /"dateRange":\{"parameter":"day","start":"2026-01-30","end":"2026-02-01"\}/,
  );
});

test("the parameter flags are nes-run's: same letters, names and help", async () => {
  const help = await nes(['submit', 'nb.ipynb', '--help']);
  assert.equal(help.code, 0, help.stderr);
  const flat = help.stdout.replace(/\s+/g, ' ');
  for (const [name, flag] of Object.entries(PARAMETER_FLAGS)) {
    assert.ok(flat.includes(`-${flag.alias}, --${name}`), name);
    assert.ok(flat.includes(flag.describe), flag.describe);
  }
  const missing = await nes(['submit', 'nb.ipynb', '-r', 'only-name']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /-r\/--parameters_raw takes two values: NAME VALUE/);
});

test('bad usage exits 2 with a clear message', async () => {
  for (const args of [
    ['submit'],
    ['submit', 'nb.ipynb', '-p', 'only-name'],
    ['submit', 'nb.ipynb', '-r'],
    ['submit', 'nb.ipynb', '-b', 'not base64!'],
    ['submit', 'nb.ipynb', '-p', '1bad', 'x'],
    ['submit', 'nb.ipynb', '--label', 'novalue'],
    ['submit', 'nb.ipynb', '--timeout', 'soon'],
    ['list', '--status', 'done'],
    ['sweep', 'nb.ipynb'],
    ['sweep', 'nb.ipynb', '--dates', '2026-01-01..2026-01-02'],
    ['frobnicate'],
    [],
  ]) {
    const r = await nes(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /nes/);
    assert.equal(r.stdout, '');
  }
});

test('API errors: 401/403 explain the token; source errors exit 3; refused connection names the URL', async () => {
  const noToken = await nes(['get', 'x'], { NES_TOKEN: '' });
  assert.equal(noToken.code, 2);
  assert.match(noToken.stderr, /needs a token \(401\): set NES_TOKEN or --token/);
  const wrong = await nes(['get', 'x', '--token', 'sekrit-wrong']);
  assert.match(wrong.stderr, /rejected the token/);
  assert.ok(!wrong.stderr.includes('sekrit-wrong'));
  const readOnly = await nes(['submit', 'nb.ipynb'], { NES_TOKEN: 'read-token' });
  assert.equal(readOnly.code, 2);
  assert.match(readOnly.stderr, /403.*"submit" scope/);
  const missing = await nes(['submit', 'missing.ipynb']);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /notebook missing\.ipynb not found \(422 path_not_found/);
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const refused = await nes(['get', 'x'], { NES_URL: `http://127.0.0.1:${port}` });
  assert.equal(refused.code, 7);
  const expected = `cannot reach the NES API at http://127.0.0.1:${port}: connection refused`;
  assert.ok(refused.stderr.includes(expected), refused.stderr);
});
