/**
 * The NES service as one process: configuration, the run store, the admin token, the output
 * store, the executor, the scheduler, the event bus and the HTTP API, started in that order and
 * stopped in the reverse one. `nes serve` and `npm start` call `startService`; tests call it too
 * (port 0, their own data directory) and get a handle to stop it.
 *
 * Shutdown (close(), or SIGTERM/SIGINT with `handleSignals`): the API stops taking requests, the
 * scheduler stops claiming and lets running runs finish for the grace period, then cancels them
 * (each saves its notebook marked cancelled) and stores their final state; the store closes last.
 * A process killed without a shutdown leaves non-terminal runs behind: the next start reconciles
 * them (the scheduler fails a run its executor has no trace of, keeping its partial output).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSourceUri, resolveSource, type SourceOptions } from '@nes/sources';
import { openStore } from '@nes/stores/local';
import { type App, buildApp, loggerOptions } from './app.ts';
import type { AppServices, SourceResolver } from './app-services.ts';
import { ConfigError, type ConfigFlags, loadConfig, type NesConfig } from './config.ts';
import { createRunStore, SqlRunStore } from './db/index.ts';
import { ApiError } from './errors.ts';
import { RunEventBus } from './events-bus.ts';
import { assertJupyterServerAvailable } from './executors/jupyter-check.ts';
import type {
  KubernetesExecutor,
  KubernetesExecutorOptions,
} from './executors/kubernetes/kubernetes-executor.ts';
import { LocalExecutor, type LocalExecutorOptions } from './executors/local-executor.ts';
import { HistoryQueries } from './history/history.ts';
import type { DelivererOptions } from './notifications/deliverer.ts';
import { freshnessNotification } from './notifications/freshness.ts';
import { type NotificationServices, startNotifications } from './notifications/notifications.ts';
import { RevokedTokenError, type RunStore } from './runs/run-store.ts';
import { Scheduler, type SchedulerOptions } from './scheduler/scheduler.ts';
import { startTicker } from './schedules/service-wiring.ts';
import type { Ticker, TickerOptions } from './schedules/ticker.ts';
import { type LogFields, logFormat, type ServiceLog, serviceLog } from './service-log.ts';
import { startRunTraces, tracesEndpoint } from './tracing/run-traces.ts';
import { defaultViewerDir, ViewerDist } from './viewer/dist.ts';
import { buildOutputServer } from './viewer/output-server.ts';
import { SessionCookies } from './viewer/session.ts';
import type { ViewerOrigins } from './viewer/viewer-routes.ts';

export interface StartServiceOptions {
  /** The NES_* variables; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Flags (`PORT`, `HOST`, `DATA_DIR`...): they win over the variables. */
  flags?: ConfigFlags;
  /** A ready-made run store (tests); default: PostgreSQL at NES_DATABASE_URL, else PGlite. */
  store?: RunStore;
  /** Local executor tuning (warm kernels and workers, cancel grace...). */
  executor?: Partial<Omit<LocalExecutorOptions, 'store' | 'workDir' | 'localRoots'>>;
  /** Kubernetes executor tuning (NES_EXECUTOR=kubernetes): timers, lease identity... */
  kubernetes?: Partial<KubernetesExecutorOptions>;
  /** Schedule ticker tuning (clock, pass interval...); tests inject a clock. */
  ticker?: Partial<Pick<TickerOptions, 'clock' | 'intervalMs' | 'misfireGraceMs' | 'freshness'>>;
  /** Scheduler tuning; `concurrency` defaults to NES_CONCURRENCY, else 4. */
  scheduler?: Partial<Omit<SchedulerOptions, 'store' | 'executor' | 'bus'>>;
  /** How long finished runs' spans wait before they are exported (tests: short). */
  tracesDelayMs?: number;
  /** Notification delivery tuning (tests: poll interval, leases, timeouts). */
  notifications?: Partial<Omit<DelivererOptions, 'outbox' | 'runs' | 'policy' | 'publicUrl'>>;
  /** How long running runs may finish on shutdown; default NES_SHUTDOWN_GRACE_SECONDS, else 20 s. */
  shutdownGraceMs?: number;
  /** Stop gracefully on SIGTERM/SIGINT (and exit). Default false: the caller owns signals. */
  handleSignals?: boolean;
  /** Human log lines (start, warnings, shutdown) and their fields; default: stderr. */
  log?: ServiceLog;
}

export interface StartedService {
  /** Base URL of the API, e.g. http://127.0.0.1:8080. */
  url: string;
  /** The viewer URL carrying the admin token (`<url>/?token=...`), as Jupyter prints its own. */
  viewerUrl: string;
  /** The output origin (notebook output runs there, in the viewer's frames), e.g. :8081. */
  outputUrl: string;
  /** The admin token (NES_ADMIN_TOKEN, or the one kept in `<dataDir>/admin-token`). */
  adminToken: string;
  /** 'environment': NES_ADMIN_TOKEN, which start-up banners must not print (pod logs). */
  adminTokenSource: AdminTokenSource;
  config: NesConfig;
  app: App;
  store: RunStore;
  scheduler: Scheduler;
  /** The schedule ticker (null when the run store is not SQL, as in some tests). */
  ticker: Ticker | null;
  executor: LocalExecutor | KubernetesExecutor;
  /**
   * Notifications (null with a store that has no database): `enqueue` reports an event that is
   * not a run's own (the schedules' freshness_missed); routes and the deliverer use the rest.
   */
  notifications: NotificationServices | null;
  /** Graceful stop (idempotent): intake, then runs (grace), then the store. */
  close(graceMs?: number): Promise<void>;
}

const ADMIN_TOKEN_FILE = 'admin-token';
const DEFAULT_GRACE_MS = 20_000;

export async function startService(options: StartServiceOptions = {}): Promise<StartedService> {
  const env = options.env ?? process.env;
  const log = options.log ?? serviceLog(logFormat(env.NES_LOG_FORMAT));
  const config = loadConfig(env, options.flags ?? {});
  if (config.kubernetes === null) assertJupyterServerAvailable(env);
  const graceMs =
    options.shutdownGraceMs ?? envSeconds(env, 'NES_SHUTDOWN_GRACE_SECONDS') ?? DEFAULT_GRACE_MS;
  const concurrency =
    options.scheduler?.concurrency ?? envInteger(env, 'NES_CONCURRENCY', 1, 1000) ?? 4;

  // The data directory holds the database, the admin token and (by default) the store: private.
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  await chmod(config.dataDir, 0o700);
  const storeLocation = outputStoreLocation(config.store);

  // Everything opened so far is closed again if a later step fails.
  const undo: Array<() => Promise<void>> = [];
  const unwind = async () => {
    for (const step of undo.reverse()) await step().catch(() => undefined);
  };
  try {
    const store = options.store ?? (await openRunStore(config));
    undo.push(() => store.close());
    const { token: adminToken, source: adminTokenSource } = await ensureAdminToken(
      store,
      config,
      log,
    );
    const artifacts = await openStore(storeLocation);

    const executorLog = (level: string, message: string, fields?: LogFields) =>
      log(`nes executor ${level}: ${message}`, fields);
    let executor: LocalExecutor | KubernetesExecutor;
    let executorTunings: Partial<SchedulerOptions> = {};
    if (config.kubernetes !== null) {
      // Loaded only here: the cluster client is large and local runs never need it.
      const { kubernetesFromConfig } = await import('./executors/kubernetes/from-config.ts');
      const wiring = kubernetesFromConfig(
        { ...config, kubernetes: config.kubernetes },
        {
          store: storeLocation,
          runStore: store,
          artifacts,
          log: options.executor?.log ?? executorLog,
          ...(options.kubernetes ? { overrides: options.kubernetes } : {}),
        },
      );
      executor = wiring.executor;
      executorTunings = wiring.scheduler;
    } else {
      executor = new LocalExecutor({
        ...options.executor,
        store: storeLocation,
        workDir: join(config.dataDir, 'work'),
        localRoots: config.notebookRoots,
        env: {
          ...options.executor?.env,
          ...(config.githubApiUrl ? { NES_GITHUB_API_URL: config.githubApiUrl } : {}),
          ...(config.sourceAllowedHosts
            ? { NES_SOURCE_ALLOWED_HOSTS: config.sourceAllowedHosts }
            : {}),
        },
        ...(config.githubToken ? { githubToken: config.githubToken } : {}),
        passEnv: config.sandbox.runEnv,
        forkKernels:
          options.executor?.forkKernels ??
          (config.sandbox.forkKernels.enabled
            ? { preload: config.sandbox.forkKernels.preload }
            : false),
        kernelServer: options.executor?.kernelServer ?? config.sandbox.kernelServer,
        nice: config.sandbox.nice,
        sandbox: {
          mode: config.sandbox.mode,
          user: config.sandbox.user,
          network: config.sandbox.network,
          readOnlyPaths: config.sandbox.readOnlyPaths,
          ...options.executor?.sandbox,
          hiddenPaths: [
            config.dataDir,
            ...(storeLocation.startsWith('gs://') ? [] : [localStorePath(storeLocation)]),
            ...(options.executor?.sandbox?.hiddenPaths ?? []),
          ],
        },
        log: options.executor?.log ?? executorLog,
      });
    }
    const bus = new RunEventBus();
    const scheduler = new Scheduler({
      ...executorTunings,
      ...options.scheduler,
      store,
      executor,
      bus,
      concurrency,
      log:
        options.scheduler?.log ??
        ((level, message, fields) => log(`nes scheduler ${level}: ${message}`, fields)),
    });
    // Stopping the scheduler shuts the executor down (runs, workers, sandboxes).
    undo.push(() => scheduler.stop(0));
    // The warm sandboxes first: the first submit checks kernels against what runs will see.
    await executor.start();
    // Runs a previous process left starting or running are reconciled before anything new.
    await scheduler.start();

    const sourceOptions: SourceOptions = {
      localRoots: config.notebookRoots,
      ...(config.githubApiUrl ? { githubApiUrl: config.githubApiUrl } : {}),
      ...(config.githubToken ? { githubToken: config.githubToken } : {}),
      ...(config.sourceAllowedHosts ? { allowedHosts: config.sourceAllowedHosts } : {}),
    };
    // Notifications live in the SQL store's database (a store passed in by a test may have none).
    const notifications =
      store instanceof SqlRunStore
        ? startNotifications({
            db: store.db,
            runs: store,
            bus,
            config,
            log: (level, message, fields) =>
              log(`nes notifications ${level}: ${message}`, fields as LogFields),
            ...(options.notifications ? { deliverer: options.notifications } : {}),
          })
        : null;
    if (notifications) undo.push(() => notifications.close());
    // One OpenTelemetry trace per run, when an OTLP endpoint is configured.
    const endpoint = tracesEndpoint(env);
    const traces = endpoint
      ? startRunTraces({
          endpoint,
          store,
          artifacts,
          bus,
          log: (message, fields) => log(`nes ${message}`, fields),
          ...(options.tracesDelayMs !== undefined
            ? { scheduledDelayMillis: options.tracesDelayMs }
            : {}),
        })
      : null;
    if (traces) undo.push(() => traces.close());
    const services: AppServices = {
      scheduler,
      bus,
      artifacts,
      sourceOptions,
      resolveSource: absoluteLocalPaths,
      ...(notifications ? { notifications } : {}),
      ...(store instanceof SqlRunStore ? { history: new HistoryQueries(store.db) } : {}),
    };
    let ticker: Ticker | null = null;
    if (store instanceof SqlRunStore) {
      const wired = startTicker({
        db: store.db,
        store,
        scheduler,
        bus,
        artifacts,
        sourceOptions,
        resolve: absoluteLocalPaths,
        options: {
          // A schedule that falls behind its SLA is a freshness_missed notification.
          ...(notifications
            ? {
                freshness: async (event) => {
                  const notification = freshnessNotification(event);
                  if (notification) await notifications.enqueue(notification);
                },
              }
            : {}),
          ...options.ticker,
        },
        log: (level, message) => log(`nes schedules ${level}: ${message}`),
      });
      ticker = wired.ticker;
      services.schedules = wired.services;
      undo.push(() => wired.ticker.stop());
    }
    const logger = { level: fastifyLogLevel(env, options.flags), stream: process.stderr };
    // The viewer's two origins are known once both listeners are bound (port 0 in tests).
    const origins: ViewerOrigins = { viewer: '', output: '', extra: config.viewerOrigin };
    const dist = new ViewerDist(config.viewerDir ?? defaultViewerDir());
    const sessions = new SessionCookies({
      secret: adminToken,
      secure: () => config.publicUrl.startsWith('https:'),
      trustedOrigins: () => [origins.viewer, ...(origins.extra === null ? [] : [origins.extra])],
    });
    const app = await buildApp({
      config,
      store,
      services,
      logger,
      viewer: { dist, sessions, origins },
    });
    undo.push(() => app.close());
    const output = await buildOutputServer({ dist, origins, logger: loggerOptions(logger) });
    undo.push(() => output.close());
    await app.listen({ port: config.port, host: config.host });
    await output.listen({ port: config.outputPort, host: config.host });

    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : config.port;
    const shownHost =
      config.host === '0.0.0.0' || config.host === '::'
        ? 'localhost'
        : config.host.includes(':')
          ? `[${config.host}]`
          : config.host;
    const url = `http://${shownHost}:${port}`;
    // With port 0 (tests) the links the API returns follow the port actually bound.
    if (config.port === 0 && env.NES_PUBLIC_URL === undefined && !options.flags?.PUBLIC_URL) {
      config.publicUrl = url;
    }
    const viewerUrl = `${config.publicUrl}/?token=${encodeURIComponent(adminToken)}`;
    origins.viewer = new URL(config.publicUrl).origin;
    origins.output = config.outputUrl ?? outputOrigin(config.publicUrl, output.server);

    let closing: Promise<void> | null = null;
    const removeSignals: Array<() => void> = [];
    const close = (grace = graceMs): Promise<void> => {
      closing ??= (async () => {
        for (const remove of removeSignals) remove();
        await app.close().catch((error: unknown) => log(`nes: closing the API: ${String(error)}`));
        await output
          .close()
          .catch((error: unknown) => log(`nes: closing the output origin: ${String(error)}`));
        await ticker?.stop();
        await scheduler.stop(grace);
        await notifications?.close();
        await traces?.close();
        await store.close();
      })();
      return closing;
    };

    if (options.handleSignals) {
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        const onSignal = () => {
          log(
            `nes: ${signal}: stopping (running runs get ${Math.round(graceMs / 1000)} s to finish)`,
          );
          void close().then(
            () => process.exit(0),
            (error: unknown) => {
              log(`nes: shutdown failed: ${String(error)}`);
              process.exit(1);
            },
          );
        };
        process.once(signal, onSignal);
        removeSignals.push(() => process.off(signal, onSignal));
      }
    }

    return {
      url,
      viewerUrl,
      outputUrl: origins.output,
      adminToken,
      adminTokenSource,
      config,
      app,
      store,
      scheduler,
      ticker,
      executor,
      notifications,
      close,
    };
  } catch (error) {
    await unwind();
    throw error;
  }
}

/**
 * A run stores its notebook location as submitted, and runner processes read it again from
 * their own working directory: a relative local path would name another file there. Local
 * notebooks are therefore submitted by absolute path (`nes submit` callers: `$PWD/nb.ipynb`).
 */
const absoluteLocalPaths: SourceResolver = async (uri, options) => {
  let local = false;
  try {
    const location = parseSourceUri(uri, { ref: options.ref });
    local = location.kind === 'local' && !isAbsolute(location.path);
  } catch {
    // resolveSource reports a malformed location with its own message
  }
  if (local) {
    throw new ApiError(
      422,
      'local_path_not_absolute',
      `local notebook ${JSON.stringify(uri)} must be an absolute path (or file:///...) under the notebook roots`,
      { notebook: uri },
    );
  }
  return resolveSource(uri, options);
};

/** PostgreSQL at NES_DATABASE_URL, else PGlite under the data directory. */
function openRunStore(config: NesConfig): Promise<RunStore> {
  return createRunStore({
    ...(config.databaseUrl !== null ? { databaseUrl: config.databaseUrl } : {}),
    dataDir: config.dataDir,
  });
}

/** Where the admin token came from: the environment (never printed) or the kept file. */
export type AdminTokenSource = 'environment' | 'file';

/**
 * The admin token. NES_ADMIN_TOKEN fixes it. Otherwise one is generated at the first start and
 * kept in `<dataDir>/admin-token` (mode 0600, like Jupyter's runtime files) so every start can
 * print a working viewer URL; the run store only ever holds its hash. Either way it becomes the
 * store's one service token: starting with another admin token revokes the previous one (API
 * and viewer sign-in). A revoked NES_ADMIN_TOKEN stays revoked (a restart must not bring a
 * leaked token back): the service starts and warns, its other tokens working; a revoked kept
 * token is replaced by a new one.
 */
async function ensureAdminToken(
  store: RunStore,
  config: NesConfig,
  log: (line: string) => void,
): Promise<{ token: string; source: AdminTokenSource }> {
  const install = async (secret: string) => {
    const { revoked } = await store.setServiceToken(secret);
    if (revoked.length > 0) {
      log(
        `nes: the admin token changed; revoked the previous one (${revoked.map((t) => t.id).join(', ')})`,
      );
    }
  };
  if (config.adminToken !== null) {
    try {
      await install(config.adminToken);
    } catch (error) {
      if (!(error instanceof RevokedTokenError)) throw error;
      // It stays revoked (a restart must not bring a leaked token back), but the service starts:
      // every other token keeps working until the operator sets a new one.
      log(
        `nes: warning: NES_ADMIN_TOKEN: ${error.message}; it authenticates nothing until it is replaced`,
      );
    }
    return { token: config.adminToken, source: 'environment' };
  }
  const file = join(config.dataDir, ADMIN_TOKEN_FILE);
  const kept = await readFile(file, 'utf8').then(
    (text) => text.trim(),
    () => '',
  );
  if (kept !== '') {
    try {
      // The database may be new (another NES_DATABASE_URL): the kept token is registered there.
      await install(kept);
      return { token: kept, source: 'file' };
    } catch (error) {
      if (!(error instanceof RevokedTokenError)) throw error;
      log(`nes: the admin token kept in ${file} was revoked; generating a new one`);
    }
  }
  const secret = `nes_${randomBytes(24).toString('base64url')}`;
  await install(secret);
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${secret}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, file);
  return { token: secret, source: 'file' };
}

/** NES_STORE as the executor and the API both read it: a gs:// URI or an absolute directory. */
function outputStoreLocation(store: string): string {
  if (store.startsWith('gs://') || store.startsWith('file://')) return store;
  return resolve(store);
}

/** A local store's directory (NES_STORE as a directory or file:// URL). */
function localStorePath(location: string): string {
  return location.startsWith('file://') ? fileURLToPath(location) : location;
}

/** fastify's own log (JSON, stderr): NES_LOG_LEVEL when set, else warnings and errors only. */
function fastifyLogLevel(env: NodeJS.ProcessEnv, flags: ConfigFlags | undefined): string {
  return flags?.LOG_LEVEL || env.NES_LOG_LEVEL?.trim() || 'warn';
}

/** The output listener's origin: the public URL's host on the output port. */
function outputOrigin(publicUrl: string, server: Server): string {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const base = new URL(publicUrl);
  return `${base.protocol}//${base.hostname}:${port}`;
}

function envSeconds(env: NodeJS.ProcessEnv, name: string): number | null {
  const value = envInteger(env, name, 0, 24 * 3600);
  return value === null ? null : value * 1000;
}

function envInteger(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number | null {
  const text = env[name]?.trim();
  if (text === undefined || text === '') return null;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) {
    throw new ConfigError(
      name,
      `expected an integer from ${min} to ${max}, got ${JSON.stringify(text)}`,
    );
  }
  return n;
}
