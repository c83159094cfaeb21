import { SourceError } from './errors.ts';

/** Reads a web stream whole, failing with too_large as soon as it passes `maxBytes`. */
export async function readCapped(
  body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | null,
  maxBytes: number,
  label: string,
): Promise<Uint8Array> {
  if (body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const iterable = body as AsyncIterable<Uint8Array>;
  for await (const chunk of iterable) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      // Leaving the loop cancels the stream (the iterator's return()).
      throw new SourceError(
        'too_large',
        `${label} is too large (more than the ${maxBytes}-byte limit)`,
        {
          details: { maxBytes },
        },
      );
    }
    chunks.push(chunk);
  }
  const result = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    result.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return result;
}
