/**
 * The environments the local executor gives its children, built from allow-lists: nothing of the
 * service's own environment reaches a runner worker, a run's Jupyter Server or its kernel unless
 * it is named here (or by the operator, NES_RUN_ENV). The service's secrets (NES_ADMIN_TOKEN,
 * NES_GITHUB_TOKEN, NES_DATABASE_URL, cloud keys...) are therefore absent by construction, not
 * removed one by one: a secret added tomorrow under a new name stays out too.
 */
import { delimiter } from 'node:path';

/** Locale, time zone and terminal width: how output looks, never a secret. */
const PRESENTATION = /^(LANG|LANGUAGE|LC_[A-Z_]+|TZ)$/;

/**
 * What a runner worker needs besides presentation: where things are and how to reach the
 * store (which the worker writes and the kernel never sees). Credentials for the store are
 * references to files (GOOGLE_APPLICATION_CREDENTIALS), readable by the worker's user only;
 * the GitHub token travels over the worker's private IPC channel, not its environment.
 */
const WORKER_NAMES = new Set([
  'PATH',
  'HOME',
  'TMPDIR',
  'NODE_COMPILE_CACHE',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'NES_NOTEBOOK_ROOTS',
  'NES_GITHUB_API_URL',
  'STORAGE_EMULATOR_HOST',
  'GOOGLE_APPLICATION_CREDENTIALS',
  'GOOGLE_CLOUD_PROJECT',
  'GCLOUD_PROJECT',
]);

function pick(source: NodeJS.ProcessEnv, keep: (name: string) => boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(source)) {
    if (value !== undefined && keep(name)) out[name] = value;
  }
  return out;
}

/** A runner worker's environment: the allow-list, then what the executor sets explicitly. */
export function workerEnvironment(
  source: NodeJS.ProcessEnv,
  explicit: Record<string, string>,
): Record<string, string> {
  return {
    ...pick(source, (name) => PRESENTATION.test(name) || WORKER_NAMES.has(name)),
    ...explicit,
  };
}

export interface RunEnvironmentOptions {
  /** The run's private directory: HOME, the working directory and Jupyter's own files. */
  home: string;
  /** Directories put first on PATH (the kernel environment's executables, Node's). */
  pathFirst: string[];
  /** Names the operator passes from the service's environment to every run (NES_RUN_ENV). */
  passNames?: readonly string[];
  /** Set explicitly for every run (the executor's `runEnv`). */
  explicit?: Record<string, string>;
}

/**
 * The environment of a run's Jupyter Server and so of its kernel (a kernel inherits the server's
 * environment). HOME and Jupyter's config, data and runtime directories point into the run's own
 * directory, so no configuration, kernelspec or connection file of the service's user is read
 * or written, and connection files stay private to the run.
 */
export function runEnvironment(
  source: NodeJS.ProcessEnv,
  options: RunEnvironmentOptions,
): Record<string, string> {
  const passed = new Set(options.passNames ?? []);
  const systemPath = ['/usr/local/bin', '/usr/bin', '/bin'];
  return {
    ...pick(source, (name) => PRESENTATION.test(name) || passed.has(name)),
    PATH: [...options.pathFirst, ...systemPath].join(delimiter),
    HOME: options.home,
    TMPDIR: '/tmp',
    JUPYTER_CONFIG_DIR: `${options.home}/.jupyter`,
    JUPYTER_RUNTIME_DIR: `${options.home}/.jupyter/runtime`,
    JUPYTER_DATA_DIR: `${options.home}/.local/share/jupyter`,
    IPYTHONDIR: `${options.home}/.ipython`,
    PYTHONUNBUFFERED: '1',
    ...options.explicit,
  };
}
