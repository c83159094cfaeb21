/**
 * The viewer's build: two pages (the app, and the sandboxed output frame the notebook renderer
 * loads from its own origin) into dist/, served by the API at `/`. `vite dev` proxies the API so
 * the browser stays same-origin, as it is when the service serves dist/.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

const root = import.meta.dirname;
const api = process.env.NES_URL ?? 'http://127.0.0.1:8080';
const frame = resolve(root, 'frame.html');
if (!existsSync(frame)) {
  console.warn('vite.config.ts: frame.html is missing; notebook outputs will have no frame page');
}

/** The JavaScript a first visit loads (index.html's entry and its static imports), gzipped. */
const INITIAL_JS_BUDGET_BYTES = 150 * 1024;

function initialBundleBudget(): Plugin {
  return {
    name: 'nes-initial-bundle-budget',
    apply: 'build',
    generateBundle(_options, bundle) {
      const chunks = new Map<string, { code: string; imports: string[] }>();
      let entry: string | undefined;
      for (const [file, item] of Object.entries(bundle)) {
        if (item.type !== 'chunk') continue;
        chunks.set(file, { code: item.code, imports: item.imports });
        if (item.isEntry && item.facadeModuleId === resolve(root, 'index.html')) entry = file;
        if (item.isEntry && item.name === 'index') entry ??= file;
      }
      if (!entry) return;
      const seen = new Set<string>();
      const visit = (file: string) => {
        if (seen.has(file)) return;
        seen.add(file);
        for (const next of chunks.get(file)?.imports ?? []) visit(next);
      };
      visit(entry);
      let total = 0;
      for (const file of seen) total += gzipSync(chunks.get(file)?.code ?? '').length;
      const kb = (n: number) => `${(n / 1024).toFixed(1)} kB`;
      const line = `initial JS: ${kb(total)} gzip in ${seen.size} files (budget ${kb(INITIAL_JS_BUDGET_BYTES)})`;
      if (total > INITIAL_JS_BUDGET_BYTES) this.error(`${line}: over budget`);
      this.info(line);
    },
  };
}

export default defineConfig({
  root,
  base: '/',
  plugins: [react(), initialBundleBudget()],
  build: {
    outDir: resolve(root, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    rolldownOptions: {
      input: {
        index: resolve(root, 'index.html'),
        ...(existsSync(frame) ? { frame } : {}),
      },
      output: {
        // The notebook renderer's heavy libraries load with the pages that show notebooks.
        codeSplitting: {
          groups: [
            { name: 'react', test: /node_modules[\\/](react|react-dom|scheduler|wouter)[\\/]/ },
            { name: 'katex', test: /node_modules[\\/]katex[\\/]/ },
            { name: 'highlight', test: /node_modules[\\/]highlight\.js[\\/]/ },
            {
              name: 'markdown',
              test: /node_modules[\\/](markdown-it|mdurl|uc\.micro|linkify-it|punycode\.js|entities|dompurify)[\\/]/,
            },
          ],
        },
      },
    },
  },
  server: {
    host: '127.0.0.1',
    // The service's session cookie is per host, not per port: after its token URL is opened once,
    // the dev server on the same host is signed in too. Unsafe methods must come from the
    // service's own origin, so the proxy speaks for it.
    proxy: {
      '/v1': { target: api, headers: { origin: new URL(api).origin } },
      '/openapi.json': { target: api },
    },
  },
});
