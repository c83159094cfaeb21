/**
 * The public packages as a user gets them: built and packed (scripts/build-packages.ts), installed
 * from their tarballs into an empty directory, their bins run on Node 22 and 24 (Node 24 is this
 * process; Node 22 and 20 come from the npm registry's `node` package), an older Node told in one
 * line what it needs, and their declarations usable from TypeScript.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildPackages } from '../../scripts/build-packages.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'nes-packages-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The path of a Node binary of this major version, from the registry's `node` package. */
function registryNode(major: number): string {
  return execFileSync('npm', ['exec', '--yes', `node@${major}`, '--', '-p', 'process.execPath'], {
    encoding: 'utf8',
    cwd: dir,
  }).trim();
}

/** Runs an installed bin the way a shell would: `#!/usr/bin/env node` finds `node` on PATH. */
function run(node: string, bin: string, args: string[]) {
  return spawnSync(join(dir, 'node_modules/.bin', bin), args, {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: `${dirname(node)}:${process.env.PATH}`, HOME: process.env.HOME ?? dir },
  });
}

const NOTEBOOK = {
  nbformat: 4,
  nbformat_minor: 5,
  metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
  cells: [
    {
      cell_type: 'code',
      id: 'p',
      metadata: { tags: ['parameters'] },
      source: 'alpha = 1',
      execution_count: null,
      outputs: [],
    },
  ],
};

describe('public packages, installed from their tarballs', () => {
  before(() => {
    const tarballs = buildPackages();
    writeFileSync(join(dir, 'package.json'), '{"name": "probe", "private": true}\n');
    writeFileSync(join(dir, 'in.ipynb'), JSON.stringify(NOTEBOOK));
    // Together, so each @nes dependency is the tarball beside it, never a registry package.
    execFileSync(
      'npm',
      ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...tarballs],
      { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] },
    );
  });

  for (const major of [24, 22]) {
    test(`nes and nes-run run on Node ${major}`, () => {
      const node = major === 24 ? process.execPath : registryNode(major);
      const help = run(node, 'nes', ['--help']);
      assert.equal(help.status, 0, help.stderr);
      assert.match(help.stdout, /nes submit/);
      const unreachable = run(node, 'nes', ['get', 'r1', '--url', 'http://127.0.0.1:9']);
      assert.equal(unreachable.status, 7, unreachable.stderr);
      assert.match(unreachable.stderr, /Is the service running/);
      // The service is an optional peer of the CLI: without it, nes serve says how to get it.
      const serve = run(node, 'nes', ['serve']);
      assert.equal(serve.status, 7);
      assert.match(serve.stderr, /^nes serve: .*@nes\/api.*npm install @nes\/api.*\n$/);

      const version = run(node, 'nes-run', ['--version']);
      assert.match(
        version.stdout,
        new RegExp(`^nes-run 0\\.1\\.0 \\(node ${major}\\.[\\d.]+\\)\n$`),
      );
      const out = join(dir, `out-${major}.ipynb`);
      const prepared = run(node, 'nes-run', [
        'in.ipynb',
        out,
        '--prepare-only',
        '-p',
        'alpha',
        '2',
      ]);
      assert.equal(prepared.status, 0, prepared.stderr);
      const cells = JSON.parse(readFileSync(out, 'utf8')).cells;
      assert.deepEqual(
        cells.map((c: { metadata: { tags?: string[] } }) => c.metadata.tags),
        [['parameters'], ['injected-parameters']],
      );
      assert.match([cells[1].source].flat().join(''), /^alpha = 2$/m);
    });
  }

  test('an older Node gets one line naming the version needed', () => {
    const node = registryNode(20);
    for (const bin of ['nes', 'nes-run']) {
      const r = run(node, bin, ['--help']);
      assert.equal(r.status, 1);
      assert.match(
        r.stderr,
        new RegExp(`^${bin} needs Node.js 22 or newer; this is Node.js 20\\.[\\d.]+\\n$`),
      );
    }
  });

  test('the declarations type-check a consumer', () => {
    writeFileSync(
      join(dir, 'consumer.ts'),
      [
        "import { NesClient } from '@nes/client';",
        "import { parseNotebook } from '@nes/notebook';",
        "import { EXIT_CODE_BY_CLASS, type RunFailure } from '@nes/run-contract';",
        "import { executeNotebook, type RunSummary } from '@nes/runner';",
        "export const failure: RunFailure = { class: 'oom', ename: 'x', evalue: 'y', cellIndex: null };",
        '// @ts-expect-error: not a failure class (the declarations were read)',
        "export const wrong: RunFailure = { class: 'nope', ename: 'x', evalue: 'y', cellIndex: null };",
        'export const code: number = EXIT_CODE_BY_CLASS.cell_error;',
        '// @ts-expect-error: a summary has an outcome, never a queue state',
        "export const status: RunSummary['status'] = 'queued';",
        'export const used = [NesClient, parseNotebook, executeNotebook];',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          target: 'es2023',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules/@types')],
        },
        files: ['consumer.ts'],
      }),
    );
    const tsc = spawnSync(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir],
      { encoding: 'utf8' },
    );
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
  });

  test('the CLI installs no runner and no service', () => {
    const manifest = JSON.parse(
      readFileSync(join(dir, 'node_modules/@nes/cli/package.json'), 'utf8'),
    );
    assert.deepEqual(Object.keys(manifest.dependencies).sort(), [
      '@nes/client',
      '@nes/notebook',
      '@nes/run-contract',
      'cli-progress',
      'yargs',
    ]);
    assert.deepEqual(manifest.peerDependenciesMeta, { '@nes/api': { optional: true } });
    assert.equal(manifest.devDependencies, undefined);
    assert.equal(manifest.engines.node, '>=22');
  });
});
