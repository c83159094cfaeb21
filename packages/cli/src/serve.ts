/**
 * `nes serve`: starts the service from @nes/api (API and viewer). Flags map onto the same
 * configuration keys as the NES_* variables (flags win). Prints the viewer URL with the admin
 * token, the way Jupyter prints its token URL, and stops cleanly on SIGINT/SIGTERM. An admin
 * token that came from NES_ADMIN_TOKEN is never printed: whoever set it has it, and start-up
 * output ends up in logs (a pod's) that more people read than the secret's holders.
 */
import { CliError, EXIT_INFRA, EXIT_SUCCEEDED } from './exit.ts';
import type { Io } from './main.ts';

/** What @nes/api is expected to export for `nes serve`. */
interface StartedService {
  /** Base URL the API listens on. */
  url: string;
  /** The viewer URL carrying the admin token, when the service prints one itself. */
  viewerUrl?: string;
  /** The origin that serves notebook outputs' scripts in sandboxed frames (its own port). */
  outputUrl?: string;
  adminToken?: string;
  /** 'environment': the token is NES_ADMIN_TOKEN's, not to be printed. */
  adminTokenSource?: 'environment' | 'file';
  close(): Promise<void>;
}

/** What `nes serve` (and `npm start`) print once the service listens. */
export function startBanner(service: StartedService): string {
  const lines = [`NES is running at ${service.url}`];
  if (service.adminTokenSource === 'environment') {
    lines.push(
      'Open the viewer with the admin token from NES_ADMIN_TOKEN (not printed):',
      `    ${service.url}/?token=<NES_ADMIN_TOKEN>`,
    );
  } else {
    const viewer =
      service.viewerUrl ??
      (service.adminToken
        ? `${service.url}/?token=${encodeURIComponent(service.adminToken)}`
        : service.url);
    lines.push('Open the viewer (the URL carries the admin token):', `    ${viewer}`);
  }
  if (service.outputUrl) {
    lines.push(`Notebook outputs with scripts run in frames from ${service.outputUrl}`);
  }
  if (service.adminTokenSource === 'environment') {
    lines.push(`Client: export NES_URL=${service.url} NES_TOKEN="$NES_ADMIN_TOKEN"`);
  } else if (service.adminToken) {
    lines.push(`Client: export NES_URL=${service.url} NES_TOKEN=${service.adminToken}`);
  }
  return `${lines.join('\n')}\n`;
}

type StartService = (options: {
  env: NodeJS.ProcessEnv;
  flags: Record<string, string>;
}) => Promise<StartedService>;

/**
 * The service package: an optional peer dependency of @nes/cli (declared in its package.json).
 * The client commands need only HTTP, so it is loaded only by `nes serve`, by a name TypeScript
 * does not follow: the CLI builds and installs without the service.
 */
const SERVICE_PACKAGE: string = '@nes/api';

/** startService from the service package, or one line saying how to get it. */
async function loadStartService(): Promise<StartService> {
  let api: { startService?: StartService };
  try {
    api = (await import(SERVICE_PACKAGE)) as { startService?: StartService };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException)?.code;
    if (
      code === 'ERR_MODULE_NOT_FOUND' &&
      String((err as Error).message).includes(`'${SERVICE_PACKAGE}'`)
    ) {
      throw new CliError(
        EXIT_INFRA,
        'the NES service package @nes/api is not installed next to @nes/cli: npm install @nes/api (the other commands only talk to a running service)',
      );
    }
    throw new CliError(
      EXIT_INFRA,
      `cannot load the NES service (@nes/api): ${(err as Error).message.split('\n')[0]}`,
    );
  }
  if (typeof api.startService !== 'function') {
    throw new CliError(
      EXIT_INFRA,
      '@nes/api does not export startService(): versions do not match',
    );
  }
  return api.startService;
}

export async function serve(a: Record<string, unknown>, io: Io): Promise<number> {
  const startService = await loadStartService();
  const flags: Record<string, string> = {};
  if (a.port !== undefined) flags.PORT = String(a.port);
  if (a.host !== undefined) flags.HOST = String(a.host);
  if (a['data-dir'] !== undefined) flags.DATA_DIR = String(a['data-dir']);
  let service: StartedService;
  try {
    service = await startService({ env: io.env, flags });
  } catch (err) {
    // A bad configuration is the operator's to fix: said as it is, not as an unexpected error.
    if ((err as Error)?.name === 'ConfigError') {
      throw new CliError(EXIT_INFRA, `configuration: ${(err as Error).message}`);
    }
    throw err;
  }
  io.stderr.write(startBanner(service));
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      io.stderr.write(`${signal}: stopping NES (runs get a grace period to finish)\n`);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await service.close();
  return EXIT_SUCCEEDED;
}
