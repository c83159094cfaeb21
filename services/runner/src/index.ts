export { DEFAULT_AUTOSAVE_POLICY } from './autosave.ts';
export { DEFAULT_START_TIMEOUT_MS, executeNotebook } from './execute.ts';
export type * from './execution-types.ts';
export type { PrivateJupyterServer, StartServerOptions } from './jupyter-server.ts';
export { locateJupyterServer, startJupyterServer } from './jupyter-server.ts';
export { DEFAULT_OUTPUT_LIMITS } from './output-limits.ts';
