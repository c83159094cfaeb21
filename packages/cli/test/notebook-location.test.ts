import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { notebookLocation } from '../src/main.ts';

test('a relative path to a local file becomes absolute; URIs and unknown paths go as given', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nes-location-'));
  writeFileSync(join(dir, 'nb.ipynb'), '{}');
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    assert.equal(notebookLocation('nb.ipynb'), join(dir, 'nb.ipynb'));
    assert.equal(notebookLocation('missing.ipynb'), 'missing.ipynb');
    assert.equal(notebookLocation('/srv/nb.ipynb'), '/srv/nb.ipynb');
    assert.equal(notebookLocation('github://o/r/nb.ipynb'), 'github://o/r/nb.ipynb');
    assert.equal(notebookLocation('gs://b/nb.ipynb'), 'gs://b/nb.ipynb');
  } finally {
    process.chdir(cwd);
  }
});
