/**
 * The README promises that `npm start` on a fresh clone starts the service, runs the example
 * notebook with parameters through the API, and stays up with the viewer URL printed. This runs
 * that exact script (on its own port and data directory), checks the run and its notebook through
 * the API, then stops it with SIGTERM and expects a clean exit.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseNotebook } from '@nes/notebook';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

test('npm start serves NES, runs the example through the API and stops cleanly on SIGTERM', async () => {
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'nes-quickstart-'));
  const child = spawn('npm', ['start', '--silent'], {
    cwd: repoRoot,
    env: { ...process.env, NES_PORT: String(port), NES_DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );

  try {
    // Up, the example run followed to its end, the viewer URL printed last.
    const giveUp = performance.now() + 240_000;
    while (!output.includes('Press Ctrl-C to stop.')) {
      if (performance.now() > giveUp || child.exitCode !== null) {
        assert.fail(`npm start did not come up:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const url = `http://127.0.0.1:${port}`;
    const token = /NES_TOKEN=(\S+)/.exec(output)?.[1];
    assert.ok(token, output);
    assert.ok(output.includes(`${url}/?token=${token}`), 'the viewer URL carries the token');
    assert.match(output, /: running\b/, 'the run was followed while it ran');
    assert.match(output, /: succeeded, output /);

    const get = async (path: string) => {
      const response = await fetch(`${url}${path}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(response.status, 200, path);
      return response.text();
    };
    const { runs } = JSON.parse(await get('/v1/runs')) as {
      runs: Array<{ id: string; status: string; notebook: string; parameters: unknown }>;
    };
    const run = runs.find((r) => r.notebook === join(repoRoot, 'examples', 'hello.ipynb'));
    assert.ok(run, JSON.stringify(runs));
    assert.equal(run.status, 'succeeded');
    assert.deepEqual(run.parameters, { name: 'NES user', count: 3 });

    const notebook = parseNotebook(await get(`/v1/runs/${run.id}/notebook`));
    const papermill = notebook.metadata.papermill;
    assert.deepEqual(papermill?.parameters, { name: 'NES user', count: 3 });
    // papermill leaves the notebook-level exception null on success; cells say false.
    assert.equal(papermill?.exception, null);
    const injected = notebook.cells.find((cell) =>
      cell.metadata.tags?.includes('injected-parameters'),
    );
    assert.equal(injected?.source, '# Parameters\nname = "NES user"\ncount = 3\n');
    const printed = notebook.cells
      .flatMap((cell) => (cell.cell_type === 'code' ? cell.outputs : []))
      .map((out) => (out.output_type === 'stream' ? out.text : ''))
      .join('');
    assert.match(printed, /NES user/);
    for (const cell of notebook.cells) {
      if (cell.cell_type === 'code') assert.equal(cell.metadata.papermill?.status, 'completed');
    }
  } finally {
    child.kill('SIGTERM');
  }
  const exit = await exited;
  assert.equal(exit.code, 0, output);
  assert.match(output, /NES stopped\./);
});
