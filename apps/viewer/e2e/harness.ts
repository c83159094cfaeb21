/**
 * The browser suites' harness: the REAL service (startService with the local executor on real
 * kernels, PGlite and the output store in a temporary directory, fixture notebooks under
 * NES_NOTEBOOK_ROOTS, ports 0) serving the built viewer from apps/viewer/dist, and Debian's
 * Chromium driven by playwright-core (never a downloaded browser), one per test file.
 *
 * It also watches what reaches the API (every request the service's HTTP server receives, with
 * its Origin) so a suite can prove a frame never talked to it.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type StartedService, startService } from '@nes/api';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const DIST = join(REPO, 'apps', 'viewer', 'dist');
export const ARTIFACTS = join(REPO, 'test-artifacts', 'viewer');
export const CHROMIUM = process.env.NES_CHROMIUM || '/usr/bin/chromium';

/** The flags every launch uses: no network of its own, no GPU, no sandbox (containers). */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** A notebook cell as the fixtures write them: code by default. */
export type FixtureCell = string | { markdown: string } | { code: string; outputs?: unknown[] };

/** Writes a python3 notebook (first code cell tagged `parameters` when `parameters` is set). */
export function notebookJson(cells: FixtureCell[], options: { parameters?: boolean } = {}): string {
  let tagged = false;
  const nb = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' },
      language_info: { name: 'python' },
    },
    cells: cells.map((cell, i) => {
      if (typeof cell === 'object' && 'markdown' in cell) {
        return { cell_type: 'markdown', id: `m${i}`, metadata: {}, source: cell.markdown };
      }
      const source = typeof cell === 'string' ? cell : cell.code;
      const outputs = typeof cell === 'string' ? [] : (cell.outputs ?? []);
      const tags = options.parameters && !tagged ? ['parameters'] : [];
      tagged = true;
      return {
        cell_type: 'code',
        id: `c${i}`,
        metadata: tags.length > 0 ? { tags } : {},
        source,
        execution_count: null,
        outputs,
      };
    }),
  };
  return `${JSON.stringify(nb, null, 1)}\n`;
}

export interface ApiRequestSeen {
  method: string;
  url: string;
  origin: string | undefined;
  cookie: boolean;
  authorization: boolean;
}

export interface Harness {
  service: StartedService;
  /** The directory of fixture notebooks (NES_NOTEBOOK_ROOTS). */
  notebooks: string;
  /** Absolute path of a fixture notebook. */
  notebook(name: string): string;
  /** Every request the API's server received since the start (or the last `clearSeen`). */
  seen: ApiRequestSeen[];
  clearSeen(): void;
  /** The API with the admin token (setup and checks, not what the page does). */
  api<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }>;
  /** A new page in the one browser of this file. */
  page(): Promise<Page>;
  context: BrowserContext;
  /** The sign-in URL of a viewer path (`/runs/x` -> `<url>/runs/x?token=...`). */
  signInUrl(path?: string): string;
  /** Saves a PNG of the page under test-artifacts/viewer/. */
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * The service and a browser; fixture notebooks are written under the notebook root first. `env`
 * adds service settings (NES_NOTIFY_ALLOWED_HOSTS for a local webhook receiver, say).
 */
export async function startHarness(
  notebooks: Record<string, string>,
  options: { env?: Record<string, string> } = {},
): Promise<Harness> {
  if (!existsSync(join(DIST, 'index.html')) || !existsSync(join(DIST, 'frame.html'))) {
    throw new Error(
      `the viewer is not built (no index.html and frame.html in ${DIST}): run \`npm run build -w @nes/viewer\` (scripts/setup.sh does)`,
    );
  }
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install Debian's \`chromium\` package (scripts/setup.sh does) or set NES_CHROMIUM`,
    );
  }
  const root = mkdtempSync(join(tmpdir(), 'nes-e2e-'));
  const notebookDir = join(root, 'notebooks');
  mkdirSync(notebookDir, { recursive: true });
  for (const [name, text] of Object.entries(notebooks)) {
    mkdirSync(dirname(join(notebookDir, name)), { recursive: true });
    writeFileSync(join(notebookDir, name), text);
  }
  mkdirSync(ARTIFACTS, { recursive: true });

  const service = await startService({
    env: {
      NES_DATA_DIR: join(root, 'data'),
      NES_PORT: '0',
      NES_NOTEBOOK_ROOTS: notebookDir,
      NES_VIEWER_DIR: DIST,
      ...(process.env.NES_LOG_LEVEL ? { NES_LOG_LEVEL: process.env.NES_LOG_LEVEL } : {}),
      ...options.env,
    },
    log: process.env.DEBUG_NES ? undefined : () => undefined,
    executor: { warmKernels: { python3: 1 }, cancelGraceMs: 3000 },
  });

  const seen: ApiRequestSeen[] = [];
  const watch = (request: IncomingMessage) => {
    seen.push({
      method: request.method ?? '',
      url: request.url ?? '',
      origin: request.headers.origin,
      cookie: (request.headers.cookie ?? '').includes('nes_session='),
      authorization: request.headers.authorization !== undefined,
    });
  };
  service.app.server.on('request', watch);

  let context: BrowserContext;
  const profile = join(root, 'chromium-profile');
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1280, height: 900 },
    });
  } catch (error) {
    await service.close(0);
    throw error;
  }
  const token = service.adminToken;
  return {
    service,
    notebooks: notebookDir,
    notebook: (name) => join(notebookDir, name),
    seen,
    clearSeen: () => {
      seen.length = 0;
    },
    async api(method, path, body) {
      const response = await fetch(`${service.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON
      }
      return { status: response.status, body: parsed as never };
    },
    page: () => context.newPage(),
    context,
    signInUrl: (path = '/') =>
      `${service.url}${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`,
    async screenshot(page, name) {
      const file = join(ARTIFACTS, `${name}.png`);
      await page.screenshot({ path: file, fullPage: false });
      return file;
    },
    async close() {
      service.app.server.off('request', watch);
      await context.close().catch(() => undefined);
      await service.close(0);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Polls the API until a run is in one of `statuses`. */
export async function waitForStatus(
  harness: Harness,
  id: string,
  statuses: string[],
  timeoutMs = 60_000,
): Promise<{ status: string; parameters: Record<string, unknown> }> {
  const giveUp = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await harness.api<{ status: string; parameters: Record<string, unknown> }>(
      'GET',
      `/v1/runs/${id}`,
    );
    if (statuses.includes(body.status)) return body;
    assert.ok(Date.now() < giveUp, `run ${id} is ${body.status}, not ${statuses.join('|')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
