/**
 * `npm start`: the service on its embedded defaults (local executor, local output store, PGlite
 * under .nes/), then the example notebook submitted with parameters through the API by the `nes`
 * CLI, followed to the end, and the service left running with its viewer URL printed. Ctrl-C
 * (or SIGTERM) stops it gracefully.
 *
 * Any NES_* variable still applies (NES_PORT, NES_DATA_DIR...); NES_NOTEBOOK_ROOTS defaults to
 * the repository's examples directory.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startService } from '@nes/api';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const examples = join(repo, 'examples');
const env: NodeJS.ProcessEnv = {
  ...process.env,
  NES_NOTEBOOK_ROOTS: process.env.NES_NOTEBOOK_ROOTS || examples,
  NES_DATA_DIR: process.env.NES_DATA_DIR || join(repo, '.nes'),
};
const say = (text: string) => process.stderr.write(`${text}\n`);

say(`Starting NES (data in ${env.NES_DATA_DIR}) ...`);
const service = await startService({ env });

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) {
      say(`${signal} again: exiting now`);
      process.exit(130);
    }
    stopping = true;
    say(`\n${signal}: stopping NES (running runs get a grace period to finish) ...`);
    service.close().then(
      () => {
        say('NES stopped.');
        process.exit(0);
      },
      (error: unknown) => {
        say(`NES did not stop cleanly: ${String(error)}`);
        process.exit(1);
      },
    );
  });
}

say(`NES is running at ${service.url}`);
const example = join(examples, 'hello.ipynb');
say(`\nSubmitting ${example} with parameters name="NES user", count=3:`);
say(`  nes submit ${example} -p name 'NES user' -p count 3 --wait\n`);
const cli = join(repo, 'packages', 'cli', 'bin', 'nes.ts');
const submit = spawn(
  process.execPath,
  [cli, 'submit', example, '-p', 'name', 'NES user', '-p', 'count', '3', '--wait'],
  {
    env: { ...env, NES_URL: service.url, NES_TOKEN: service.adminToken },
    stdio: ['ignore', 'ignore', 'inherit'],
  },
);
const code = await new Promise<number | null>((resolve) => submit.once('exit', resolve));
if (stopping) await new Promise(() => {}); // the signal handler exits
if (code !== 0) say(`\nThe example run did not succeed (nes exited with ${code}).`);

// An admin token from NES_ADMIN_TOKEN is never printed (start-up output ends up in logs).
const fromEnvironment = service.adminTokenSource === 'environment';
say(`
NES is running at ${service.url}
Open it (the URL carries the admin token${fromEnvironment ? ' from NES_ADMIN_TOKEN, not printed' : ''}):
    ${fromEnvironment ? `${service.url}/?token=<NES_ADMIN_TOKEN>` : service.viewerUrl}
Notebook output is shown from a second origin, ${service.outputUrl} (keep both ports reachable).
Use the CLI or the API from another terminal:
    export NES_URL=${service.url} NES_TOKEN=${fromEnvironment ? '"$NES_ADMIN_TOKEN"' : service.adminToken}
    npx nes list
Press Ctrl-C to stop.`);
