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

/** GitHub's cap on the commits of a push event in its older deliveries and its timeline. */
const PAYLOAD_COMMITS = 20;

/**
 * A push payload as GitHub sends it, read from the repository: the commits of before..after
 * (oldest first, the latest PAYLOAD_COMMITS of them), each with its added, modified and removed
 * paths, and head_commit.
 */
async function pushPayload(
  before: string,
  after: string,
  options: { ref?: string; forced?: boolean } = {},
): Promise<string> {
  const ids = (await h.git.git('rev-list', '--reverse', `${before}..${after}`))
    .split('\n')
    .filter((line) => line !== '');
  const commits = [];
  for (const id of ids) {
    const files = { added: [] as string[], modified: [] as string[], removed: [] as string[] };
    const lines = await h.git.git('diff-tree', '--no-commit-id', '--name-status', '-r', id);
    for (const line of lines.split('\n').filter((l) => l !== '')) {
      const [status, path] = line.split('\t') as [string, string];
      (status === 'A' ? files.added : status === 'D' ? files.removed : files.modified).push(path);
    }
    commits.push({ id, message: `commit ${id.slice(0, 7)}`, distinct: true, ...files });
  }
  return JSON.stringify({
    ref: options.ref ?? 'refs/heads/main',
    before,
    after,
    created: false,
    deleted: false,
    forced: options.forced ?? false,
    repository: { full_name: 'acme/notebooks', default_branch: 'main' },
    commits: commits.slice(-PAYLOAD_COMMITS),
    head_commit: commits.at(-1) ?? null,
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
  const other = await pushPayload(broken, fixed, { ref: 'refs/heads/feature' });
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
  assert.equal(again.statusCode, 202, again.body);
  assert.deepEqual(again.json().reruns, []);
  assert.deepEqual(await states(fixme.id), after);
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

/** A schedule on a new notebook at `path` whose three dates (1-3 June) all failed. */
async function failingSchedule(name: string, path: string): Promise<string> {
  await h.git.commit({ [path]: notebookText(['raise ValueError("broken")']) }, `add ${path}`);
  const s = await create(name, { notebook: `github://acme/notebooks/${path}`, rerunOnPush: true });
  await ticker.pass();
  for (const date of await states(s.id)) {
    await finish(sqlStore, await h.store.getRun(date.runId), 'failed');
  }
  assert.deepEqual(
    (await states(s.id)).map((d) => d.state),
    ['failed', 'failed', 'failed'],
  );
  return s.id;
}

const signed = (body: string) => hook(body, { 'x-hub-signature-256': signature(SECRET, body) });

const rerunOf = (res: { json(): unknown }, id: string) =>
  (res.json() as { reruns: Array<{ scheduleId: string; dates: string[] }> }).reruns.find(
    (r) => r.scheduleId === id,
  );

const compareRequests = () => h.github.requests.filter((r) => r.path.includes('/compare/'));

test('a push of 25 commits whose first fixed the notebook reruns the failed dates (the payload lists the last 20: the compare API tells)', async () => {
  const id = await failingSchedule('long-push', 'nb/long.ipynb');
  const fixedNotebook = notebookText([
    { source: 'alpha = 0.5\nname = "world"', tags: ['parameters'] },
    'print("long")',
  ]);
  const before = (await h.git.git('rev-parse', 'HEAD')).trim();
  await h.git.commit({ 'nb/long.ipynb': fixedNotebook }, 'fix the long notebook');
  for (let i = 0; i < 24; i++) await h.git.commit({ [`data/part-${i}.csv`]: `${i}\n` });
  const after = (await h.git.git('rev-parse', 'HEAD')).trim();
  const body = await pushPayload(before, after);
  const payload = JSON.parse(body) as { commits: Array<{ modified: string[]; added: string[] }> };
  // What the payload alone would say: the notebook's commit is not in it.
  assert.equal(payload.commits.length, 20);
  assert.ok(payload.commits.every((c) => ![...c.added, ...c.modified].includes('nb/long.ipynb')));

  const asked = compareRequests().length;
  const res = await signed(body);
  assert.equal(res.statusCode, 202, res.body);
  assert.equal(res.json().changesFrom, 'compare');
  assert.equal(compareRequests().length, asked + 1);
  assert.deepEqual(
    rerunOf(res, id)?.dates.map((d) => d.slice(0, 10)),
    ['2026-06-01', '2026-06-02', '2026-06-03'],
  );
  await ticker.pass();
  const rerun = await states(id);
  assert.deepEqual(
    rerun.map((d) => [d.state, d.commitSha, d.trigger]),
    Array(3).fill(['running', after, 'push']),
  );
});

test("a push whose comparison lists 300 files (GitHub's cap) is read commit by commit", async () => {
  const id = await failingSchedule('wide-push', 'nb/wide.ipynb');
  const before = (await h.git.git('rev-parse', 'HEAD')).trim();
  await h.git.commit({ 'nb/wide.ipynb': notebookText(['print("wide")']) }, 'fix wide');
  // 320 files that sort before nb/: the comparison's 300 are all of them.
  const bulk: Record<string, string> = {};
  for (let i = 0; i < 320; i++) bulk[`bulk/f${String(i).padStart(3, '0')}.txt`] = `${i}`;
  await h.git.commit(bulk, 'bulk');
  for (let i = 0; i < 19; i++) await h.git.commit({ [`data/more-${i}.csv`]: `${i}` });
  const after = (await h.git.git('rev-parse', 'HEAD')).trim();

  const compare = await fetch(
    `${h.github.url}/repos/acme/notebooks/compare/${before}...${after}?per_page=1`,
  );
  const answer = (await compare.json()) as {
    files: Array<{ filename: string }>;
    total_commits: number;
  };
  assert.equal(answer.files.length, 300);
  assert.equal(answer.total_commits, 21);
  assert.ok(!answer.files.some((f) => f.filename === 'nb/wide.ipynb'));
  assert.match(compare.headers.get('link') ?? '', /rel="next"/);

  const res = await signed(await pushPayload(before, after));
  assert.equal(res.statusCode, 202, res.body);
  assert.equal(res.json().changesFrom, 'commits');
  assert.equal(rerunOf(res, id)?.dates.length, 3);
  // The bulk commit's 320 files came in two pages.
  const bulkCommit = (await h.git.git('rev-parse', `${after}~19`)).trim();
  assert.equal(
    h.github.requests.filter((r) => r.path.endsWith(`/commits/${bulkCommit}`)).length,
    2,
  );
});

test('a forced push is compared both ways; a deleted branch is acknowledged and changes nothing', async () => {
  const id = await failingSchedule('forced-push', 'nb/forced.ipynb');
  const base = (await h.git.git('rev-parse', 'HEAD')).trim();
  // The branch had a commit that touched the notebook; a forced push replaces it with one that
  // does not touch it: the notebook at the new head differs from the one the dates ran with.
  await h.git.commit({ 'nb/forced.ipynb': notebookText(['print("tried")']) }, 'try');
  const dropped = (await h.git.git('rev-parse', 'HEAD')).trim();
  await h.git.git('reset', '-q', '--hard', base);
  const after = await h.git.commit({ 'README.md': 'forced\n' }, 'rewrite');
  const body = await pushPayload(dropped, after, { forced: true });
  // The payload lists only the new commit, which does not name the notebook.
  assert.deepEqual(
    (JSON.parse(body) as { commits: Array<{ modified: string[] }> }).commits.map((c) => c.modified),
    [['README.md']],
  );
  const res = await signed(body);
  assert.equal(res.statusCode, 202, res.body);
  assert.equal(res.json().changesFrom, 'compare');
  assert.equal(rerunOf(res, id)?.dates.length, 3);

  await ticker.pass();
  const attempts = async () =>
    (await states(id)).map((d) => [d.runId, d.commitSha, d.trigger] as const);
  const before = await attempts();
  assert.deepEqual(
    before.map(([, commit, trigger]) => [commit, trigger]),
    Array(3).fill([after, 'push']),
  );
  const deletion = JSON.stringify({
    ref: 'refs/heads/main',
    before: after,
    after: '0000000000000000000000000000000000000000',
    created: false,
    deleted: true,
    forced: false,
    repository: { full_name: 'acme/notebooks', default_branch: 'main' },
    commits: [],
    head_commit: null,
  });
  const gone = await signed(deletion);
  assert.equal(gone.statusCode, 200, gone.body);
  assert.equal(gone.json().ignored, true);
  assert.match(gone.json().reason, /deleted the branch/);
  assert.deepEqual(await attempts(), before);
});
