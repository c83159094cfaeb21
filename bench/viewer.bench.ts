/**
 * Viewer benchmark: a big notebook (default 2,000 cells, about 50 MB: markdown with math, code,
 * PNG images, long streams, HTML tables) served by the real service from its output store and
 * opened in Debian's Chromium at `/notebook?path=...`, against the anchor: the same notebook
 * exported by `jupyter nbconvert --to html` and loaded in the same Chromium from loopback.
 *
 *   node bench/viewer.bench.ts [--cells 2000] [--mb 50] [--runs 3] [--no-write]
 *
 * Each run has a fresh browser profile (nothing cached); the two are alternated and the
 * median is reported. Measured in the page:
 * - NES: the notebook request's response end (Resource Timing), the end of the big JSON.parse
 *   (JSON.parse wrapped by an init script), the first animation frame with a cell on screen;
 *   nbconvert: responseEnd, DOMContentLoaded (parsed) and first-contentful-paint of the page.
 * - Scrolling top to bottom in about 1,500 animation frames: the frame-to-frame deltas (p50/p95).
 * - JS heap after a forced GC (CDP Runtime.getHeapUsage) and the number of DOM elements.
 * The anchor's external scripts (require.js, MathJax from a CDN) are refused: no network here.
 *
 * Writes its own block of bench/RESULTS.md unless --no-write. Work files live in bench/.work/.
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { crc32, deflateSync } from 'node:zlib';
import { chromium, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_FLAGS, DIST } from '../apps/viewer/e2e/harness.ts';
import { startService } from '../services/nes-api/src/index.ts';
import { writeBenchSection } from './results-file.ts';

const ROOT = resolve(import.meta.dirname, '..');
const WORK = join(ROOT, 'bench/.work/viewer');
const JUPYTER = join(ROOT, '.tools/py/bin/jupyter');
const ANALYSIS = '### Reading the viewer numbers';
const TARGET_FIRST_MS = 1000;
const TARGET_P95_MS = 50;
const SCROLL_FRAMES = 1500;
const SCROLL_MIN_STEP_PX = 600;

const { values: args } = parseArgs({
  options: {
    cells: { type: 'string', default: '2000' },
    mb: { type: 'string', default: '50' },
    runs: { type: 'string', default: '3' },
    'no-write': { type: 'boolean', default: false },
  },
});
const CELLS = Number(args.cells);
const TARGET_BYTES = Number(args.mb) * 1024 * 1024;
const RUNS = Number(args.runs);

/** A small deterministic PRNG (mulberry32): the same notebook every time. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A valid RGB PNG of noise (incompressible, so its size is what it claims). */
function noisePng(width: number, height: number, seed: number): Buffer {
  const next = random(seed);
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let i = 0; i < raw.length; i++) raw[i] = i % (width * 3 + 1) === 0 ? 0 : (next() * 256) | 0;
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw, { level: 1 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * The big notebook: a markdown cell in four (headings, prose, inline and display math), code
 * cells with a PNG image in ten, a long stream in ten, an HTML table in ten, results and short
 * prints otherwise. Streams are sized so the file comes to about `targetBytes`.
 */
function bigNotebook(cells: number, targetBytes: number): string {
  const next = random(42);
  const images = [0, 1, 2, 3].map((i) => noisePng(200, 150, 100 + i).toString('base64'));
  const words = 'notebook kernel output parameter value series model result metric sample'.split(
    ' ',
  );
  const sentence = (n: number) =>
    Array.from({ length: n }, () => words[(next() * words.length) | 0]).join(' ');
  const build = (streamLines: number) => {
    const list: unknown[] = [];
    for (let i = 0; i < cells; i++) {
      if (i % 4 === 0) {
        const math =
          i % 8 === 0 ? `\n\n$$\\sum_{k=1}^{${i + 1}} k^2 = \\frac{n(n+1)(2n+1)}{6}$$` : '';
        list.push({
          cell_type: 'markdown',
          id: `m${i}`,
          metadata: {},
          source: `## Section ${i / 4 + 1}\n\n${sentence(40)} with $x_{${i}} = \\alpha^2 + \\beta$.${math}`,
        });
        continue;
      }
      const outputs: unknown[] = [];
      const kind = i % 10;
      if (kind === 1) {
        outputs.push({
          output_type: 'display_data',
          data: { 'image/png': images[i % images.length], 'text/plain': '<Figure size 200x150>' },
          metadata: {},
        });
      } else if (kind === 3) {
        const text = Array.from(
          { length: streamLines },
          (_, l) => `step ${l} ${sentence(8)}\n`,
        ).join('');
        outputs.push({ output_type: 'stream', name: 'stdout', text });
      } else if (kind === 5) {
        const rows = Array.from(
          { length: 20 },
          (_, r) =>
            `<tr><td>${r}</td><td>${(next() * 1000).toFixed(3)}</td><td>${sentence(3)}</td></tr>`,
        ).join('');
        outputs.push({
          output_type: 'execute_result',
          execution_count: i,
          data: {
            'text/html': `<table class="dataframe"><thead><tr><th>i</th><th>value</th><th>note</th></tr></thead><tbody>${rows}</tbody></table>`,
            'text/plain': 'a table',
          },
          metadata: {},
        });
      } else if (kind === 7) {
        outputs.push({
          output_type: 'execute_result',
          execution_count: i,
          data: { 'text/plain': `${next()}` },
          metadata: {},
        });
      } else {
        outputs.push({ output_type: 'stream', name: 'stdout', text: `${sentence(6)}\n` });
      }
      list.push({
        cell_type: 'code',
        id: `c${i}`,
        metadata: {},
        execution_count: i,
        source: `# cell ${i}\nresult = compute(${i}, alpha=0.5)\nprint(result)`,
        outputs,
      });
    }
    return `${JSON.stringify(
      {
        nbformat: 4,
        nbformat_minor: 5,
        metadata: {
          kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' },
          language_info: { name: 'python' },
        },
        cells: list,
      },
      null,
      1,
    )}\n`;
  };
  const base = build(0).length;
  const perLine = (build(100).length - base) / 100;
  return build(Math.max(0, Math.round((targetBytes - base) / perLine)));
}

interface Measure {
  bytes: number;
  /** Navigation start to the notebook's (or page's) response end. */
  responseEnd: number;
  /** Navigation start to the notebook parsed (NES) / DOMContentLoaded (nbconvert). */
  parsed: number;
  /** Navigation start to the first frame with cells on screen / first contentful paint. */
  firstVisible: number;
  p50: number;
  p95: number;
  frames: number;
  /** Final document height in px. */
  height: number;
  heapMb: number;
  elements: number;
}

const INIT = `(() => {
  const parse = JSON.parse;
  const bench = (window.__bench = { parseEnd: 0, firstCells: 0 });
  JSON.parse = function (text, reviver) {
    const result = parse.call(this, text, reviver);
    if (typeof text === 'string' && text.length > 1e6) bench.parseEnd = performance.now();
    return result;
  };
  const look = () => {
    const cell = document.querySelector('article.nes-cell');
    if (cell && cell.getBoundingClientRect().top < innerHeight) bench.firstCells = performance.now();
    else requestAnimationFrame(look);
  };
  requestAnimationFrame(look);
})();`;

/**
 * Scrolls the window from top to bottom in about SCROLL_FRAMES animation frames (at least
 * SCROLL_MIN_STEP_PX a frame: the page is millions of pixels tall, and a big step renders new
 * content every frame, like dragging the scrollbar); returns the frame-to-frame deltas.
 */
async function scroll(page: Page): Promise<{ deltas: number[]; bottom: boolean }> {
  return page.evaluate(
    ({ frames, minStep }) =>
      new Promise<{ deltas: number[]; bottom: boolean }>((done) => {
        const deltas: number[] = [];
        let last = -1;
        window.scrollTo(0, 0);
        const frame = (t: number) => {
          if (last >= 0) deltas.push(t - last);
          last = t;
          const height = document.documentElement.scrollHeight;
          const bottom = window.scrollY >= height - innerHeight - 1;
          if (bottom || deltas.length >= frames * 4) return done({ deltas, bottom });
          window.scrollBy(0, Math.max(minStep, Math.ceil(height / frames)));
          requestAnimationFrame(frame);
        };
        requestAnimationFrame(frame);
      }),
    { frames: SCROLL_FRAMES, minStep: SCROLL_MIN_STEP_PX },
  );
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function heapAndElements(page: Page): Promise<{ heapMb: number; elements: number }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const heap = await cdp.send('Runtime.getHeapUsage');
  await cdp.detach();
  const elements = await page.evaluate(() => document.getElementsByTagName('*').length);
  return { heapMb: heap.usedSize / 1024 / 1024, elements };
}

async function withBrowser<T>(use: (page: Page) => Promise<T>): Promise<T> {
  const profile = mkdtempSync(join(WORK, 'profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 900 },
  });
  try {
    return await use(context.pages()[0] ?? (await context.newPage()));
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

async function measureNes(signIn: string, apiPath: string): Promise<Measure> {
  return withBrowser(async (page) => {
    await page.addInitScript(INIT);
    await page.goto(signIn);
    await page.waitForFunction(
      () => (window as unknown as { __bench: { firstCells: number } }).__bench.firstCells > 0,
      null,
      { timeout: 180_000 },
    );
    const timing = await page.evaluate((path) => {
      const bench = (window as unknown as { __bench: { parseEnd: number; firstCells: number } })
        .__bench;
      const entry = performance
        .getEntriesByType('resource')
        .find((e) => e.name.includes(path)) as PerformanceResourceTiming;
      return {
        responseEnd: entry.responseEnd,
        bytes: entry.encodedBodySize,
        parsed: bench.parseEnd,
        firstVisible: bench.firstCells,
      };
    }, apiPath);
    await page.waitForTimeout(500);
    const { deltas, bottom } = await scroll(page);
    const memory = await heapAndElements(page);
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    return { ...timing, ...memory, ...frameStats(deltas, bottom), height };
  });
}

async function measureNbconvert(url: string): Promise<Measure> {
  return withBrowser(async (page) => {
    await page.route(/^https?:\/\/(?!127\.0\.0\.1)/, (route) => route.abort());
    await page.goto(url, { waitUntil: 'load', timeout: 300_000 });
    const timing = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
      const paint = performance.getEntriesByName('first-contentful-paint')[0];
      return {
        responseEnd: nav.responseEnd,
        bytes: nav.encodedBodySize,
        parsed: nav.domContentLoadedEventEnd,
        firstVisible: paint?.startTime ?? Number.NaN,
      };
    });
    const { deltas, bottom } = await scroll(page);
    const memory = await heapAndElements(page);
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    return { ...timing, ...memory, ...frameStats(deltas, bottom), height };
  });
}

function frameStats(deltas: number[], bottom: boolean) {
  if (!bottom)
    process.stderr.write(`scrolling stopped after ${deltas.length} frames, short of the bottom\n`);
  return { p50: percentile(deltas, 50), p95: percentile(deltas, 95), frames: deltas.length };
}

function median(values: number[]): number {
  return percentile(values, 50);
}

function summarize(runs: Measure[]): Measure {
  const pick = (key: keyof Measure) => median(runs.map((run) => run[key]));
  return {
    bytes: pick('bytes'),
    responseEnd: pick('responseEnd'),
    parsed: pick('parsed'),
    firstVisible: pick('firstVisible'),
    p50: pick('p50'),
    p95: pick('p95'),
    frames: pick('frames'),
    height: pick('height'),
    heapMb: pick('heapMb'),
    elements: pick('elements'),
  };
}

const ms = (value: number) =>
  Number.isNaN(value)
    ? '-'
    : value >= 1000
      ? `${(value / 1000).toFixed(2)} s`
      : `${value.toFixed(0)} ms`;
const ratio = (a: number, b: number) =>
  Number.isFinite(a / b) && b !== 0 ? `${(a / b).toFixed(2)}x` : '-';

function table(nes: Measure, anchor: Measure): string {
  const fromEnd = (m: Measure, value: number) => value - m.responseEnd;
  const nesFirst = fromEnd(nes, nes.firstVisible);
  const rows: string[][] = [
    [
      'bytes transferred',
      `${(nes.bytes / 1e6).toFixed(1)} MB (.ipynb)`,
      `${(anchor.bytes / 1e6).toFixed(1)} MB (.html)`,
      ratio(nes.bytes, anchor.bytes),
      '',
    ],
    [
      'navigation -> response end',
      ms(nes.responseEnd),
      ms(anchor.responseEnd),
      ratio(nes.responseEnd, anchor.responseEnd),
      '',
    ],
    [
      'response end -> parsed',
      ms(fromEnd(nes, nes.parsed)),
      `${ms(fromEnd(anchor, anchor.parsed))} (DOMContentLoaded)`,
      '',
      '',
    ],
    [
      'response end -> first visible cells',
      ms(nesFirst),
      fromEnd(anchor, anchor.firstVisible) < 0
        ? 'before it (HTML paints while it loads)'
        : `${ms(fromEnd(anchor, anchor.firstVisible))} (first paint)`,
      '',
      `<= 1 s: ${nesFirst <= TARGET_FIRST_MS ? 'met' : 'MISSED'}`,
    ],
    [
      'navigation -> first visible cells',
      ms(nes.firstVisible),
      ms(anchor.firstVisible),
      ratio(nes.firstVisible, anchor.firstVisible),
      '',
    ],
    [
      'navigation -> whole notebook parsed',
      ms(nes.parsed),
      ms(anchor.parsed),
      ratio(nes.parsed, anchor.parsed),
      '',
    ],
    ['scroll frame p50', ms(nes.p50), ms(anchor.p50), ratio(nes.p50, anchor.p50), ''],
    [
      'scroll frame p95',
      ms(nes.p95),
      ms(anchor.p95),
      ratio(nes.p95, anchor.p95),
      `<= 50 ms: ${nes.p95 <= TARGET_P95_MS ? 'met' : 'MISSED'}`,
    ],
    ['frames to scroll top to bottom', String(nes.frames), String(anchor.frames), '', ''],
    [
      'page height',
      `${(nes.height / 1e6).toFixed(2)} Mpx`,
      `${(anchor.height / 1e6).toFixed(2)} Mpx`,
      ratio(nes.height, anchor.height),
      '',
    ],
    [
      'JS heap after GC',
      `${nes.heapMb.toFixed(0)} MB`,
      `${anchor.heapMb.toFixed(0)} MB`,
      ratio(nes.heapMb, anchor.heapMb),
      '',
    ],
    [
      'DOM elements',
      String(nes.elements),
      String(anchor.elements),
      ratio(nes.elements, anchor.elements),
      '',
    ],
  ];
  return [
    '| metric | NES viewer | nbconvert HTML | ratio | target |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}

async function main(): Promise<void> {
  if (!existsSync(join(DIST, 'index.html')))
    throw new Error(`build the viewer first: npm run build -w @nes/viewer (no ${DIST}/index.html)`);
  mkdirSync(WORK, { recursive: true });
  const notebookFile = join(WORK, 'big.ipynb');
  writeFileSync(notebookFile, bigNotebook(CELLS, TARGET_BYTES));
  const size = statSync(notebookFile).size;
  process.stderr.write(`notebook: ${CELLS} cells, ${(size / 1e6).toFixed(1)} MB\n`);

  const exportStart = performance.now();
  const exported = spawnSync(
    JUPYTER,
    ['nbconvert', '--to', 'html', '--output-dir', WORK, notebookFile],
    { encoding: 'utf8' },
  );
  if (exported.status !== 0) throw new Error(`nbconvert failed:\n${exported.stderr}`);
  process.stderr.write(`nbconvert --to html: ${ms(performance.now() - exportStart)}\n`);
  const html = readFileSync(join(WORK, 'big.html'));

  const data = mkdtempSync(join(WORK, 'service-'));
  const storeDir = join(data, 'store', 'bench');
  mkdirSync(storeDir, { recursive: true });
  copyFileSync(notebookFile, join(storeDir, 'big.ipynb'));
  const service = await startService({
    env: { NES_DATA_DIR: data, NES_PORT: '0', NES_VIEWER_DIR: DIST },
    log: () => undefined,
    executor: { warmKernels: {}, warmWorkers: 0 },
  });
  const anchor = createServer((_request, response) => {
    response.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': html.length,
    });
    response.end(html);
  });
  await new Promise<void>((done) => anchor.listen(0, '127.0.0.1', done));
  const address = anchor.address();
  const anchorUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/big.html`;
  const signIn = `${service.url}/notebook?path=bench/big.ipynb&token=${encodeURIComponent(service.adminToken)}`;

  const nesRuns: Measure[] = [];
  const anchorRuns: Measure[] = [];
  try {
    for (let run = 0; run < RUNS; run++) {
      nesRuns.push(await measureNes(signIn, '/v1/browse/bench/big.ipynb'));
      process.stderr.write(`run ${run + 1} NES: ${JSON.stringify(nesRuns.at(-1))}\n`);
      anchorRuns.push(await measureNbconvert(anchorUrl));
      process.stderr.write(`run ${run + 1} nbconvert: ${JSON.stringify(anchorRuns.at(-1))}\n`);
    }
  } finally {
    anchor.close();
    await service.close(0);
    rmSync(data, { recursive: true, force: true });
  }

  const result = table(summarize(nesRuns), summarize(anchorRuns));
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const block = `# Viewer benchmark results

Measured by \`node bench/viewer.bench.ts\` on ${new Date().toISOString().slice(0, 10)}.

- Machine: ${cpus().length} CPU(s), ${cpu}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM; load average ${loadavg()[0]?.toFixed(1)} at the end
- Chromium ${chromiumVersion()} (headless, Debian's), Node ${process.version}; median of ${RUNS} runs, fresh profile each, tools alternated
- Notebook: ${CELLS} cells, ${(size / 1e6).toFixed(1)} MB (markdown with math, PNG images, long streams, HTML tables),
  served from the output store at \`/notebook?path=...\`; anchor: \`jupyter nbconvert --to html\` of the same file
  (${(html.length / 1e6).toFixed(1)} MB) from a loopback server, its CDN scripts refused (no network)
- Scrolling: top to bottom in about ${SCROLL_FRAMES} animation frames (page height / ${SCROLL_FRAMES} px a frame, at least ${SCROLL_MIN_STEP_PX});
  frame time = delta between consecutive frames

${result}
`;
  process.stdout.write(`${block}\n`);
  if (!args['no-write']) {
    writeBenchSection(join(ROOT, 'bench/RESULTS.md'), 'viewer', block, ANALYSIS);
    process.stderr.write('wrote the viewer section of bench/RESULTS.md\n');
  }
}

function chromiumVersion(): string {
  const out = spawnSync(CHROMIUM, ['--version'], { encoding: 'utf8' });
  return (
    out.stdout
      .trim()
      .replace(/^Chromium\s+/, '')
      .split(' ')[0] ?? 'unknown'
  );
}

await main();
