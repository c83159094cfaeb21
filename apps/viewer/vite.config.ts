/**
 * The viewer's build: two pages (the app, and the sandboxed output frame the notebook renderer
 * loads from its own origin) into dist/, served by the API at `/`. `vite dev` proxies the API so
 * the browser stays same-origin, as it is when the service serves dist/.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const root = import.meta.dirname;
const api = process.env.NES_URL ?? 'http://127.0.0.1:8080';
const frame = resolve(root, 'frame.html');
if (!existsSync(frame)) {
  console.warn('vite.config.ts: frame.html is missing; notebook outputs will have no frame page');
}

export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
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
    proxy: {
      '/v1': { target: api, changeOrigin: false },
      '/openapi.json': { target: api },
    },
  },
});
