/**
 * The service configuration: flags over `NES_*` variables over defaults, validated once at start.
 * A bad value fails with a ConfigError naming the variable (or flag) and what it takes.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseAllowList } from '@nes/sources';

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
  /**
   * Secrets of GitHub push webhooks (POST /v1/hooks/github), by repository (`owner/repo`,
   * lowercase; NES_GITHUB_WEBHOOK_SECRETS_FILE, a JSON object), and one for any other
   * repository (NES_GITHUB_WEBHOOK_SECRET). No secret: the hook refuses the repository.
   */
  githubWebhookSecrets: { default: string | null; byRepository: Record<string, string> };
  /** Non-public hosts, IPs or CIDR ranges https:// sources may reach (NES_SOURCE_ALLOWED_HOSTS). */
  sourceAllowedHosts: string | null;
  /** Notebooks that get their own value of the `notebook` metrics label (NES_METRICS_NOTEBOOKS). */
  metricsNotebooks: string[];
  /** Notifications: non-public receivers allowed, the retry window, deliveries in flight, first back-off. */
  notify: {
    allowedHosts: string | null;
    retrySeconds: number;
    concurrency: number;
    backoffMs: number;
    timeoutSeconds: number;
  };
  /** The viewer's origin: the one origin CORS allows. null: no cross-origin access. */
  viewerOrigin: string | null;
  /** Base of the links the API returns (`links.viewer`). Default `http://HOST:PORT`. */
  publicUrl: string;
  /** Largest request body in bytes. */
  bodyLimit: number;
  /** Largest `parameters` object in bytes (as JSON). */
  maxParametersBytes: number;
  /** Submits validated and stored at once; more wait for a 429 (NES_MAX_CONCURRENT_SUBMITS). */
  maxConcurrentSubmits: number;
  /** Queued runs at most; a submit past it gets 429 (NES_MAX_QUEUED_RUNS). */
  maxQueuedRuns: number;
  /** Bytes an event or log stream may hold for a client that does not read; past it, dropped. */
  streamBufferBytes: number;
  logLevel: string;
  /** The built viewer (index.html, frame.html, assets/); null: the workspace's apps/viewer/dist. */
  viewerDir: string | null;
  /** Port of the output origin (untrusted notebook output); default PORT + 1 (0 when PORT is 0). */
  outputPort: number;
  /** Public origin of the output listener (another host behind an ingress); null: derived. */
  outputUrl: string | null;
  /** NES_K8S_*: read when `executor` is 'kubernetes', else null. */
  kubernetes: KubernetesConfig | null;
  /** How the local executor isolates runs (docs/security.md). */
  sandbox: SandboxConfig;
}

export interface SandboxConfig {
  /** NES_SANDBOX: `auto` (bubblewrap when usable, else a loud warning), `require`, `off`. */
  mode: 'auto' | 'require' | 'off';
  /** NES_SANDBOX_USER: the unprivileged user runs switch to when the service is root. */
  user: string;
  /** NES_SANDBOX_NETWORK: `host` (runs share the host's network) or `none` (loopback only). */
  network: 'host' | 'none';
  /** NES_SANDBOX_READONLY: colon-separated extra host paths runs may read. */
  readOnlyPaths: string[];
  /** NES_RUN_ENV: comma-separated names of this environment's variables every run gets. */
  runEnv: string[];
  /**
   * NES_FORK_KERNELS: `on` (default) forks each run's Python kernel from a template that has
   * already imported ipykernel and NES_FORK_PRELOAD (comma-separated modules, default numpy;
   * `none` for ipykernel and IPython only);
   * `off` starts every kernel normally.
   */
  forkKernels: { enabled: boolean; preload: string[] };
  /**
   * NES_KERNEL_SERVER: `none` (default) drives each run's IPython kernel directly over ZeroMQ
   * inside its sandbox; `per-run` gives every run a Jupyter Server of its own in the sandbox (as
   * kernels other than IPython always get).
   */
  kernelServer: 'none' | 'per-run';
  /**
   * NES_RUN_NICE: the CPU niceness of runs' processes (worker, Jupyter Server, kernel), 0-19.
   * Runs use every idle core either way; when the machine is busy, the service's own process
   * (the API, its database thread, the scheduler) is served first, so it answers promptly.
   */
  nice: number;
}

export interface KubernetesConfig {
  /** NES_K8S_NAMESPACE: where run Jobs are created. Default nes-runs. */
  namespace: string;
  /** NES_K8S_IMAGE: the runner image (or `image` in the settings file). */
  image: string | null;
  /** NES_K8S_KUBECONFIG: a kubeconfig file; default in-cluster, else the usual lookup. */
  kubeconfig: string | null;
  /** NES_K8S_POD_TEMPLATE: a PodTemplate in the namespace, the base of every run's pod. */
  podTemplate: string | null;
  /** NES_K8S_PENDING_TIMEOUT_SECONDS: unscheduled or pulling this long fails as infra. */
  pendingTimeoutSeconds: number;
  /** NES_K8S_LEASE_NAME: `name` or `namespace/name` of the Lease electing one replica. */
  lease: { namespace: string | null; name: string } | null;
  /** NES_K8S_SETTINGS_FILE: YAML or JSON of the run policy (settings-file.ts). */
  settingsFile: string | null;
  /**
   * NES_K8S_INSTALLATION: this installation's label value on its Jobs and pods; default derived
   * from the lease (`<namespace>.<name>`), else the API pod's namespace.
   */
  installation: string | null;
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
  | 'GITHUB_WEBHOOK_SECRET'
  | 'GITHUB_WEBHOOK_SECRETS_FILE'
  | 'SOURCE_ALLOWED_HOSTS'
  | 'NOTIFY_ALLOWED_HOSTS'
  | 'METRICS_NOTEBOOKS'
  | 'NOTIFY_RETRY_SECONDS'
  | 'NOTIFY_CONCURRENCY'
  | 'NOTIFY_BACKOFF_MS'
  | 'NOTIFY_TIMEOUT_SECONDS'
  | 'VIEWER_ORIGIN'
  | 'PUBLIC_URL'
  | 'BODY_LIMIT'
  | 'MAX_PARAMETERS_BYTES'
  | 'MAX_CONCURRENT_SUBMITS'
  | 'MAX_QUEUED_RUNS'
  | 'STREAM_BUFFER_BYTES'
  | 'LOG_LEVEL'
  | 'VIEWER_DIR'
  | 'OUTPUT_PORT'
  | 'OUTPUT_URL'
  | 'SANDBOX'
  | 'SANDBOX_USER'
  | 'SANDBOX_NETWORK'
  | 'SANDBOX_READONLY'
  | 'FORK_KERNELS'
  | 'FORK_PRELOAD'
  | 'KERNEL_SERVER'
  | 'RUN_ENV'
  | 'RUN_NICE'
  | 'K8S_NAMESPACE'
  | 'K8S_IMAGE'
  | 'K8S_KUBECONFIG'
  | 'K8S_POD_TEMPLATE'
  | 'K8S_PENDING_TIMEOUT_SECONDS'
  | 'K8S_LEASE_NAME'
  | 'K8S_SETTINGS_FILE'
  | 'K8S_INSTALLATION';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const LABEL_VALUE = /^(?=.{1,63}$)[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

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

  const sourceAllowedHosts = text('SOURCE_ALLOWED_HOSTS');
  if (sourceAllowedHosts !== null) {
    try {
      parseAllowList(sourceAllowedHosts);
    } catch (error) {
      throw new ConfigError('NES_SOURCE_ALLOWED_HOSTS', (error as Error).message);
    }
  }

  const notifyAllowedHosts = text('NOTIFY_ALLOWED_HOSTS');
  if (notifyAllowedHosts !== null) {
    try {
      parseAllowList(notifyAllowedHosts);
    } catch (error) {
      throw new ConfigError('NES_NOTIFY_ALLOWED_HOSTS', (error as Error).message);
    }
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

  const kubernetes = executor === 'kubernetes' ? kubernetesConfig() : null;

  const sandboxMode = read('SANDBOX');
  if (sandboxMode !== null && !['auto', 'require', 'off'].includes(sandboxMode.value)) {
    throw new ConfigError(
      sandboxMode.name,
      `expected "auto", "require" or "off", got ${JSON.stringify(sandboxMode.value)}`,
    );
  }
  const sandboxUser = read('SANDBOX_USER');
  if (sandboxUser !== null && !/^[a-z_][a-z0-9_-]{0,31}$/.test(sandboxUser.value)) {
    throw new ConfigError(
      sandboxUser.name,
      `expected a user name, got ${JSON.stringify(sandboxUser.value)}`,
    );
  }
  const sandboxNetwork = read('SANDBOX_NETWORK');
  if (sandboxNetwork !== null && !['host', 'none'].includes(sandboxNetwork.value)) {
    throw new ConfigError(
      sandboxNetwork.name,
      `expected "host" or "none", got ${JSON.stringify(sandboxNetwork.value)}`,
    );
  }
  const forkKernels = read('FORK_KERNELS');
  if (forkKernels !== null && !['on', 'off'].includes(forkKernels.value)) {
    throw new ConfigError(
      forkKernels.name,
      `expected "on" or "off", got ${JSON.stringify(forkKernels.value)}`,
    );
  }
  const preloadList = text('FORK_PRELOAD') ?? 'numpy';
  const forkPreload = (preloadList === 'none' ? '' : preloadList)
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  for (const name of forkPreload) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(name)) {
      throw new ConfigError(
        'NES_FORK_PRELOAD',
        `${JSON.stringify(name)} is not a Python module name`,
      );
    }
  }
  const kernelServer = read('KERNEL_SERVER');
  if (kernelServer !== null && !['none', 'per-run'].includes(kernelServer.value)) {
    throw new ConfigError(
      kernelServer.name,
      `expected "none" or "per-run", got ${JSON.stringify(kernelServer.value)}`,
    );
  }
  const runEnv = read('RUN_ENV');
  const runEnvNames = (runEnv?.value ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  for (const name of runEnvNames) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || name.startsWith('NES_')) {
      throw new ConfigError(
        runEnv?.name ?? 'NES_RUN_ENV',
        `${JSON.stringify(name)} is not an environment variable a run may get (NES_* never are)`,
      );
    }
  }
  const sandbox: SandboxConfig = {
    mode: (sandboxMode?.value ?? 'auto') as SandboxConfig['mode'],
    user: sandboxUser?.value ?? 'nes-sandbox',
    network: (sandboxNetwork?.value ?? 'host') as SandboxConfig['network'],
    readOnlyPaths: (text('SANDBOX_READONLY') ?? '')
      .split(':')
      .filter((path) => path.trim() !== '')
      .map((path) => resolve(path)),
    runEnv: runEnvNames,
    forkKernels: { enabled: forkKernels?.value !== 'off', preload: forkPreload },
    kernelServer: kernelServer?.value === 'per-run' ? 'per-run' : 'none',
    nice: integer('RUN_NICE', 10, 0, 19),
  };

  function webhookSecrets(): NesConfig['githubWebhookSecrets'] {
    const byRepository: Record<string, string> = {};
    const file = read('GITHUB_WEBHOOK_SECRETS_FILE');
    if (file !== null) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(file.value, 'utf8'));
      } catch (error) {
        throw new ConfigError(
          file.name,
          `cannot read ${file.value} as JSON (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
        );
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
        throw new ConfigError(file.name, 'expected a JSON object {"owner/repo": "secret"}');
      for (const [repo, secret] of Object.entries(parsed)) {
        if (!/^[\w.-]+\/[\w.-]+$/.test(repo) || typeof secret !== 'string' || secret === '')
          throw new ConfigError(
            file.name,
            `entry ${JSON.stringify(repo)}: expected "owner/repo": "secret"`,
          );
        byRepository[repo.toLowerCase()] = secret;
      }
    }
    return { default: text('GITHUB_WEBHOOK_SECRET'), byRepository };
  }

  function kubernetesConfig(): KubernetesConfig {
    const name = (key: ConfigKey, pattern: RegExp, what: string): string | null => {
      const got = read(key);
      if (got === null) return null;
      if (got.value.length > 253 || !pattern.test(got.value)) {
        throw new ConfigError(got.name, `expected ${what}, got ${JSON.stringify(got.value)}`);
      }
      return got.value;
    };
    const file = (key: ConfigKey): string | null => {
      const got = read(key);
      if (got === null) return null;
      try {
        readFileSync(got.value);
      } catch (error) {
        throw new ConfigError(
          got.name,
          `cannot read ${got.value} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
        );
      }
      return resolve(got.value);
    };
    const leaseText = read('K8S_LEASE_NAME');
    let lease: KubernetesConfig['lease'] = null;
    if (leaseText !== null) {
      const parts = leaseText.value.split('/');
      const leaseName = parts.at(-1) ?? '';
      const leaseNamespace = parts.length === 2 ? (parts[0] as string) : null;
      if (
        parts.length > 2 ||
        !DNS_SUBDOMAIN.test(leaseName) ||
        (leaseNamespace !== null && !DNS_LABEL.test(leaseNamespace))
      ) {
        throw new ConfigError(
          leaseText.name,
          `expected a Lease name or namespace/name, got ${JSON.stringify(leaseText.value)}`,
        );
      }
      lease = { namespace: leaseNamespace, name: leaseName };
    }
    const image = read('K8S_IMAGE');
    if (image !== null && /\s/.test(image.value)) {
      throw new ConfigError(
        image.name,
        `expected an image reference, got ${JSON.stringify(image.value)}`,
      );
    }
    return {
      namespace: name('K8S_NAMESPACE', DNS_LABEL, 'a namespace name (a DNS label)') ?? 'nes-runs',
      image: image?.value ?? null,
      kubeconfig: file('K8S_KUBECONFIG'),
      podTemplate: name('K8S_POD_TEMPLATE', DNS_SUBDOMAIN, 'a PodTemplate name'),
      pendingTimeoutSeconds: integer('K8S_PENDING_TIMEOUT_SECONDS', 600, 1, 7 * 24 * 3600),
      lease,
      settingsFile: file('K8S_SETTINGS_FILE'),
      installation: name(
        'K8S_INSTALLATION',
        LABEL_VALUE,
        'a label value (63 characters at most: letters, digits, -, _ and .)',
      ),
    };
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
    githubWebhookSecrets: webhookSecrets(),
    sourceAllowedHosts,
    metricsNotebooks: (text('METRICS_NOTEBOOKS') ?? '')
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== ''),
    notify: {
      allowedHosts: notifyAllowedHosts,
      retrySeconds: integer('NOTIFY_RETRY_SECONDS', 24 * 3600, 1, 30 * 24 * 3600),
      concurrency: integer('NOTIFY_CONCURRENCY', 8, 1, 256),
      backoffMs: integer('NOTIFY_BACKOFF_MS', 1000, 10, 3600_000),
      timeoutSeconds: integer('NOTIFY_TIMEOUT_SECONDS', 10, 1, 300),
    },
    viewerOrigin: url('VIEWER_ORIGIN', true),
    publicUrl:
      url('PUBLIC_URL') ??
      `http://${publicHost.includes(':') ? `[${publicHost}]` : publicHost}:${port}`,
    bodyLimit: integer('BODY_LIMIT', 1024 * 1024, 1024, 64 * 1024 * 1024),
    maxParametersBytes: integer('MAX_PARAMETERS_BYTES', 256 * 1024, 16, 64 * 1024 * 1024),
    maxConcurrentSubmits: integer('MAX_CONCURRENT_SUBMITS', 8, 1, 10_000),
    maxQueuedRuns: integer('MAX_QUEUED_RUNS', 10_000, 1, 10_000_000),
    streamBufferBytes: integer('STREAM_BUFFER_BYTES', 4 * 1024 * 1024, 16 * 1024, 1024 ** 3),
    logLevel: text('LOG_LEVEL') ?? 'info',
    viewerDir: text('VIEWER_DIR') === null ? null : resolve(text('VIEWER_DIR') as string),
    outputPort,
    outputUrl: url('OUTPUT_URL', true),
    kubernetes,
    sandbox,
  };
}
