/** python/stream_chunking.py: run silently once in every Python kernel the runner starts. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const STREAM_CHUNKING = readFileSync(
  fileURLToPath(new URL('../python/stream_chunking.py', import.meta.url)),
  'utf8',
);
