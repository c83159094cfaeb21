/**
 * Hostile notebooks in a real Chromium against the real service. Outputs and markdown try to
 * run code in the viewer's origin (<script>, onerror, javascript: links, <svg onload> as SVG and
 * as HTML, application/javascript, raw HTML in markdown), to reach the viewer from the output
 * frame (parent.document, top.location, document.cookie, localStorage, the API with the
 * cookie, popups), and to spoof the frame protocol from a nested frame. From the viewer page:
 * the sentinel those attempts set is never there, no CSP violation happens in the viewer's
 * document (the sanitizer stopped everything before the CSP had to), the API never hears from
 * the frame; and scripted output does run, inside its sandboxed frame, where it reports that
 * the viewer's cookie, storage and token are out of its reach.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Download, Frame, Page } from 'playwright-core';
import {
  HOSTILE_FILE,
  HOSTILE_MARKDOWN,
  HOSTILE_OUTPUTS,
  SPOOFED_HEIGHT,
  STORE_LINKS,
  storeAttack,
} from './fixtures.ts';
import { type Harness, startHarness, waitForStatus } from './harness.ts';

declare global {
  interface Window {
    __nesPwned?: string;
    __nesViolations?: Array<{ directive: string; blocked: string; sample: string }>;
  }
}

const CANARY = 'viewer-canary-7f3a';
let harness: Harness;
let outputsRun: string;
let markdownRun: string;
let storeLinksRun: string;

/** Polls `probe` until it returns a value (not undefined), or fails with `what`. */
async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const giveUp = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    assert.ok(Date.now() < giveUp, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A signed-in page that records CSP violations and dialogs in every frame. */
async function hostilePage(): Promise<{ page: Page; dialogs: string[] }> {
  const page = await harness.page();
  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await page.addInitScript(() => {
    window.__nesViolations = [];
    document.addEventListener('securitypolicyviolation', (event) => {
      window.__nesViolations?.push({
        directive: event.effectiveDirective,
        blocked: event.blockedURI,
        sample: event.sample,
      });
    });
  });
  await page.goto(harness.signInUrl('/'));
  await page.evaluate((canary) => localStorage.setItem('nes-canary', canary), CANARY);
  return { page, dialogs };
}

/** What the viewer's own window shows of an attack: the sentinel and its CSP violations. */
async function viewerTraces(page: Page) {
  return page.evaluate(() => ({
    pwned: window.__nesPwned ?? null,
    violations: window.__nesViolations ?? [],
    url: location.href,
    background: getComputedStyle(document.body).backgroundColor,
  }));
}

function outputFrames(page: Page): Frame[] {
  return page.frames().filter((frame) => frame.url().startsWith(`${harness.service.outputUrl}/`));
}

before(async () => {
  harness = await startHarness({
    'hostile-outputs.ipynb': HOSTILE_OUTPUTS,
    'hostile-markdown.ipynb': HOSTILE_MARKDOWN,
    'store-links.ipynb': STORE_LINKS,
  });
  const submit = async (name: string, parameters: Record<string, unknown> = {}) => {
    const { status, body } = await harness.api<{ id: string }>('POST', '/v1/runs', {
      notebook: harness.notebook(name),
      parameters,
    });
    assert.equal(status, 201, JSON.stringify(body));
    return body.id;
  };
  outputsRun = await submit('hostile-outputs.ipynb', { api_url: harness.service.url });
  markdownRun = await submit('hostile-markdown.ipynb');
  storeLinksRun = await submit('store-links.ipynb');
  assert.equal(
    (await waitForStatus(harness, outputsRun, ['succeeded', 'failed'])).status,
    'succeeded',
  );
  assert.equal(
    (await waitForStatus(harness, markdownRun, ['succeeded', 'failed'])).status,
    'succeeded',
  );
  assert.equal(
    (await waitForStatus(harness, storeLinksRun, ['succeeded', 'failed'])).status,
    'succeeded',
  );
});
after(() => harness?.close());

describe('hostile notebook content', () => {
  test('hostile outputs run only in the sandboxed output frame, which cannot reach the viewer', async () => {
    const { page, dialogs } = await hostilePage();
    const pagesBefore = harness.context.pages().length;
    harness.clearSeen();
    const runUrl = `${harness.service.url}/runs/${outputsRun}`;
    await page.goto(runUrl);

    // The probe ran in a frame of the output origin and wrote what it could reach.
    const probe = await until('the probe output to run in its frame', async () => {
      for (const frame of outputFrames(page)) {
        const text = await frame.evaluate(
          () => document.getElementById('probe')?.textContent ?? null,
        );
        if (text?.includes('fetch:') && !text.includes('fetch:pending')) return { frame, text };
      }
      return undefined;
    });
    await harness.screenshot(page, 'hostile-outputs');
    const notes = new Map(
      probe.text
        .replace(/^probe ran: /, '')
        .split(' ')
        .map((note) => [note.slice(0, note.indexOf(':')), note.slice(note.indexOf(':') + 1)]),
    );
    assert.equal(notes.get('origin'), 'null', probe.text); // opaque: sandbox without same-origin
    for (const name of [
      'cookie',
      'storage',
      'session',
      'parentdoc',
      'parentwrite',
      'topdoc',
      'toploc',
    ]) {
      assert.equal(notes.get(name), 'blocked', `${name} in ${probe.text}`);
    }
    assert.equal(notes.get('popup'), 'null', probe.text);
    assert.equal(notes.get('fetch'), 'blocked', probe.text);
    assert.ok(!probe.text.includes(CANARY) && !probe.text.includes(harness.service.adminToken));
    // The frame's own script did run there (it set the sentinel in its own window).
    assert.equal(await probe.frame.evaluate(() => window.__nesPwned), 'probe-ran-in-frame');

    // Scripted HTML output ran in its frame too, never in the viewer.
    const framed = await Promise.all(
      outputFrames(page).map((frame) =>
        frame.evaluate(() => window.__nesPwned ?? '').catch(() => ''),
      ),
    );
    assert.ok(
      framed.some((mark) => mark.includes('out-html-script')),
      JSON.stringify(framed),
    );

    // Click every hostile link the viewer shows; none may run code.
    for (const name of ['hostile output link', 'md link']) {
      for (const link of await page.getByRole('link', { name }).all()) {
        await link.click({ timeout: 2000 }).catch(() => undefined);
      }
    }
    await page.waitForTimeout(500);

    const traces = await viewerTraces(page);
    assert.equal(traces.pwned, null, `code ran in the viewer: ${traces.pwned}`);
    assert.deepEqual(
      traces.violations,
      [],
      'content reached the viewer document and only the CSP stopped it',
    );
    assert.equal(traces.url, runUrl, 'the viewer was navigated away');
    assert.deepEqual(dialogs, []);
    assert.equal(harness.context.pages().length, pagesBefore, 'a popup opened');

    // The spoofed height from the nested frame was ignored.
    const heights = await page.$$eval('iframe', (frames) =>
      frames.map((f) => f.getBoundingClientRect().height),
    );
    assert.ok(!heights.includes(SPOOFED_HEIGHT), JSON.stringify(heights));

    // The API heard only from the viewer page itself: no request from the output origin or an
    // opaque one, and no unsafe request at all.
    const foreign = harness.seen.filter(
      (request) =>
        request.origin !== undefined && request.origin !== new URL(harness.service.url).origin,
    );
    assert.deepEqual(foreign, []);
    assert.deepEqual(
      harness.seen.filter((request) => request.method !== 'GET' && request.method !== 'HEAD'),
      [],
    );
    await page.close();
  });

  test('raw HTML in markdown is inert in the viewer: no script, handler, javascript: URL or style', async () => {
    const { page, dialogs } = await hostilePage();
    const runUrl = `${harness.service.url}/runs/${markdownRun}`;
    await page.goto(runUrl);
    await page.getByRole('heading', { name: 'Hostile markdown' }).waitFor();
    await page.waitForTimeout(500);
    await harness.screenshot(page, 'hostile-markdown');
    for (const name of ['hostile markdown link', 'hostile html link']) {
      for (const link of await page.getByRole('link', { name }).all()) {
        const href = await link.getAttribute('href');
        assert.ok(
          !href?.trim().toLowerCase().startsWith('javascript:'),
          `${name} kept href ${href}`,
        );
        await link.click({ timeout: 2000 }).catch(() => undefined);
      }
    }
    for (const button of await page.getByRole('button', { name: 'hostile form' }).all()) {
      await button.click({ timeout: 2000 }).catch(() => undefined);
    }
    await page.waitForTimeout(500);
    const traces = await viewerTraces(page);
    assert.equal(traces.pwned, null, `code ran in the viewer: ${traces.pwned}`);
    assert.deepEqual(
      traces.violations,
      [],
      'content reached the viewer document and only the CSP stopped it',
    );
    assert.equal(
      traces.url,
      runUrl,
      'markdown navigated the viewer (a <form> kept by the sanitizer submits on click; a meta refresh; a link)',
    );
    assert.notEqual(
      traces.background,
      'rgb(255, 0, 0)',
      "the markdown's <style> restyled the viewer",
    );
    assert.deepEqual(dialogs, []);
    // Nothing from the markdown became a frame, an object, a form or a script in the viewer.
    const inert = await page.evaluate(() => ({
      forms: document.querySelectorAll('main form:not([aria-label])').length,
      scripts: Array.from(document.scripts).filter((s) => s.textContent?.includes('__nesPwned'))
        .length,
      handlers: Array.from(document.querySelectorAll('*')).filter((el) =>
        Array.from(el.attributes).some((a) => a.name.startsWith('on')),
      ).length,
      objects: document.querySelectorAll('object, embed, iframe[srcdoc]').length,
    }));
    assert.deepEqual(inert, { forms: 0, scripts: 0, handlers: 0, objects: 0 });
    await page.close();
  });

  test('a crafted notebook file from the store: injected attributes, <base>, javascript: URLs stay inert', async () => {
    const folder = join(harness.service.config.store, 'hostile');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'crafted.ipynb'), HOSTILE_FILE);
    const { page, dialogs } = await hostilePage();
    const url = `${harness.service.url}/notebook?path=hostile/crafted.ipynb`;
    await page.goto(url);
    await page.getByRole('heading', { name: 'Crafted file' }).waitFor();
    await page.getByText('stream text').first().waitFor();
    await page.waitForTimeout(1000);
    await harness.screenshot(page, 'hostile-file');
    for (const name of ['crafted base link', 'latex link', 'markdown output link', 'svg link']) {
      for (const link of await page.getByRole('link', { name }).all()) {
        const href = (await link.getAttribute('href')) ?? '';
        assert.ok(
          !href.trim().toLowerCase().startsWith('javascript:'),
          `${name} kept href ${href}`,
        );
        await link.click({ timeout: 2000, modifiers: [] }).catch(() => undefined);
      }
    }
    await page.waitForTimeout(500);
    const traces = await viewerTraces(page);
    assert.equal(traces.pwned, null, `code ran in the viewer: ${traces.pwned}`);
    // DOMPurify parses HTML in a DOMParser document, which inherits the page's CSP: the <base>
    // it then drops is reported there (base-uri) without ever applying. That it never reached
    // the viewer is checked below (baseURI unchanged, no <base> element).
    assert.deepEqual(
      traces.violations.filter((violation) => violation.directive !== 'base-uri'),
      [],
      'content reached the viewer document and only the CSP stopped it',
    );
    assert.equal(traces.url, url);
    assert.deepEqual(dialogs, []);
    const page2 = await page.evaluate(() => ({
      base: document.baseURI,
      bases: document.querySelectorAll('base').length,
      injected: Array.from(document.querySelectorAll('img')).filter((img) =>
        img.hasAttribute('onerror'),
      ).length,
    }));
    assert.deepEqual(page2, { base: url, bases: 0, injected: 0 });
    // HTML inside text outputs is shown as text.
    await page.getByText(`<img src=x onerror="window.__nesPwned`).first().waitFor();
    await page.close();
  });

  test('an HTML or SVG file in the store, linked from markdown, downloads instead of running with the session', async () => {
    const folder = join(harness.service.config.store, 'reports');
    mkdirSync(folder, { recursive: true });
    const attack = storeAttack(harness.notebook('store-links.ipynb'));
    writeFileSync(join(folder, 'evil.html'), attack.html);
    writeFileSync(join(folder, 'evil.svg'), attack.svg);
    const runCount = async () =>
      (await harness.api<{ runs: unknown[] }>('GET', '/v1/runs?label=attack=store-link')).body.runs
        .length;

    const { page, dialogs } = await hostilePage();
    const runUrl = `${harness.service.url}/runs/${storeLinksRun}`;
    await page.goto(runUrl);
    await page.getByRole('heading', { name: 'Report links' }).waitFor();
    const downloads: Download[] = [];
    const watchDownloads = (opened: Page) => opened.on('download', (d) => downloads.push(d));
    watchDownloads(page);
    harness.context.on('page', watchDownloads);
    try {
      for (const [name, file] of [
        ['the html report', 'evil.html'],
        ['the svg chart', 'evil.svg'],
      ] as const) {
        harness.clearSeen();
        downloads.length = 0;
        await page.getByRole('link', { name }).click();
        const submitted = () =>
          harness.seen.filter((r) => r.method === 'POST' && r.url.startsWith('/v1/runs'));
        // Either the browser saves the file, or (the attack) its script submits a run.
        await until(`${file} to download (or its script to submit a run)`, async () =>
          downloads.length > 0 || submitted().length > 0 ? true : undefined,
        );
        assert.deepEqual(submitted(), [], `${file} ran in the viewer's origin and submitted a run`);
        assert.equal(downloads[0]?.suggestedFilename(), file);
        assert.ok(
          harness.seen.some((r) => r.url === `/v1/browse/reports/${file}` && r.cookie),
          `the browser fetched ${file} with the session cookie (the attack's precondition)`,
        );
        // Nothing rendered it late either.
        await page.waitForTimeout(500);
        assert.deepEqual(submitted(), []);
      }
    } finally {
      harness.context.off('page', watchDownloads);
    }
    assert.equal(await runCount(), 0, 'a run was submitted by store content');
    const traces = await viewerTraces(page);
    assert.equal(traces.url, runUrl);
    assert.deepEqual(dialogs, []);
    await page.close();
  });

  test('the viewer keeps the session out of reach of scripts: HttpOnly cookie, token gone from the URL', async () => {
    const page = await harness.page();
    await page.goto(harness.signInUrl(`/runs/${outputsRun}?tab=notebook`));
    assert.equal(page.url(), `${harness.service.url}/runs/${outputsRun}?tab=notebook`);
    assert.equal(await page.evaluate(() => document.cookie.includes('nes_session')), false);
    const cookies = await harness.context.cookies(harness.service.url);
    const session = cookies.find((cookie) => cookie.name === 'nes_session');
    assert.ok(session, 'the sign-in set the session cookie');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    assert.ok(!session.value.includes(harness.service.adminToken));
    await page.close();
  });
});
