/**
 * The viewer's main flows in a real Chromium against the real service on real kernels: sign in
 * by the token URL, submit a run from the UI and watch its cells go pending -> running -> done
 * while it executes, open the finished notebook, cancel a running run, rerun with changed
 * parameters, a failed run's banner, browse the output store and open an .ipynb, compare two
 * runs, and a notebook of rich outputs. Each main page is saved as a screenshot under
 * test-artifacts/viewer/. Elements are found by their accessible roles and names.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { BROKEN, GREET, RICH, SLEEPY, SLOW } from './fixtures.ts';
import { type Harness, startHarness, waitForStatus } from './harness.ts';

let harness: Harness;
let page: Page;
const refused: string[] = [];
const pageErrors: string[] = [];

interface RunBody {
  id: string;
  status: string;
  parameters: Record<string, unknown>;
}

async function submit(name: string, parameters: Record<string, unknown> = {}): Promise<string> {
  const { status, body } = await harness.api<RunBody>('POST', '/v1/runs', {
    notebook: harness.notebook(name),
    parameters,
  });
  assert.equal(status, 201, JSON.stringify(body));
  return body.id;
}

/** The state class of every code cell on the page, by its accessible name. */
function cellStates(): Promise<Record<string, string>> {
  return page.evaluate(() => {
    const states: Record<string, string> = {};
    for (const cell of document.querySelectorAll('article[aria-label^="Code cell"]')) {
      const state = /nes-cell-(pending|running|done|error|failed|skipped)\b/.exec(cell.className);
      states[cell.getAttribute('aria-label') ?? '?'] = state?.[1] ?? 'none';
    }
    return states;
  });
}

/** Text inside the notebook's cells (the log panel repeats a run's output). */
function notebookText(text: string) {
  return page
    .getByRole('article', { name: /^Code cell/ })
    .getByText(text)
    .first();
}

/**
 * Scrolls the (virtualized) notebook down until `target` is rendered, then brings it into view:
 * small steps, each given time to render, so no cell is passed between two looks. Cells above
 * may still grow (markdown renders in a deferred pass) and push it out of the rendered window,
 * so it is brought into view again until it stays.
 */
async function scrollTo(target: Locator): Promise<void> {
  await page.evaluate(() => window.scrollTo(0, 0));
  for (let step = 0; step < 200; step++) {
    if ((await target.count()) > 0) {
      await target
        .evaluate((element) => element.scrollIntoView({ block: 'start' }), undefined, {
          timeout: 2000,
        })
        .catch(() => {});
      await page.waitForTimeout(300);
      if ((await target.count()) > 0) return;
      continue;
    }
    const atEnd = await page.evaluate(() => {
      const before = window.scrollY;
      window.scrollBy(0, 250);
      return window.scrollY === before;
    });
    await page.waitForTimeout(atEnd ? 500 : 100);
    if (atEnd && (await target.count()) === 0) break;
  }
  await target.waitFor({ state: 'attached', timeout: 5000 });
}

function runIdOf(url: string): string {
  const match = /\/runs\/([^/?#]+)/.exec(url);
  assert.ok(match, `not a run page: ${url}`);
  return decodeURIComponent(match[1] as string);
}

before(async () => {
  harness = await startHarness({
    'slow.ipynb': SLOW,
    'sleepy.ipynb': SLEEPY,
    'greet.ipynb': GREET,
    'broken.ipynb': BROKEN,
    'rich.ipynb': RICH,
  });
  page = await harness.page();
  // Every CSP refusal (outside the output frames) and page error, over the whole file.
  page.on('console', (message) => {
    const from = message.location().url;
    if (
      message.type() === 'error' &&
      /Content Security Policy/i.test(message.text()) &&
      !from.startsWith(harness.service.outputUrl)
    ) {
      refused.push(`${from}: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  // Signed in from the start, so any test runs alone (the first one checks the sign-in itself).
  await page.goto(harness.signInUrl('/'));
});
after(() => harness?.close());

describe('viewer flows', () => {
  test('the token URL signs in: the address bar loses the token, the cookie is HttpOnly', async () => {
    await page.goto(harness.signInUrl('/'));
    assert.equal(page.url(), `${harness.service.url}/`);
    await page.getByRole('heading', { name: 'Runs', level: 1 }).waitFor();
    assert.equal(await page.evaluate(() => document.cookie), '');
    const session = (await harness.context.cookies(harness.service.url)).find(
      (c) => c.name === 'nes_session',
    );
    assert.equal(session?.httpOnly, true);
    // The page learnt the output origin from the server.
    const frameOrigin = await page.evaluate(
      () => document.querySelector('meta[name="nes-frame-origin"]')?.getAttribute('content') ?? '',
    );
    assert.equal(frameOrigin, harness.service.outputUrl);
  });

  test('a run submitted from the UI fills in live: cells go pending, running, done', async () => {
    await page.goto(`${harness.service.url}/`);
    await page.getByRole('button', { name: 'New run' }).click();
    const form = page.getByRole('form', { name: 'New run' });
    // Picked from the service's notebook folder; its parameters load at once.
    await form.getByRole('button', { name: 'slow.ipynb' }).click();
    const tagInput = form.getByLabel(/^tag/);
    await tagInput.waitFor();
    await tagInput.fill('"from the UI"');
    await form.getByRole('button', { name: 'Run notebook' }).click();
    await page.waitForURL(/\/runs\/[^/]+$/);
    const id = runIdOf(page.url());

    // Watch the DOM while it runs: every sleeping cell is seen running, then done, and a
    // later cell is seen pending while an earlier one runs.
    const seen = new Map<string, Set<string>>();
    let pendingWhileRunning = false;
    let liveShot = false;
    const giveUp = Date.now() + 90_000;
    for (;;) {
      const states = await cellStates();
      for (const [cell, state] of Object.entries(states)) {
        if (!seen.has(cell)) seen.set(cell, new Set());
        seen.get(cell)?.add(state);
      }
      const values = Object.values(states);
      if (values.includes('running') && values.includes('pending')) {
        pendingWhileRunning = true;
        if (!liveShot) {
          liveShot = true;
          await harness.screenshot(page, 'run-live');
        }
      }
      if (values.length > 0 && values.every((state) => state === 'done')) break;
      assert.ok(Date.now() < giveUp, `the cells never all finished: ${JSON.stringify(states)}`);
      await page.waitForTimeout(100);
    }
    assert.ok(pendingWhileRunning, 'no cell was pending while another ran');
    // The author's numbering: the parameters cell is 1, papermill's injected cell has none.
    for (const cell of ['Code cell 2', 'Code cell 3', 'Code cell 4']) {
      const states = seen.get(cell);
      assert.ok(states?.has('running'), `${cell} was never seen running: ${[...(states ?? [])]}`);
      assert.ok(states?.has('done'), `${cell} never done`);
    }
    const run = await waitForStatus(harness, id, ['succeeded']);
    assert.equal(run.parameters.tag, 'from the UI');
    await notebookText('finished from the UI').waitFor();
    await page.getByText('Succeeded').first().waitFor();
    await harness.screenshot(page, 'run-finished');
  });

  test('a finished run opens with its notebook', async () => {
    const id = await submit('greet.ipynb', { name: 'finished' });
    await waitForStatus(harness, id, ['succeeded']);
    await page.goto(`${harness.service.url}/runs/${id}`);
    await notebookText('hello finished x2').waitFor();
    await page.getByRole('heading', { name: 'greet.ipynb' }).waitFor();
  });

  test('a running run is cancelled from its page', async () => {
    const id = await submit('sleepy.ipynb');
    await waitForStatus(harness, id, ['running']);
    await page.goto(`${harness.service.url}/runs/${id}`);
    await page.getByText('sleeping').first().waitFor();
    await page.getByRole('button', { name: 'Cancel run' }).click();
    await page
      .getByRole('dialog', { name: 'Cancel run' })
      .getByRole('button', { name: 'Yes, cancel the run' })
      .click();
    const run = await waitForStatus(harness, id, ['cancelled'], 30_000);
    assert.equal(run.status, 'cancelled');
    await page
      .getByText(/Cancelled by admin at .* while cell \d+ was running/)
      .first()
      .waitFor();
    assert.equal(await page.getByRole('button', { name: 'Cancel run' }).count(), 0);
  });

  test('rerun with a changed parameter: the new run has the new value, the others are kept', async () => {
    const first = await submit('greet.ipynb', { name: 'first', count: 3 });
    await waitForStatus(harness, first, ['succeeded']);
    await page.goto(`${harness.service.url}/runs/${first}`);
    await page.getByRole('button', { name: 'Rerun' }).click();
    const dialog = page.getByRole('dialog', { name: 'Rerun' });
    const name = dialog.getByLabel(/^name/);
    await name.waitFor();
    await name.fill('"second"');
    await dialog.getByRole('button', { name: 'Start rerun' }).click();
    await page.waitForURL(
      (url) => url.pathname.startsWith('/runs/') && !url.pathname.endsWith(first),
    );
    const second = runIdOf(page.url());
    const run = await waitForStatus(harness, second, ['succeeded']);
    assert.deepEqual(run.parameters, { name: 'second', count: 3 });
    await notebookText('hello second x3').waitFor();

    // Compare the two.
    await page.goto(`${harness.service.url}/compare?a=${first}&b=${second}`);
    await page.getByRole('heading', { name: 'Compare runs' }).waitFor();
    const diff = page.getByRole('table', { name: 'Parameter differences' });
    await diff.waitFor();
    const text = await diff.textContent();
    assert.match(text ?? '', /first/);
    assert.match(text ?? '', /second/);
    await page.waitForTimeout(500);
    await harness.screenshot(page, 'compare');
  });

  test('a failed run shows its banner and the failing cell', async () => {
    const id = await submit('broken.ipynb');
    await waitForStatus(harness, id, ['failed']);
    await page.goto(`${harness.service.url}/runs/${id}`);
    await page.getByText('A cell raised an error').first().waitFor();
    await page.getByText('broken on purpose').first().waitFor();
    await page.getByRole('article', { name: 'Execution error' }).first().waitFor();
    await harness.screenshot(page, 'run-failed');
  });

  test('the output store is browsed down to a notebook, which opens', async () => {
    const id = await submit('greet.ipynb', { name: 'stored' });
    await waitForStatus(harness, id, ['succeeded']);
    await page.goto(`${harness.service.url}/browse`);
    await page.getByRole('heading', { name: 'Output store' }).waitFor();
    await page.getByRole('link', { name: 'runs/' }).click();
    await page.getByRole('link', { name: `${id}/` }).click();
    await page.waitForTimeout(300);
    await harness.screenshot(page, 'browse');
    await page.getByRole('link', { name: 'output.ipynb' }).click();
    await notebookText('hello stored x2').waitFor();
    assert.match(page.url(), /output\.ipynb/);
  });

  test('rich outputs: math, a table, SVG, an image, a long stream, ANSI colours, JSON', async () => {
    const id = await submit('rich.ipynb');
    await waitForStatus(harness, id, ['succeeded']);
    await page.goto(`${harness.service.url}/runs/${id}`);
    await page.getByRole('heading', { name: 'Rich output' }).waitFor();
    await page.locator('.katex').first().waitFor();
    await page.waitForTimeout(500);
    await harness.screenshot(page, 'rich-output');
    // The notebook is virtualized: count what is rendered around each part as it is reached.
    const count = (selector: string) => page.locator(`main ${selector}`).count();
    const heading = page.getByRole('heading', { name: 'Rich output' });
    await heading.evaluate((element) => element.scrollIntoView());
    await page.waitForTimeout(300);
    await harness.screenshot(page, 'rich-output-cells');
    assert.ok((await count('.katex')) >= 2, 'inline and display math rendered by KaTeX');
    assert.ok((await count('table')) >= 1, 'the markdown table');
    await scrollTo(notebookText('line 000 of a long stream'));
    assert.ok((await count('img')) >= 1, 'the PNG (and SVG) outputs');
    await scrollTo(notebookText('line 000 of a long stream'));
    assert.ok(await notebookText('line 000 of a long stream').isVisible(), 'the stream is shown');
    await harness.screenshot(page, 'rich-output-stream');
  });

  test('the runs list shows every run, and two picked there are compared', async () => {
    await page.goto(`${harness.service.url}/`);
    await page.getByRole('heading', { name: 'Runs', level: 1 }).waitFor();
    await page.getByText('broken.ipynb').first().waitFor();
    await page.waitForTimeout(300);
    await harness.screenshot(page, 'runs-list');
    const { body } = await harness.api<{ runs: RunBody[] }>('GET', '/v1/runs?limit=100');
    assert.ok(body.runs.length >= 8, `${body.runs.length} runs`);
    for (const run of body.runs) {
      await page.getByRole('checkbox', { name: `Select run ${run.id}` }).waitFor({ timeout: 5000 });
    }
    // Two runs picked in the list open the comparison.
    const [a, b] = body.runs as [RunBody, RunBody];
    await page.getByRole('checkbox', { name: `Select run ${a.id}` }).check();
    await page.getByRole('checkbox', { name: `Select run ${b.id}` }).check();
    await page.getByRole('button', { name: 'Compare selected' }).click();
    await page.waitForURL(/\/compare\?/);
    const url = new URL(page.url());
    assert.deepEqual(
      [url.searchParams.get('a'), url.searchParams.get('b')].sort(),
      [a.id, b.id].sort(),
    );
    await page.getByRole('heading', { name: 'Compare runs' }).waitFor();
  });

  test('sign-out forgets the session: the page asks for the token URL again', async () => {
    await page.goto(`${harness.service.url}/`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to NES' }).waitFor();
    assert.equal(page.url(), `${harness.service.url}/`);
    const cookies = await harness.context.cookies(harness.service.url);
    assert.equal(
      cookies.find((c) => c.name === 'nes_session'),
      undefined,
    );
    await page.goto(harness.signInUrl('/')); // signed in again for any test after this one
    await page.getByRole('heading', { name: 'Runs', level: 1 }).waitFor();
  });

  test('no page broke the strict CSP or threw', () => {
    assert.deepEqual(refused, []);
    assert.deepEqual(pageErrors, []);
  });
});
