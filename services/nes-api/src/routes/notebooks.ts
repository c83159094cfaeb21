/**
 * The notebooks under the configured roots (`NES_NOTEBOOK_ROOTS`), for the viewer's notebook
 * picker. Listing only: reading one still goes through @nes/sources and its root checks. Symbolic
 * links are not followed (a link may lead out of the root), hidden folders and Jupyter's
 * checkpoints are skipped, and the walk is bounded in depth and count.
 */
import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RootNotebook } from '@nes/client';
import { Type } from 'typebox';
import { authErrors } from '../schemas/common.ts';
import type { RouteContext } from './context.ts';

const MAX_DEPTH = 8;
const MAX_NOTEBOOKS = 1000;
const SKIPPED = new Set(['node_modules', '__pycache__', '.ipynb_checkpoints']);

export const NotebookRootsSchema = Type.Object({
  roots: Type.Array(
    Type.Object({
      root: Type.String(),
      notebooks: Type.Array(
        Type.Object({
          path: Type.String({ description: 'Absolute path, as POST /v1/runs takes it' }),
          relative: Type.String({ description: 'The path under its root' }),
          size: Type.Integer(),
          modifiedAt: Type.String({ format: 'date-time' }),
        }),
      ),
      truncated: Type.Boolean({ description: `More than ${MAX_NOTEBOOKS} notebooks` }),
    }),
  ),
});

/** The .ipynb files under `root`, sorted by path; at most `limit`. */
async function listRootNotebooks(
  root: string,
  limit = MAX_NOTEBOOKS,
): Promise<{ notebooks: RootNotebook[]; truncated: boolean }> {
  const base = resolve(root);
  const notebooks: RootNotebook[] = [];
  let truncated = false;
  const walk = async (dir: string, rel: string, depth: number): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // unreadable or gone: nothing to offer
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (truncated) return;
      if (entry.name.startsWith('.') || SKIPPED.has(entry.name)) continue;
      const path = join(dir, entry.name);
      const relative = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (depth < MAX_DEPTH) await walk(path, relative, depth + 1);
      } else if (entry.isFile() && entry.name.endsWith('.ipynb')) {
        if (notebooks.length >= limit) {
          truncated = true;
          return;
        }
        const info = await stat(path).catch(() => null);
        if (!info) continue;
        notebooks.push({
          path,
          relative,
          size: info.size,
          modifiedAt: info.mtime.toISOString(),
        });
      }
    }
  };
  await walk(base, '', 0);
  return { notebooks, truncated };
}

export const notebookRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  app.get(
    '/v1/notebook-roots',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'The notebooks under the configured local roots (NES_NOTEBOOK_ROOTS)',
        tags: ['notebooks'],
        response: { 200: NotebookRootsSchema, ...authErrors },
      },
    },
    async () => {
      const roots = ctx.services.sourceOptions.localRoots ?? [];
      return {
        roots: await Promise.all(
          roots.map(async (root) => ({ root: resolve(root), ...(await listRootNotebooks(root)) })),
        ),
      };
    },
  );
};
