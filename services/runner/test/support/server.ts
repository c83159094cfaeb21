/** One private Jupyter Server shared by the tests of a file (start ~1 s, kernels ~0.5 s each). */
import { after, before } from 'node:test';
import type { JupyterServerTarget } from '../../src/execution-types.ts';
import { type PrivateJupyterServer, startJupyterServer } from '../../src/jupyter-server.ts';

export function sharedServer(): () => JupyterServerTarget {
  let server: PrivateJupyterServer | null = null;
  before(async () => {
    server = await startJupyterServer();
  });
  after(async () => {
    await server?.stop();
  });
  return () => {
    if (!server) throw new Error('the shared Jupyter Server is not running');
    return { url: server.url, token: server.token, rootDir: server.rootDir };
  };
}
