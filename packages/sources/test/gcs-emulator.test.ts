import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openStore } from '@nes/stores';
import { type GcsEmulator, startGcsEmulator } from '../../../test/servers/gcs/index.ts';
import { resolveSource, SourceError } from '../src/index.ts';
import { notebookText } from './helpers.ts';

let emulator: GcsEmulator;
before(async () => {
  emulator = await startGcsEmulator();
  process.env.STORAGE_EMULATOR_HOST = emulator.url;
});
after(async () => {
  await emulator.stop();
});

test('gs:// through @nes/stores against the GCS emulator: read, generation, missing, too large', async () => {
  const store = await openStore('gs://nes-sources-test');
  await store.put('team/nb.ipynb', notebookText(['"from gcs"']));
  const source = await resolveSource('gs://nes-sources-test/team/nb.ipynb');
  assert.equal(source.notebook.cells[0]?.source, '"from gcs"');
  assert.match(
    source.record.pinnedUri,
    /^gs:\/\/nes-sources-test\/team\/nb\.ipynb\?generation=\d+$/,
  );
  const missing = await resolveSource('gs://nes-sources-test/team/missing.ipynb').catch(
    (e: unknown) => e,
  );
  assert.ok(missing instanceof SourceError && missing.code === 'path_not_found', String(missing));
  const big = await resolveSource('gs://nes-sources-test/team/nb.ipynb', {
    maxNotebookBytes: 10,
  }).catch((e: unknown) => e);
  assert.ok(big instanceof SourceError && big.code === 'too_large', String(big));
});
