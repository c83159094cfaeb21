/**
 * What the viewer serving tests share: a small built viewer laid out as Vite writes one (an app
 * entry, a frame entry, a chunk both import, a stylesheet naming a font), and a fetch that keeps
 * redirects and cookies visible.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const APP_ENTRY = 'index-a1b2c3.js';
export const FRAME_ENTRY = 'frame-d4e5f6.js';
export const SHARED_CHUNK = 'shared-0a1b2c.js';
export const FRAME_CSS = 'frame-9f8e7d.css';
export const FONT = 'KaTeX_Main-Regular-123abc.woff2';
export const APP_ONLY = 'browse-77aa88.js';

/** Writes the fixture build under a new temporary directory and returns its path. */
export function writeFixtureDist(): string {
  const dist = join(mkdtempSync(join(tmpdir(), 'nes-viewer-dist-')), 'dist');
  writeFixtureFiles(dist);
  return dist;
}

export function writeFixtureFiles(dist: string): void {
  mkdirSync(join(dist, 'assets'), { recursive: true });
  const write = (name: string, text: string) => writeFileSync(join(dist, name), text);
  write(
    'index.html',
    `<!doctype html><html><head><meta charset="utf-8">
<meta name="nes-frame-origin" content="">
<title>NES</title>
<script type="module" crossorigin src="/assets/${APP_ENTRY}"></script>
</head><body><div id="root"></div></body></html>`,
  );
  write(
    'frame.html',
    `<!doctype html><html><head><meta charset="utf-8">
<script type="module" crossorigin src="/assets/${FRAME_ENTRY}"></script>
<link rel="stylesheet" crossorigin href="/assets/${FRAME_CSS}">
</head><body></body></html>`,
  );
  write(`assets/${APP_ENTRY}`, `import"./${SHARED_CHUNK}";const l=()=>import("./${APP_ONLY}");`);
  write(`assets/${APP_ONLY}`, 'export const browse=1;');
  write(`assets/${FRAME_ENTRY}`, `import{s}from"./${SHARED_CHUNK}";document.title=s;`);
  write(`assets/${SHARED_CHUNK}`, 'export const s="shared";');
  write(
    `assets/${FRAME_CSS}`,
    `@font-face{font-family:KaTeX_Main;src:url(./${FONT}) format("woff2")}`,
  );
  write(`assets/${FONT}`, 'wOF2');
}

export interface Fetched {
  status: number;
  headers: Headers;
  text: string;
}

/** One request, redirects not followed. */
export async function get(
  url: string,
  headers: Record<string, string> = {},
  init: RequestInit = {},
): Promise<Fetched> {
  const response = await fetch(url, { redirect: 'manual', ...init, headers });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** A browser navigation's Accept header. */
export const HTML = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

/** The directives of a CSP header, by name. */
export function directives(policy: string | null): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const part of (policy ?? '').split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) map.set(name, values);
  }
  return map;
}
