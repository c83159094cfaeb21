/**
 * Everyday triage in a real Chromium against the real service on real kernels: why a run failed,
 * read in the runs list; the New-run form from picking a notebook to a running run; field errors
 * for every parameter type, client side and from the service's 422; cancel with a visible
 * confirmation and its own wording, and a timed-out run's; one cell numbering on a failed run
 * (banner, cell, durations, API, CLI); the runs table at 800 px keeping its key columns. Every
 * page is saved as a screenshot at 1440 and 800 px under test-artifacts/viewer/.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Run } from '@nes/client';
import type { Page } from 'playwright-core';
import { failureText } from '../../../packages/cli/src/format.ts';
import { BROKEN, GREET, SLEEPY } from './fixtures.ts';
import { type Harness, notebookJson, startHarness, waitForStatus } from './harness.ts';

/** One parameter of every type the inspection's schema knows. */
const TYPED_PARAMETERS = [
  'from typing import Literal, Optional',
  'count: int = 2',
  'rate: float = 0.5',
  'flag: bool = False',
  'name: str = "nes"',
  'mode: Literal["fast", "slow"] = "fast"',
  'ids: list[int] = [1, 2]',
  'weights: dict[str, float] = {"a": 1.0}',
  'limit: Optional[int] = None',
].join('\n');
const TYPED = notebookJson([TYPED_PARAMETERS, 'print("typed", count, rate, ids)'], {
  parameters: true,
});

let harness: Harness;
let page: Page;
const pageErrors: string[] = [];

async function submit(
  name: string,
  parameters: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): Promise<string> {
  const { status, body } = await harness.api<Run>('POST', '/v1/runs', {
    notebook: harness.notebook(name),
    parameters,
    ...extra,
  });
  assert.equal(status, 201, JSON.stringify(body));
  return body.id;
}

async function getRun(id: string): Promise<Run> {
  return (await harness.api<Run>('GET', `/v1/runs/${id}`)).body;
}

/** Screenshots of the page as it is, at 1440 and at 800 px wide. */
async function shoot(name: string): Promise<void> {
  for (const width of [1440, 800]) {
    await page.setViewportSize({ width, height: 900 });
    await page.waitForTimeout(250);
    await harness.screenshot(page, `${name}-${width}`);
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

let brokenId = '';
let sleepyCancelledId = '';

before(async () => {
  harness = await startHarness({
    'broken.ipynb': BROKEN,
    'sleepy.ipynb': SLEEPY,
    'greet.ipynb': GREET,
    'typed.ipynb': TYPED,
    'team/typed-copy.ipynb': TYPED,
  });
  page = await harness.page();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(harness.signInUrl('/'));
  brokenId = await submit('broken.ipynb');
  await waitForStatus(harness, brokenId, ['failed']);
});
after(() => harness?.close());

describe('triage', () => {
  test('a failed row in the runs list names the failure class and the error, whole on hover', async () => {
    await page.goto(`${harness.service.url}/?status=failed`);
    const row = page.locator(`tr[data-run-id="${brokenId}"]`);
    await row.waitFor();
    const line = row.locator('.failure-line');
    assert.equal(await line.locator('.failure-title').textContent(), 'Cell error');
    assert.equal(
      await line.locator('.failure-message').textContent(),
      'ValueError: broken on purpose (cell 3)',
    );
    const hover = (await line.getAttribute('title')) ?? '';
    assert.match(hover, /^Cell error \(cell 3\)\nValueError: broken on purpose/);
    await shoot('runs-failed-filter');
  });

  test('one cell numbering on a failed run: banner, cell, durations panel, API and CLI', async () => {
    const run = await getRun(brokenId);
    // BROKEN: x = 1 (parameters, cell 1), papermill's injected cell, print (2), raise (3).
    assert.equal(run.error?.cellNumber, 3);
    assert.match(failureText(run), /^cell_error at cell 3: ValueError: broken on purpose/);
    await page.goto(`${harness.service.url}/runs/${brokenId}`);
    const failure = page.getByRole('alert', { name: 'Failure' });
    await failure.getByText('A cell raised an error in cell 3').waitFor();
    const notebookBanner = page.getByRole('article', { name: 'Execution error' });
    await notebookBanner.getByText('Execution failed at cell 3').waitFor();
    // One jump control: the page's; papermill's banner in the notebook offers none.
    assert.equal(await notebookBanner.getByRole('button').count(), 0);
    const cell = page.getByRole('article', { name: 'Code cell 3' });
    await cell.waitFor();
    assert.equal(await cell.getAttribute('data-state'), 'failed');
    const durations = page.getByRole('list', { name: 'Cell durations, slowest first' });
    await durations.getByRole('button', { name: /^Cell 3: .*, failed$/ }).waitFor();
    // Cells after the failure never ran: "Not run", not "Pending".
    const after = page.getByRole('article', { name: 'Code cell 4' });
    await after.waitFor();
    assert.equal(await after.getAttribute('data-state'), 'not_run');
    assert.equal(await after.locator('.nes-status').textContent(), 'Not run');
    await page.evaluate(() => window.scrollTo(0, 0));
    await failure.getByRole('button', { name: 'Go to cell 3' }).click();
    await page.locator('.nes-cell-focused[aria-label="Code cell 3"]').waitFor();
    // Keyboard: k to the previous code cell, e back to the error.
    await page.keyboard.press('k');
    await page.locator('.nes-cell-focused[aria-label="Code cell 2"]').waitFor();
    await page.keyboard.press('e');
    await page.locator('.nes-cell-focused[aria-label="Code cell 3"]').waitFor();
    await page.evaluate(() => window.scrollTo(0, 0));
    await shoot('run-failed');
  });

  test('New run: pick a notebook in the folders, its parameters load at once, submit opens the running run', async () => {
    await page.goto(`${harness.service.url}/`);
    await page.getByRole('button', { name: 'New run' }).click();
    const form = page.getByRole('form', { name: 'New run' });
    await form.getByText('Pick a notebook first').waitFor();
    await form.getByRole('searchbox', { name: 'Filter notebooks' }).fill('sleepy');
    assert.equal(await form.getByRole('button', { name: 'greet.ipynb' }).count(), 0);
    await form.getByRole('button', { name: 'sleepy.ipynb' }).click();
    const seconds = form.getByLabel(/^seconds/);
    await seconds.waitFor();
    assert.equal(await seconds.inputValue(), '60');
    await form.getByText(/Runs on the python3 kernel \(Python\)/).waitFor();
    await shoot('new-run');
    await seconds.fill('30');
    await form.getByRole('button', { name: 'Run notebook' }).click();
    await page.waitForURL(/\/runs\/[^/]+$/);
    const id = decodeURIComponent(page.url().split('/runs/')[1] ?? '');
    const run = await waitForStatus(harness, id, ['running']);
    assert.deepEqual(run.parameters, { seconds: 30 });
    await page.getByText('sleeping').first().waitFor();
    await shoot('run-running');

    // Cancel needs a visible confirmation; the safe choice has the focus.
    await page.getByRole('button', { name: 'Cancel run' }).click();
    const dialog = page.getByRole('dialog', { name: 'Cancel run' });
    await dialog.getByText('Stop this run?').waitFor();
    assert.equal(
      await page.evaluate(() => document.activeElement?.textContent),
      'Keep running',
      'the focused button keeps the run',
    );
    await shoot('run-cancel-confirm');
    await dialog.getByRole('button', { name: 'Keep running' }).click();
    assert.equal(await dialog.count(), 0);
    await page.waitForTimeout(500);
    assert.equal((await getRun(id)).status, 'running', 'closing the confirmation keeps the run');

    await page.getByRole('button', { name: 'Cancel run' }).click();
    await dialog.getByRole('button', { name: 'Yes, cancel the run' }).click();
    await waitForStatus(harness, id, ['cancelled'], 30_000);
    sleepyCancelledId = id;
    // Its own wording: when, after how long, which cell was running; not the failure banner.
    const ended = page.getByRole('status', { name: 'How the run ended' });
    await ended
      .getByText(
        /Cancelled by admin at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d after .*, while cell 3 was running\./,
      )
      .waitFor();
    assert.equal(await page.getByRole('alert', { name: 'Failure' }).count(), 0);
    await ended.getByRole('button', { name: 'Go to cell 3' }).waitFor();
    const stopped = page.getByRole('article', { name: 'Code cell 3' });
    await stopped.waitFor();
    assert.equal(await stopped.getAttribute('data-state'), 'stopped');
    await shoot('run-cancelled');
  });

  test('a cancelled row in the list says so, not "failed"', async () => {
    assert.ok(sleepyCancelledId, 'the previous test cancelled a run');
    await page.goto(`${harness.service.url}/`);
    const row = page.locator(`tr[data-run-id="${sleepyCancelledId}"]`);
    await row.waitFor();
    assert.equal(await row.locator('.failure-title').textContent(), 'Cancelled');
  });

  test('a run over its time limit reads as timed out, with the limit written for people', async () => {
    const id = await submit('sleepy.ipynb', {}, { timeoutSeconds: 3 });
    await waitForStatus(harness, id, ['timed_out'], 60_000);
    await page.goto(`${harness.service.url}/runs/${id}`);
    const ended = page.getByRole('status', { name: 'How the run ended' });
    await ended.getByText(/Stopped at its time limit at .* while cell 3 was running\./).waitFor();
    const detail = (await ended.textContent()) ?? '';
    assert.doesNotMatch(detail, /\d\.\d{4,}/, `no machine-precision seconds: ${detail}`);
    assert.equal(await page.getByRole('button', { name: /failing cell/i }).count(), 0);
    await ended
      .getByText('Its time limit is 3.0 s (timeoutSeconds), counted from when it started.')
      .waitFor();
    // papermill's banner in the notebook says the same, not "Execution failed".
    await page
      .getByRole('article', { name: 'Execution error' })
      .getByText('Stopped at its time limit at cell 3')
      .waitFor();
    await shoot('run-timed-out');
  });

  test('field errors for every parameter type, as typed and from the service', async () => {
    await page.goto(`${harness.service.url}/`);
    await page.getByRole('button', { name: 'New run' }).click();
    const form = page.getByRole('form', { name: 'New run' });
    await form.getByRole('button', { name: 'typed.ipynb', exact: true }).click();
    const field = (name: string) => form.locator(`#new-run-${name}`);
    const errorOf = (name: string) =>
      form
        .locator('.param-field', { has: page.locator(`#new-run-${name}`) })
        .locator('.field-error');
    await field('count').waitFor();
    const bad: Array<[string, string, RegExp]> = [
      ['count', '1.5', /count must be a whole number/],
      ['rate', 'abc', /rate must be a number/],
      ['ids', '["x"]', /ids must be a whole number \(at \[0\]\)/],
      ['weights', '{"a": "heavy"}', /weights must be a number \(at \["a"\]\)/],
      ['limit', 'none', /limit must be a whole number/],
    ];
    for (const [name, text, message] of bad) {
      await field(name).fill(text);
      await errorOf(name).waitFor();
      assert.match((await errorOf(name).textContent()) ?? '', message);
      assert.equal(await field(name).getAttribute('aria-invalid'), 'true');
    }
    // The kinds that cannot hold a wrong value are controls that offer only right ones.
    assert.equal(await field('flag').getAttribute('type'), 'checkbox');
    assert.deepEqual(await field('mode').locator('option').allTextContents(), ['fast', 'slow']);
    await form.getByText('Fix the 5 fields marked in red').waitFor();
    await shoot('new-run-errors');
    // aria-disabled, not disabled: it can be clicked, and says again what is missing.
    await form.getByRole('button', { name: 'Run notebook' }).click({ force: true });
    await form.getByRole('alert').getByText('Fix the 5 fields marked in red').waitFor();
    const before = (await harness.api<{ runs: Run[] }>('GET', '/v1/runs?limit=100')).body.runs
      .length;

    // Fixed; then the notebook changes under the form (someone saved it meanwhile): the service's
    // 422 names the parameter, and its message lands on that field.
    await field('count').fill('3');
    await field('rate').fill('2');
    await field('ids').fill('[3]');
    await field('weights').fill('{"b": 2}');
    await field('limit').fill('');
    await form.getByText(/Fix the/).waitFor({ state: 'detached' });
    writeFileSync(
      harness.notebook('typed.ipynb'),
      notebookJson([TYPED_PARAMETERS.replace('count: int = 2', 'count: str = "two"'), 'print(1)'], {
        parameters: true,
      }),
    );
    await form.getByRole('button', { name: 'Run notebook' }).click();
    await errorOf('count')
      .getByText(/parameter "count"/)
      .waitFor();
    await form.getByText('The service refused some parameters').waitFor();
    assert.equal(await errorOf('rate').count(), 0, 'only the refused field is marked');
    const afterCount = (await harness.api<{ runs: Run[] }>('GET', '/v1/runs?limit=100')).body.runs
      .length;
    assert.equal(afterCount, before, 'a refused submit creates no run');
    await shoot('new-run-server-errors');
    writeFileSync(harness.notebook('typed.ipynb'), TYPED);
  });

  test('at 800 px the runs table keeps status, notebook, started and duration in view', async () => {
    await submit('greet.ipynb', { name: 'a name long enough to push columns' });
    await page.setViewportSize({ width: 800, height: 900 });
    await page.goto(`${harness.service.url}/`);
    const table = page.locator('table.runs-table');
    await table.waitFor();
    await page.locator(`tr[data-run-id="${brokenId}"] .failure-line`).waitFor();
    for (const name of ['Status', 'Notebook', 'Started', 'Duration']) {
      const header = table.getByRole('columnheader', { name, exact: true });
      assert.ok(await header.isVisible(), `${name} is shown`);
      const box = await header.boundingBox();
      assert.ok(
        box && box.x >= 0 && box.x + box.width <= 800,
        `${name} within 800 px: ${JSON.stringify(box)}`,
      );
    }
    const overflow = await page.evaluate(() => {
      const wrap = document.querySelector('.table-wrap') as HTMLElement;
      return {
        wrap: wrap.scrollWidth - wrap.clientWidth,
        page: document.documentElement.scrollWidth - window.innerWidth,
      };
    });
    assert.deepEqual(overflow, { wrap: 0, page: 0 }, 'nothing scrolls sideways');
    // What left its column is still there, in the row's folded line.
    const row = page.locator(`tr[data-run-id="${brokenId}"]`);
    assert.ok(await row.locator('.extra-ref').isVisible(), 'the ref, folded under the notebook');
    assert.equal(await row.locator('.extra-ref').textContent(), 'local file');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  test('the output store shows run folders as runs, linked to their pages', async () => {
    await page.goto(`${harness.service.url}/browse/runs/`);
    const row = page.locator('tr', { has: page.getByRole('link', { name: `${brokenId}/` }) });
    await row.locator('.folder-run').waitFor();
    const text = (await row.textContent()) ?? '';
    assert.match(text, /Failed/);
    assert.match(text, /broken\.ipynb/);
    assert.equal(
      await row.getByRole('link', { name: 'run page' }).getAttribute('href'),
      `/runs/${brokenId}`,
    );
    await shoot('browse-runs');
    await page.goto(`${harness.service.url}/browse`);
    await page.getByRole('link', { name: 'runs/' }).waitFor();
    await shoot('browse-root');
  });

  test('the run page names its output plainly and links to it', async () => {
    await page.goto(`${harness.service.url}/runs/${brokenId}`);
    const place = page.locator('.output-place');
    await place.waitFor();
    const uri = (await place.locator('.uri').textContent()) ?? '';
    assert.ok(uri.startsWith('/'), `a path, not a file:// URI: ${uri}`);
    assert.ok(uri.endsWith(`runs/${brokenId}/output.ipynb`), uri);
    await place.getByRole('link', { name: 'output.ipynb' }).click();
    await page.getByText('broken on purpose').first().waitFor();
    await shoot('store-notebook');
  });

  test('a failed run exports as static, self-contained HTML that runs nothing', async () => {
    await page.goto(`${harness.service.url}/runs/${brokenId}`);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export HTML' }).click(),
    ]);
    const file = await download.path();
    const html = readFileSync(file, 'utf8');
    assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'/);
    assert.doesNotMatch(html, /<script/i);
    assert.match(html, /broken on purpose/);
    assert.match(html, /Execution failed at cell 3/);
    // Opened on its own, offline: it reads, and asks the network for nothing.
    const viewer = await harness.context.newPage();
    const requests: string[] = [];
    viewer.on('request', (request) => {
      if (!request.url().startsWith('file:') && !request.url().startsWith('data:'))
        requests.push(request.url());
    });
    // As a browser opens a saved .html file (the download's own path has no extension).
    const saved = join(harness.notebooks, '..', `${download.suggestedFilename()}`);
    assert.match(download.suggestedFilename(), /^broken-.*\.html$/);
    writeFileSync(saved, html);
    await viewer.goto(`file://${saved}`);
    await viewer.getByRole('heading', { name: 'broken.ipynb', level: 1 }).waitFor();
    await viewer.locator('.cell-head', { hasText: 'Cell 3' }).waitFor();
    assert.deepEqual(requests, []);
    for (const width of [1440, 800]) {
      await viewer.setViewportSize({ width, height: 900 });
      await harness.screenshot(viewer, `export-html-${width}`);
    }
    await viewer.close();
  });

  test('compare shows the default value a run did not set', async () => {
    const a = await submit('greet.ipynb', { name: 'set' });
    const b = await submit('greet.ipynb', { count: 5 });
    await waitForStatus(harness, a, ['succeeded']);
    await waitForStatus(harness, b, ['succeeded']);
    await page.goto(`${harness.service.url}/compare?a=${a}&b=${b}`);
    const diff = page.getByRole('table', { name: 'Parameter differences' });
    // A set the name, B the count: each cell it did not set reads the notebook's default.
    await diff.getByText(/^"world"\s*\(default\)$/).waitFor();
    await diff.getByText(/^2\s*\(default\)$/).waitFor();
    await shoot('compare');
  });

  test('a sweep from the New-run form: one run per value, at most one at once', async () => {
    await page.goto(`${harness.service.url}/`);
    await page.getByRole('button', { name: 'New run' }).click();
    const form = page.getByRole('form', { name: 'New run' });
    await form.getByRole('button', { name: 'greet.ipynb' }).click();
    await form.getByLabel(/^name/).waitFor();
    await form.getByRole('radio', { name: 'One run per value' }).check();
    await form.getByRole('combobox', { name: 'Parameter' }).selectOption('name');
    await form.getByRole('textbox', { name: 'Values, one per line' }).fill('ada\nbob\ncyd');
    await form.getByRole('textbox', { name: 'At most at once' }).fill('1');
    await shoot('new-run-sweep');
    await form.getByRole('button', { name: 'Start 3 runs' }).click();
    await page.waitForURL(/\?q=sweep-/);
    const sweepId = new URL(page.url()).searchParams.get('q') ?? '';
    const { body } = await harness.api<{ runs: Run[] }>(
      'GET',
      `/v1/runs?sweepId=${encodeURIComponent(sweepId)}&limit=10`,
    );
    assert.deepEqual(body.runs.map((r) => r.parameters.name).sort(), ['ada', 'bob', 'cyd']);
    // The form closes; the list shows the sweep, found by its id.
    await form.waitFor({ state: 'detached' });
    const toggle = page.getByRole('button', { name: /Sweep .* 3 runs/ });
    await toggle.waitFor();
    for (const run of body.runs) await waitForStatus(harness, run.id, ['succeeded'], 90_000);
    await toggle.click();
    await page.locator('tr.run-row.nested').first().waitFor();
    await shoot('runs-sweep');
  });

  test('every page at both widths: tokens; Revoke stays in view at 800 px', async () => {
    await page.goto(`${harness.service.url}/tokens`);
    await page.getByRole('heading', { level: 1 }).first().waitFor();
    await shoot('tokens');
    await page.setViewportSize({ width: 800, height: 900 });
    const revoke = page.getByRole('button', { name: 'Revoke' }).first();
    const box = await revoke.boundingBox();
    assert.ok(box !== null && box.x + box.width <= 800, `Revoke ends at ${box?.x} + ${box?.width}`);
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  test('the API link opens the readable docs', async () => {
    await page.goto(`${harness.service.url}/`);
    const link = page.getByRole('link', { name: 'API docs' });
    assert.equal(await link.getAttribute('href'), '/docs');
    const response = await page.request.get(`${harness.service.url}/docs`);
    assert.equal(response.status(), 200);
    assert.match(await response.text(), /swagger/i);
    await shoot('runs-list');
  });

  test('no page threw', () => {
    assert.deepEqual(pageErrors, []);
  });
});
