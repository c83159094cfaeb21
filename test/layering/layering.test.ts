/**
 * The layering ARCHITECTURE.md states is the linter's to enforce (biome.json's overrides): each
 * probe is one import placed where the rule applies, linted with the repository's own
 * configuration, and must be refused or accepted as the layering says.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '../..');
const BIOME = join(ROOT, 'node_modules/.bin/biome');

/** Where the import is written, what it imports, and whether the layering allows it. */
const PROBES: Array<[path: string, specifier: string, allowed: boolean]> = [
  ['packages/cli/src/probe.ts', '@nes/api', false],
  ['packages/cli/src/probe.ts', '@nes/runner', false],
  ['packages/stores/src/probe.ts', '../../../services/runner/src/index.ts', false],
  ['packages/sources/src/probe.ts', 'node:fs', true],
  ['packages/sources/src/probe.ts', '@nes/stores', true],
  ['packages/notebook/src/probe.ts', 'node:crypto', false],
  ['packages/run-contract/src/probe.ts', 'node:fs', false],
  ['packages/client/src/probe.ts', 'node:http', false],
  ['packages/notebook/src/probe.ts', 'yaml', true],
  ['apps/viewer/src/probe.ts', '@nes/client', true],
  ['apps/viewer/src/probe.ts', '@nes/notebook', true],
  ['apps/viewer/src/probe.ts', '@nes/run-contract', true],
  ['apps/viewer/src/probe.ts', '@nes/sources', false],
  ['apps/viewer/src/probe.ts', '@nes/stores/local', false],
  ['apps/viewer/src/probe.ts', '../../../packages/sources/src/index.ts', false],
  ['apps/viewer/src/probe.ts', 'node:path', false],
  ['services/runner/src/probe.ts', '@nes/sources', true],
];

const dir = mkdtempSync(join(tmpdir(), 'nes-layering-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('biome refuses exactly the imports the layering forbids', () => {
  const config = JSON.parse(readFileSync(join(ROOT, 'biome.json'), 'utf8'));
  delete config.$schema;
  writeFileSync(join(dir, 'biome.json'), JSON.stringify(config));
  PROBES.forEach(([path, specifier], i) => {
    const file = join(dir, path.replace('probe.ts', `probe${i}.ts`));
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `import * as probe from '${specifier}';\n\nexport const used = probe;\n`);
  });
  const r = spawnSync(BIOME, ['lint', '--vcs-enabled=false', '--reporter=json', '.'], {
    cwd: dir,
    encoding: 'utf8',
  });
  const report = JSON.parse(r.stdout) as {
    diagnostics: Array<{ category: string; location: { path: string } }>;
  };
  const refused = new Set(
    report.diagnostics
      .filter((d) => d.category === 'lint/style/noRestrictedImports')
      .map((d) => /probe(\d+)\.ts$/.exec(d.location.path)?.[1]),
  );
  const wrong = PROBES.flatMap(([path, specifier, allowed], i) =>
    refused.has(String(i)) === !allowed ? [] : [`${path} importing ${specifier}`],
  );
  assert.deepEqual(wrong, [], 'probes the linter judged against the layering');
});
