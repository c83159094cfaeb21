/**
 * A fresh clone stays clean after set-up: scripts/setup.sh runs `npm install`, which rewrites
 * package-lock.json whenever a package.json says something the lock file does not. So the lock
 * file must be exactly what npm makes of the manifests: npm resolves them again (lock only, no
 * install) in a copy, and nothing may change.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'nes-lock-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('package-lock.json is what npm makes of the package.json files', () => {
  const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    workspaces: string[];
  };
  const manifests = ['package.json', 'package-lock.json'];
  for (const pattern of root.workspaces) {
    const parent = pattern.replace(/\/\*$/, '');
    const dirs = pattern.endsWith('/*')
      ? readdirSync(join(ROOT, parent), { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => join(parent, entry.name))
      : [pattern];
    for (const workspace of dirs) manifests.push(join(workspace, 'package.json'));
  }
  for (const file of manifests) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    cpSync(join(ROOT, file), join(dir, file));
  }
  execFileSync(
    'npm',
    [
      'install',
      '--package-lock-only',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--loglevel=error',
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const before = readFileSync(join(ROOT, 'package-lock.json'), 'utf8');
  const after = readFileSync(join(dir, 'package-lock.json'), 'utf8');
  assert.ok(
    before === after,
    'npm changes package-lock.json for the package.json files as they are: run `npm install` and commit the lock file',
  );
});
