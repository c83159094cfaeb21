/**
 * What the route tests share: an app built on a run store (PGlite when the db module is there,
 * else the in-memory test store; NES_TEST_STORE=memory forces it), a GitHub test server with a
 * real repository, a local notebook root, a local output store, a fake scheduler, and tokens.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStore } from '@nes/stores';
import { GitRepository } from '../../../test/servers/github/git.ts';
import {
  type GitHubTestServer,
  startGitHubTestServer,
} from '../../../test/servers/github/server.ts';
import { type App, buildApp } from '../src/app.ts';
import type { AppServices, RunScheduler } from '../src/app-services.ts';
import { loadConfig } from '../src/config.ts';
import { RunEventBus } from '../src/events-bus.ts';
import type { Run } from '../src/runs/run-model.ts';
import type { RunStore } from '../src/runs/run-store.ts';
import { MemoryRunStore } from './support/memory-run-store.ts';

export function notebookText(
  sources: Array<string | { source: string; tags: string[] }>,
  kernel = 'python3',
): string {
  return `${JSON.stringify(
    {
      cells: sources.map((cell, i) => ({
        cell_type: 'code',
        execution_count: null,
        id: `cell-${i}`,
        metadata: typeof cell === 'string' ? {} : { tags: cell.tags },
        outputs: [],
        source: typeof cell === 'string' ? cell : cell.source,
      })),
      metadata: { kernelspec: { display_name: kernel, language: 'python', name: kernel } },
      nbformat: 4,
      nbformat_minor: 5,
    },
    null,
    1,
  )}\n`;
}

export const PARAMS_NOTEBOOK = notebookText([
  {
    source: 'alpha: float = 0.5\nname = "world"\ncount: int = 3  # how many\nmode: str = "fast"',
    tags: ['parameters'],
  },
  'print(name * count)',
]);

export class FakeScheduler implements RunScheduler {
  readonly submittedRuns: Run[] = [];
  kernelNames = ['python3'];
  limitQueue?: (queue: string, limit: number) => void;
  readonly store: RunStore;
  constructor(store: RunStore) {
    this.store = store;
  }
  submitted(run: Run): void {
    this.submittedRuns.push(run);
  }
  async cancel(runId: string): Promise<Run | null> {
    const run = await this.store.getRun(runId);
    if (run === null) return null;
    if (run.status === 'queued')
      return (
        (await this.store.transition(runId, 'cancelled', {
          finishedAt: new Date().toISOString(),
        })) ?? run
      );
    return (await this.store.requestCancel(runId)) ?? run;
  }
  async kernels(): Promise<string[]> {
    return this.kernelNames;
  }
}

export interface Harness {
  app: App;
  store: RunStore;
  bus: RunEventBus;
  scheduler: FakeScheduler;
  github: GitHubTestServer;
  /** The repository behind acme/notebooks (commit to move its branch). */
  git: GitRepository;
  artifacts: LocalStore;
  work: string;
  roots: string;
  sha: string;
  tokens: { admin: string; submit: string; read: string };
  auth(token?: string): Record<string, string>;
  runCount(): Promise<number>;
  close(): Promise<void>;
}

async function createStore(dataDir: string): Promise<RunStore> {
  if (process.env.NES_TEST_STORE !== 'memory') {
    const modulePath = '../src/db/index.ts';
    try {
      const db = (await import(modulePath)) as {
        createRunStore?: (options: { databaseUrl?: string; dataDir: string }) => Promise<RunStore>;
      };
      if (db.createRunStore !== undefined) {
        return await db.createRunStore({
          dataDir,
          ...(process.env.NES_TEST_DATABASE_URL
            ? { databaseUrl: process.env.NES_TEST_DATABASE_URL }
            : {}),
        });
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    }
  }
  return new MemoryRunStore();
}

export async function startHarness(
  options: {
    heartbeatMs?: number;
    env?: Record<string, string>;
    logger?: Record<string, unknown>;
    /** More services for the app (schedules), built on the harness's store and scheduler. */
    services?: (parts: {
      store: RunStore;
      scheduler: FakeScheduler;
      bus: RunEventBus;
      artifacts: LocalStore;
    }) => Partial<AppServices>;
  } = {},
): Promise<Harness> {
  const work = await mkdtemp(join(tmpdir(), 'nes-api-routes-'));
  const git = await GitRepository.create(join(work, 'repo'));
  const sha = await git.commit({
    'nb/params.ipynb': PARAMS_NOTEBOOK,
    'nb/plain.ipynb': notebookText(['print(1)']),
    'nb/rlang.ipynb': notebookText([{ source: 'x <- 1', tags: ['parameters'] }], 'ir'),
    'README.md': 'not a notebook',
  });
  const github = await startGitHubTestServer({
    repositories: [{ owner: 'acme', name: 'notebooks', git }],
  });
  const roots = join(work, 'roots');
  await mkdir(join(roots, 'team'), { recursive: true });
  await writeFile(join(roots, 'team', 'local.ipynb'), PARAMS_NOTEBOOK);
  await writeFile(join(work, 'secret.ipynb'), PARAMS_NOTEBOOK);

  const config = loadConfig({
    NES_DATA_DIR: join(work, 'data'),
    NES_NOTEBOOK_ROOTS: roots,
    NES_GITHUB_API_URL: github.url,
    NES_PUBLIC_URL: 'http://nes.test',
    NES_VIEWER_ORIGIN: 'http://viewer.test',
    NES_BODY_LIMIT: String(64 * 1024),
    NES_MAX_PARAMETERS_BYTES: String(16 * 1024),
    ...options.env,
  });
  const store = await createStore(join(work, 'data'));
  const bus = new RunEventBus();
  const scheduler = new FakeScheduler(store);
  const artifacts = new LocalStore(join(work, 'store'));
  const app = await buildApp({
    config,
    store,
    services: {
      scheduler,
      bus,
      artifacts,
      sourceOptions: {
        githubApiUrl: github.url,
        localRoots: config.notebookRoots,
        cwd: roots,
        retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
      },
      ...options.services?.({ store, scheduler, bus, artifacts }),
    },
    ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  const tokens = {
    admin: (await store.createToken('admin', ['admin'])).token,
    submit: (await store.createToken('pipeline', ['submit'])).token,
    read: (await store.createToken('viewer', ['read'])).token,
  };
  return {
    app,
    store,
    bus,
    scheduler,
    github,
    git,
    artifacts,
    work,
    roots,
    sha,
    tokens,
    auth: (token = tokens.submit) => ({ authorization: `Bearer ${token}` }),
    async runCount() {
      return (await store.listRuns({ limit: 1000 })).runs.length;
    },
    async close() {
      await app.close();
      await store.close();
      await github.close();
      await rm(work, { recursive: true, force: true });
    },
  };
}
