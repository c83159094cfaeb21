/**
 * The history page in a real Chromium against the real service and real kernels: two runs of a
 * notebook whose second cell sleeps longer the second time; the page names that cell as the one
 * that got slower (durations from the runs' own papermill metadata), leaves the unchanged cell
 * alone, and links the full comparison.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { type Harness, notebookJson, startHarness, waitForStatus } from './harness.ts';

const SLOW = { timeout: 120_000 };

let harness: Harness;
let page: Page;
const pageErrors: string[] = [];

before(async () => {
  harness = await startHarness({
    'slowing.ipynb': notebookJson(['pause = 0.05', 'import time\ntime.sleep(pause)', 'x = 1'], {
      parameters: true,
    }),
  });
  page = await harness.page();
  page.on('pageerror', (error) => pageErrors.push(error.message));
});
after(() => harness?.close());

describe('history page', () => {
  test('names the cell that got slower between the last two successes', async () => {
    const notebook = harness.notebook('slowing.ipynb');
    const ids: string[] = [];
    for (const pause of [0.05, 3]) {
      const { status, body } = await harness.api<{ id: string }>('POST', '/v1/runs', {
        notebook,
        parameters: { pause },
      });
      assert.equal(status, 201);
      await waitForStatus(harness, body.id, ['succeeded'], 120_000);
      ids.push(body.id);
    }
    await page.goto(harness.signInUrl(`/history?notebook=${encodeURIComponent(notebook)}`));
    const table = page.getByRole('table', { name: 'Cell durations' });
    await table.waitFor(SLOW);
    // The sleeping cell, 3 s slower. (Other cells may jitter on a loaded machine: not asserted.)
    const sleeping = table.getByRole('row').filter({ hasText: 'import time' });
    assert.equal(await sleeping.count(), 1);
    assert.match((await sleeping.getAttribute('aria-label')) ?? '', /^Cell 2 \(slower\)$/);
    const change = /\+(\d+(?:\.\d)?) s \(×/.exec((await sleeping.textContent()) ?? '');
    assert.ok(change && Number(change[1]) >= 2.5, `${await sleeping.textContent()}`);
    await page.getByText(/\d cells? got slower/).waitFor();
    const compare = page.getByRole('link', { name: 'Compare these runs' });
    assert.equal(
      await compare.getAttribute('href'),
      `/compare?a=${encodeURIComponent(ids[0] as string)}&b=${encodeURIComponent(ids[1] as string)}`,
    );
    await harness.screenshot(page, 'history-cell-changes');
    assert.deepEqual(pageErrors, []);
  });
});
