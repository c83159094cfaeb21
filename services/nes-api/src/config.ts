/**
 * The service configuration: flags over `NES_*` variables over defaults, validated once at start.
 * A bad value fails with a ConfigError naming the variable (or flag) and what it takes.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export type ExecutorKind = 'local' | 'kubernetes';

export interface NesConfig {
  port: number;
  host: string;
  /** Embedded store, database and logs. */
  dataDir: string;
  /** Fixed admin token (automation); null: the service generates one and prints it. */
  adminToken: string | null;
  notebookRoots: string[];
  /** PostgreSQL URL; null: PGlite under `dataDir`. */
  databaseUrl: string | null;
  /** `gs://bucket/prefix` or a directory. Default `<dataDir>/store`. */
  store: string;
  executor: ExecutorKind;
  githubApiUrl: string | null;
  githubToken: string | null;
  /** The viewer's origin: the one origin CORS allows. null: no cross-origin access. */
  viewerOrigin: string | null;
  /** Base of the links the API returns (`links.viewer`). Default `http://HOST:PORT`. */
  publicUrl: string;
  /** Largest request body in bytes. */
  bodyLimit: number;
  /** Largest `parameters` object in bytes (as JSON). */
  maxParametersBytes: number;
  logLevel: string;
  /** The built viewer (index.html, frame.html, assets/); null: the workspace's apps/viewer/dist. */
  viewerDir: string | null;
  /** Port of the output origin (untrusted notebook output); default PORT + 1 (0 when PORT is 0). */
  outputPort: number;
  /** Public origin of the output listener (another host behind an ingress); null: derived. */
  outputUrl: string | null;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.variable = variable;
  }
}

/** Flag names (`--port`) map onto the same keys as `NES_PORT`. */
export type ConfigFlags = Partial<Record<ConfigKey, string>>;

type ConfigKey =
  | 'PORT'
  | 'HOST'
  | 'DATA_DIR'
  | 'ADMIN_TOKEN'
  | 'NOTEBOOK_ROOTS'
  | 'DATABASE_URL'
  | 'STORE'
  | 'EXECUTOR'
  | 'GITHUB_API_URL'
  | 'GITHUB_TOKEN'
  | 'GITHUB_TOKEN_FILE'
  | 'VIEWER_ORIGIN'
  | 'PUBLIC_URL'
  | 'BODY_LIMIT'
  | 'MAX_PARAMETERS_BYTES'
  | 'LOG_LEVEL'
  | 'VIEWER_DIR'
  | 'OUTPUT_PORT'
  | 'OUTPUT_URL';

export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  flags: ConfigFlags = {},
): NesConfig {
  const read = (key: ConfigKey): { name: string; value: string } | null => {
    const flag = flags[key];
    if (flag !== undefined && flag !== '')
      return { name: `--${key.toLowerCase().replaceAll('_', '-')}`, value: flag };
    const value = env[`NES_${key}`]?.trim();
    return value === undefined || value === '' ? null : { name: `NES_${key}`, value };
  };
  const text = (key: ConfigKey): string | null => read(key)?.value ?? null;
  const integer = (key: ConfigKey, fallback: number, min: number, max: number): number => {
    const got = read(key);
    if (got === null) return fallback;
    const n = Number(got.value);
    if (!/^\d+$/.test(got.value) || n < min || n > max) {
      throw new ConfigError(
        got.name,
        `expected an integer from ${min} to ${max}, got ${JSON.stringify(got.value)}`,
      );
    }
    return n;
  };
  const url = (key: ConfigKey, originOnly = false): string | null => {
    const got = read(key);
    if (got === null) return null;
    let parsed: URL;
    try {
      parsed = new URL(got.value);
    } catch {
      throw new ConfigError(got.name, `expected an http(s) URL, got ${JSON.stringify(got.value)}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new ConfigError(got.name, `expected an http(s) URL, got ${JSON.stringify(got.value)}`);
    }
    if (originOnly) return parsed.origin;
    return got.value.replace(/\/+$/, '');
  };

  const port = integer('PORT', 8080, 0, 65535);
  const host = text('HOST') ?? '127.0.0.1';
  const dataDir = resolve(text('DATA_DIR') ?? '.nes');

  const executorText = read('EXECUTOR');
  const executor = (executorText?.value ?? 'local') as ExecutorKind;
  if (executor !== 'local' && executor !== 'kubernetes') {
    throw new ConfigError(
      executorText?.name ?? 'NES_EXECUTOR',
      `expected "local" or "kubernetes", got ${JSON.stringify(executor)}`,
    );
  }

  const databaseUrl = read('DATABASE_URL');
  if (databaseUrl !== null && !/^postgres(ql)?:\/\//.test(databaseUrl.value)) {
    throw new ConfigError(databaseUrl.name, 'expected a postgres:// or postgresql:// URL');
  }

  const adminToken = read('ADMIN_TOKEN');
  if (adminToken !== null && adminToken.value.length < 16) {
    throw new ConfigError(adminToken.name, 'a token must be at least 16 characters long');
  }

  let githubToken = text('GITHUB_TOKEN');
  const tokenFile = read('GITHUB_TOKEN_FILE');
  if (githubToken === null && tokenFile !== null) {
    try {
      githubToken = readFileSync(tokenFile.value, 'utf8').trim() || null;
    } catch (error) {
      throw new ConfigError(
        tokenFile.name,
        `cannot read ${tokenFile.value} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  }

  const roots = (text('NOTEBOOK_ROOTS') ?? '')
    .split(':')
    .filter((root) => root.trim() !== '')
    .map((root) => resolve(root));

  // The output origin is another port: the browser isolates untrusted output by origin.
  const outputPort = integer(
    'OUTPUT_PORT',
    port === 0 ? 0 : port < 65535 ? port + 1 : port - 1,
    0,
    65535,
  );
  if (outputPort !== 0 && outputPort === port) {
    throw new ConfigError(
      read('OUTPUT_PORT')?.name ?? 'NES_OUTPUT_PORT',
      `the output origin needs its own port, not the API's (${port})`,
    );
  }

  const publicHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return {
    port,
    host,
    dataDir,
    adminToken: adminToken?.value ?? null,
    notebookRoots: roots,
    databaseUrl: databaseUrl?.value ?? null,
    store: text('STORE') ?? resolve(dataDir, 'store'),
    executor,
    githubApiUrl: url('GITHUB_API_URL'),
    githubToken,
    viewerOrigin: url('VIEWER_ORIGIN', true),
    publicUrl:
      url('PUBLIC_URL') ??
      `http://${publicHost.includes(':') ? `[${publicHost}]` : publicHost}:${port}`,
    bodyLimit: integer('BODY_LIMIT', 1024 * 1024, 1024, 64 * 1024 * 1024),
    maxParametersBytes: integer('MAX_PARAMETERS_BYTES', 256 * 1024, 16, 64 * 1024 * 1024),
    logLevel: text('LOG_LEVEL') ?? 'info',
    viewerDir: text('VIEWER_DIR') === null ? null : resolve(text('VIEWER_DIR') as string),
    outputPort,
    outputUrl: url('OUTPUT_URL', true),
  };
}
