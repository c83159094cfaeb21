/**
 * Fix by push: POST /v1/hooks/github against the GitHub test server's real repository. The
 * push payload's changed paths come from the repository itself (git diff between the commits),
 * signed as GitHub signs (HMAC-SHA256 of the body with the repository's secret). A valid push
 * reruns, at the pushed commit, the failed dates of the opted-in schedules whose notebook (or
 * path prefix) changed; a bad or missing signature changes nothing.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { resolveSource } from '@nes/sources';
import { loadConfig } from '../src/config.ts';
import type { SqlRunStore } from '../src/db/index.ts';
import { signature } from '../src/routes/github-hooks.ts';
import { startTicker } from '../src/schedules/service-wiring.ts';
import type { Ticker } from '../src/schedules/ticker.ts';
import { type Harness, notebookText, startHarness } from './api-harness.ts';
import { FakeClock, finish } from './schedule-support.ts';

const SECRET = 'webhook-secret-of-acme-notebooks';
const clock = new FakeClock('2026-06-01T00:00:00Z');
let h: Harness;
let ticker: Ticker;
let sqlStore: SqlRunStore;

before(async () => {
  h = await startHarness({
    env: { NES_GITHUB_WEBHOOK_SECRET: SECRET },
    services: ({ store, scheduler, bus, artifacts }) => {
      sqlStore = store as SqlRunStore;
      const wired = startTicker({
        db: sqlStore.db,
        store,
        scheduler,
        bus,
        artifacts,
        sourceOptions: {},
        resolve: (uri, options) => resolveSource(uri, { ...options, githubApiUrl: h.github.url }),
        options: { clock: clock.read, intervalMs: 3_600_000 },
        log: () => {},
      });
      ticker = wired.ticker;
      return { schedules: wired.services };
    },
  });
});
after(async () => {
  await ticker?.stop();
  await h?.close();
});

async function pushPayload(before: string, after: string, ref = 'refs/heads/main') {
  const lines = (await h.git.git('diff', '--name-status', before, after)).trim().split('\n');
  const files = { added: [] as string[], modified: [] as string[], removed: [] as string[] };
  for (const line of lines) {
    const [status, path] = line.split('\t') as [string, string];
    (status === 'A' ? files.added : status === 'D' ? files.removed : files.modified).push(path);
  }
  return JSON.stringify({
    ref,
    before,
    after,
    created: false,
    deleted: false,
    forced: false,
    repository: { full_name: 'acme/notebooks', default_branch: 'main' },
    commits: [{ id: after, message: 'fix', ...files }],
    head_commit: { id: after, message: 'fix', ...files },
  });
}

const hook = (body: string, headers: Record<string, string>) =>
  h.app.inject({
    method: 'POST',
    url: '/v1/hooks/github',
    headers: { 'content-type': 'application/json', 'x-github-event': 'push', ...headers },
    payload: body,
  });

async function create(name: string, extra: Record<string, unknown>) {
  const res = await h.app.inject({
    method: 'POST',
    url: '/v1/schedules',
    headers: h.auth(),
    payload: {
      name,
      cron: '0 0 * * *',
      ref: 'main',
      startDate: '2026-06-01T00:00:00Z',
      catchup: 'all',
      maxActiveRuns: 10,
      ...extra,
    },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as { id: string };
}

const states = async (id: string) =>
  (
    await h.app.inject({
      method: 'GET',
      url: `/v1/schedules/${id}/dates?from=2026-06-01T00:00:00Z&to=2026-06-03T00:00:00Z`,
      headers: h.auth(),
    })
  ).json().dates as Array<{ state: string; runId: string; commitSha: string; trigger: string }>;

test('a signed push that fixes the notebook reruns the failed dates at the new commit', async () => {
  const fixme = await create('fixme', {
    notebook: 'github://acme/notebooks/nb/params.ipynb',
    rerunOnPush: true,
  });
  const bystander = await create('bystander', {
    notebook: 'github://acme/notebooks/nb/params.ipynb',
  });
  const byPrefix = await create('by-prefix', {
    notebook: 'github://acme/notebooks/nb/plain.ipynb',
    rerunOnPush: true,
    pushPathPrefix: 'lib/',
  });
  const untouched = await create('untouched', {
    notebook: 'github://acme/notebooks/nb/plain.ipynb',
    rerunOnPush: true,
  });
  clock.set('2026-06-04T00:00:05Z');
  await ticker.pass();
  for (const s of [fixme, bystander, byPrefix, untouched]) {
    const [d1, d2, d3] = await states(s.id);
    await finish(sqlStore, await h.store.getRun(d1?.runId ?? ''), 'succeeded');
    await finish(sqlStore, await h.store.getRun(d2?.runId ?? ''), 'failed');
    await finish(sqlStore, await h.store.getRun(d3?.runId ?? ''), 'failed');
  }
  const broken = h.sha;
  const fixed = await h.git.commit({
    'nb/params.ipynb': notebookText([
      { source: 'alpha = 0.5\nname = "world"\ncount = 3\nmode = "fast"', tags: ['parameters'] },
      'print("fixed")',
    ]),
    'lib/helpers.py': 'HELP = 1\n',
  });
  const body = await pushPayload(broken, fixed);

  // Bad signatures: refused, and nothing is rerun.
  for (const headers of [
    {} as Record<string, string>,
    { 'x-hub-signature-256': signature('another secret', body) },
    { 'x-hub-signature-256': signature(SECRET, `${body} `) },
    { 'x-hub-signature-256': 'sha1=0000' },
  ]) {
    const res = await hook(body, headers);
    assert.equal(res.statusCode, 401, res.body);
    assert.equal(res.json().error.code, 'invalid_signature');
  }
  assert.deepEqual(
    (await states(fixme.id)).map((d) => d.state),
    ['succeeded', 'failed', 'failed'],
  );

  // Signed, but not a push: acknowledged, ignored.
  const ping = await hook(body, {
    'x-github-event': 'ping',
    'x-hub-signature-256': signature(SECRET, body),
  });
  assert.equal(ping.statusCode, 200);
  assert.equal(ping.json().ignored, true);
  // A push to another branch: the schedules follow main.
  const other = await pushPayload(broken, fixed, 'refs/heads/feature');
  const elsewhere = await hook(other, { 'x-hub-signature-256': signature(SECRET, other) });
  assert.deepEqual(elsewhere.json().reruns, []);

  const res = await hook(body, { 'x-hub-signature-256': signature(SECRET, body) });
  assert.equal(res.statusCode, 202, res.body);
  assert.equal(res.json().commit, fixed);
  assert.deepEqual(
    res
      .json()
      .reruns.map((r: { name: string; dates: string[] }) => [
        r.name,
        r.dates.map((d) => d.slice(0, 10)),
      ]),
    [
      ['by-prefix', ['2026-06-02', '2026-06-03']],
      ['fixme', ['2026-06-02', '2026-06-03']],
    ],
  );
  await ticker.pass();
  const after = await states(fixme.id);
  assert.deepEqual(
    after.map((d) => [d.state, d.commitSha, d.trigger]),
    [
      ['succeeded', broken, 'catchup'],
      ['running', fixed, 'push'],
      ['running', fixed, 'push'],
    ],
  );
  const rerun = await h.store.getRun(after[1]?.runId ?? '');
  assert.equal(rerun?.commitSha, fixed);
  assert.equal(rerun?.labels['nes/trigger'], 'push');
  assert.deepEqual(
    (await states(bystander.id)).map((d) => d.state),
    ['succeeded', 'failed', 'failed'],
  );

  // The same delivery again (GitHub redelivers): the dates are under way, nothing doubles.
  const again = await hook(body, { 'x-hub-signature-256': signature(SECRET, body) });
  assert.deepEqual(
    again.json().reruns.map((r: { dates: string[] }) => r.dates.length),
    [0, 0],
  );
});

test('webhook secrets per repository come from a JSON file; a bad file is a clear error', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nes-hook-'));
  const file = join(dir, 'secrets.json');
  await writeFile(file, JSON.stringify({ 'Acme/Notebooks': 's1' }));
  const config = loadConfig({ NES_DATA_DIR: dir, NES_GITHUB_WEBHOOK_SECRETS_FILE: file });
  assert.deepEqual(config.githubWebhookSecrets, {
    default: null,
    byRepository: { 'acme/notebooks': 's1' },
  });
  await writeFile(file, JSON.stringify({ 'not a repo': 's1' }));
  assert.throws(
    () => loadConfig({ NES_DATA_DIR: dir, NES_GITHUB_WEBHOOK_SECRETS_FILE: file }),
    /NES_GITHUB_WEBHOOK_SECRETS_FILE: entry "not a repo"/,
  );
  await rm(dir, { recursive: true, force: true });
});
