import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../src/config.ts';
import { assertJupyterServerAvailable } from '../src/executors/jupyter-check.ts';

test('the local executor without Jupyter Server: a clear start error, not a spawn ENOENT later', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nes-jupyter-check-'));
  try {
    assert.throws(
      () => assertJupyterServerAvailable({ NES_JUPYTER_BIN: dir, PATH: '' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.variable === 'NES_JUPYTER_BIN' &&
        /no jupyter-server executable/.test(err.message),
    );
    const server = join(dir, 'jupyter-server');
    writeFileSync(server, '#!/bin/sh\n');
    assert.throws(
      () => assertJupyterServerAvailable({ NES_JUPYTER_BIN: server, PATH: '' }),
      /NES_EXECUTOR: the local executor .* there is none here/,
      'present but not executable',
    );
    chmodSync(server, 0o755);
    assertJupyterServerAvailable({ NES_JUPYTER_BIN: dir, PATH: '' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
