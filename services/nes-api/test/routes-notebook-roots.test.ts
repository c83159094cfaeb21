/** GET /v1/notebook-roots: the notebooks under NES_NOTEBOOK_ROOTS, for the viewer's picker. */
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Harness, PARAMS_NOTEBOOK, startHarness } from './api-harness.ts';

let h: Harness;

before(async () => {
  h = await startHarness();
  await mkdir(join(h.roots, '.hidden'), { recursive: true });
  await writeFile(join(h.roots, '.hidden', 'secret.ipynb'), PARAMS_NOTEBOOK);
  await mkdir(join(h.roots, 'team', '.ipynb_checkpoints'), { recursive: true });
  await writeFile(
    join(h.roots, 'team', '.ipynb_checkpoints', 'local-checkpoint.ipynb'),
    PARAMS_NOTEBOOK,
  );
  await writeFile(join(h.roots, 'team', 'notes.txt'), 'not a notebook');
  await writeFile(join(h.roots, 'a.ipynb'), PARAMS_NOTEBOOK);
  // A link out of the root (to the work dir, which holds secret.ipynb) is not followed.
  await symlink(h.work, join(h.roots, 'outside'));
});
after(() => h.close());

test('lists the notebooks under each root, sorted, without hidden folders, checkpoints or links', async () => {
  const res = await h.app.inject({
    method: 'GET',
    url: '/v1/notebook-roots',
    headers: h.auth(h.tokens.read),
  });
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json() as {
    roots: Array<{
      root: string;
      truncated: boolean;
      notebooks: Array<{ path: string; relative: string; size: number; modifiedAt: string }>;
    }>;
  };
  assert.equal(body.roots.length, 1);
  const [root] = body.roots;
  assert.ok(root);
  assert.equal(root.truncated, false);
  assert.deepEqual(
    root.notebooks.map((n) => n.relative),
    ['a.ipynb', 'team/local.ipynb'],
  );
  const local = root.notebooks[1];
  assert.equal(local?.path, join(root.root, 'team', 'local.ipynb'));
  assert.equal(local?.size, Buffer.byteLength(PARAMS_NOTEBOOK));
  assert.ok(!Number.isNaN(Date.parse(local?.modifiedAt ?? '')));
});

test('needs a token', async () => {
  const res = await h.app.inject({ method: 'GET', url: '/v1/notebook-roots' });
  assert.equal(res.statusCode, 401);
});
