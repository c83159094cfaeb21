/**
 * The local executor runs notebooks through Jupyter Server on this machine. Where there is none
 * (the API's container image has no Python at all), the service refuses to start with that said
 * plainly, instead of failing every run later with "spawn jupyter-server ENOENT".
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { locateJupyterServer } from '@nes/runner';
import { ConfigError } from '../config.ts';

export function assertJupyterServerAvailable(env: NodeJS.ProcessEnv): void {
  let command: string;
  try {
    command = locateJupyterServer(env).command;
  } catch (err) {
    throw new ConfigError('NES_JUPYTER_BIN', (err as Error).message);
  }
  const candidates = isAbsolute(command)
    ? [command]
    : (env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, command));
  if (candidates.some(isExecutable)) return;
  throw new ConfigError(
    'NES_EXECUTOR',
    'the local executor (the default) runs notebooks with Jupyter Server on this machine, and ' +
      "there is none here: no jupyter-server in NES_JUPYTER_BIN, the checkout's .tools/py (made " +
      'by `npm run setup`) or on PATH. Install one, or set NES_EXECUTOR=kubernetes to run ' +
      'notebooks as Kubernetes Jobs (the API image has no Python: it is made for that).',
  );
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
