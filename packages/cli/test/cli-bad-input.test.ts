/**
 * `nes` against the real API app: parameter names that are code and labels out of bounds are
 * refused by the API and end the command with exit 2 (usage), naming what is wrong.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Harness, startHarness } from '../../../services/nes-api/test/api-harness.ts';

const BIN = fileURLToPath(new URL('../bin/nes.ts', import.meta.url));
const NB = 'github://acme/notebooks/nb/params.ipynb';
let h: Harness;
let url: string;

before(async () => {
  h = await startHarness();
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
});
after(() => h.close());

function nes(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, NES_URL: url, NES_TOKEN: h.tokens.submit },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

test('nes submit and sweep: bad parameter names and labels exit 2, nothing stored', async () => {
  const before = await h.runCount();
  for (const args of [
    ['submit', NB, '--allow-unknown-parameters', '-y', "\"__import__('os').system('id'); y\": 1"],
    ['submit', NB, '--allow-unknown-parameters', '-y', '"a\\nb": 1'],
    ['sweep', NB, '--allow-unknown-parameters', '--grid', 'class=1,2'],
  ]) {
    const r = await nes(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /invalid_parameter_name/);
  }
  const label = await nes(['submit', NB, '--label', 'bad key!=v']);
  assert.equal(label.code, 2, label.stderr);
  assert.match(label.stderr, /labels/);
  assert.equal(await h.runCount(), before);
});
