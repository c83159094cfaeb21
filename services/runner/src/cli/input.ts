/**
 * nes-run's INPUT: stdin, or any location @nes/sources reads (github://, GitHub blob URLs, gs://,
 * https://, local paths). papermill reads any local path, so local paths are allowed anywhere
 * unless NES_NOTEBOOK_ROOTS is set; then they are confined to those roots, as in the service.
 * Every failure is a source error (exit 3) carrying the SourceError code; never a token.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'node:path';
import { type Notebook, NotebookFormatError, parseNotebook } from '@nes/notebook';
import { EXIT_SOURCE } from '@nes/run-contract';
import {
  isSourceError,
  type ResolvedSource,
  resolveSource,
  SourceError,
  type SourceOptions,
  sourceOptionsFromEnv,
} from '@nes/sources';
import { CliError } from './cli-error.ts';

/** What nes-run records about where the notebook came from (manifest, metadata.nes). */
export interface InputRecord {
  /** As given (credentials in a URL's user part removed). */
  uri: string;
  kind: 'github' | 'gcs' | 'https' | 'local' | 'stdin';
  ref: string | null;
  commitSha: string | null;
  /** Reads the same bytes again; null for stdin. */
  pinnedUri: string | null;
  /** The full record from @nes/sources, when the notebook came through it. */
  source: ResolvedSource['record'] | null;
}

export interface FetchedInput {
  record: InputRecord;
  /** Exactly as fetched (the run layout's input.ipynb). */
  bytes: Uint8Array;
  notebook: Notebook;
}

/** Source options from the environment; for the CLI, local paths are allowed anywhere unless roots are set. */
export function cliSourceOptions(env: NodeJS.ProcessEnv = process.env): SourceOptions {
  let options: SourceOptions;
  try {
    options = sourceOptionsFromEnv(env);
  } catch (error) {
    throw asCliError(error);
  }
  if (options.localRoots === undefined) options.localRoots = [parse(process.cwd()).root];
  return options;
}

export async function fetchInput(
  input: string,
  ref: string | undefined,
  options: SourceOptions,
): Promise<FetchedInput> {
  if (input === '-') {
    if (ref !== undefined) throw new SourceError('invalid_source', '--ref needs a GitHub INPUT');
    const bytes = readStdin();
    return {
      record: {
        uri: '-',
        kind: 'stdin',
        ref: null,
        commitSha: null,
        pinnedUri: null,
        source: null,
      },
      bytes,
      notebook: parseStdin(bytes),
    };
  }
  const resolved = await resolveSource(input, { ...options, ref });
  const { record } = resolved;
  return {
    record: {
      uri: withoutUserInfo(input),
      kind: record.kind,
      ref: record.ref,
      commitSha: record.commitSha,
      pinnedUri: record.pinnedUri,
      source: { ...record, uri: withoutUserInfo(record.uri) },
    },
    bytes: resolved.bytes,
    notebook: resolved.notebook,
  };
}

/** A CLI error for exit 3: `CODE: message`. Anything else passes through unchanged. */
export function asCliError(error: unknown): unknown {
  if (isSourceError(error)) return new CliError(EXIT_SOURCE, `${error.code}: ${error.message}`);
  return error;
}

/** `https://user:secret@host/x` records as `https://host/x`: a notebook never holds a credential. */
function withoutUserInfo(uri: string): string {
  if (!/^https?:\/\/[^/]*@/i.test(uri)) return uri;
  try {
    const url = new URL(uri);
    url.username = '';
    url.password = '';
    return url.href;
  } catch {
    return uri;
  }
}

function readStdin(): Uint8Array {
  try {
    return readFileSync(0);
  } catch (error) {
    throw new SourceError(
      'source_unavailable',
      `cannot read the notebook from stdin: ${(error as Error).message}`,
    );
  }
}

function parseStdin(bytes: Uint8Array): Notebook {
  try {
    return parseNotebook(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    if (error instanceof NotebookFormatError) {
      const where = error.line !== undefined ? ` (line ${error.line}, column ${error.column})` : '';
      throw new SourceError(
        'not_a_notebook',
        `(stdin) is not a valid notebook${where}: ${error.message}`,
        { details: { path: error.path } },
      );
    }
    if (error instanceof TypeError) {
      throw new SourceError('not_a_notebook', '(stdin) is not a notebook: it is not UTF-8 text');
    }
    throw error;
  }
}
