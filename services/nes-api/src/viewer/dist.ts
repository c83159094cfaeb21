/**
 * The built viewer on disk (`apps/viewer/dist`, Vite's output): `index.html` (the app),
 * `frame.html` (the output frame) and `assets/`. Files are re-read when they change, so a
 * rebuild is served without a restart. Nothing here is served from outside that directory.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The workspace's viewer build, wherever @nes/viewer is installed. */
export function defaultViewerDir(): string {
  try {
    return join(dirname(fileURLToPath(import.meta.resolve('@nes/viewer/package.json'))), 'dist');
  } catch {
    return fileURLToPath(new URL('../../../../apps/viewer/dist', import.meta.url));
  }
}

export class ViewerDist {
  readonly dir: string;
  readonly assetsDir: string;
  readonly #files = new Map<string, { version: string; text: string }>();
  #frameAssets: { version: string; names: Set<string> } | null = null;

  constructor(dir: string) {
    this.dir = resolve(dir);
    this.assetsDir = join(this.dir, 'assets');
  }

  /** index.html, or null when the viewer is not built. */
  index(): Promise<string | null> {
    return this.#read('index.html');
  }

  /** frame.html, or null when the viewer is not built. */
  frame(): Promise<string | null> {
    return this.#read('frame.html');
  }

  /**
   * The assets frame.html needs: every file of `assets/` its HTML names, then every file those
   * name in turn (chunks import chunks, CSS names fonts). The output origin serves only these.
   */
  async frameAssets(): Promise<Set<string>> {
    const frame = await this.frame();
    const version = await this.#version('frame.html');
    if (frame === null) return new Set();
    if (this.#frameAssets?.version === version) return this.#frameAssets.names;
    const available = new Set(await readdir(this.assetsDir).catch(() => [] as string[]));
    const names = new Set<string>();
    const pending = [frame];
    while (pending.length > 0) {
      const text = pending.pop() as string;
      for (const match of text.matchAll(/[\w.-]+\.[a-z0-9]+/gi)) {
        const name = match[0];
        if (!available.has(name) || names.has(name)) continue;
        names.add(name);
        if (/\.(m?js|css)$/.test(name)) {
          pending.push(await readFile(join(this.assetsDir, name), 'utf8'));
        }
      }
    }
    this.#frameAssets = { version, names };
    return names;
  }

  async #read(name: string): Promise<string | null> {
    const version = await this.#version(name);
    if (version === '') return null;
    const hit = this.#files.get(name);
    if (hit?.version === version) return hit.text;
    const text = await readFile(join(this.dir, name), 'utf8').catch(() => null);
    if (text === null) return null;
    this.#files.set(name, { version, text });
    return text;
  }

  async #version(name: string): Promise<string> {
    const info = await stat(join(this.dir, name)).catch(() => null);
    return info?.isFile() ? `${info.mtimeMs}:${info.size}` : '';
  }
}

/** index.html with the output origin in `<meta name="nes-frame-origin" content="">`. */
export function withFrameOrigin(html: string, frameOrigin: string): string {
  return html.replace(
    /(<meta\s+name=["']nes-frame-origin["']\s+content=)["'][^"']*["']/i,
    `$1"${escapeAttribute(frameOrigin)}"`,
  );
}

export function escapeAttribute(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('"', '&quot;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;');
}
