/**
 * `resolveSource`: one notebook location in, the notebook's bytes and a record of exactly what
 * was read out (kind, ref, commit SHA, path, a pinned URI that reads the same bytes again).
 * `fetchRepositoryContext`: the repository (or a subdirectory) at that commit, extracted safely,
 * so a notebook can import its sibling modules and read its data files.
 */
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { type Notebook, NotebookFormatError, parseNotebook } from '@nes/notebook';
import { SourceError } from './errors.ts';
import { storesGcsReader } from './gcs.ts';
import { GitHubClient } from './github.ts';
import { readHttpsNotebook } from './https.ts';
import { readLocalNotebook } from './local.ts';
import {
  DEFAULT_MAX_CONTEXT_BYTES,
  DEFAULT_MAX_NOTEBOOK_BYTES,
  githubWebHosts,
  retryPolicy,
  type SourceOptions,
} from './options.ts';
import { isTransientNetworkError, RetriesExhausted, withRetry } from './retry.ts';
import { type ExtractResult, extractTarball } from './tarball.ts';
import { type GitHubLocation, githubUriAt, parseSourceUri, type SourceKind } from './uri.ts';

/** JSON-safe: what a run manifest and a run row record about the notebook's origin. */
export interface SourceRecord {
  /** The location as given. */
  uri: string;
  kind: SourceKind;
  /** GitHub: the ref asked for, or the default branch's name when none was. Otherwise null. */
  ref: string | null;
  /** GitHub: the commit every read used. Otherwise null. */
  commitSha: string | null;
  /** GitHub: path in the repository; gcs: object name; https: the URL; local: the real path. */
  path: string;
  /** Reads the same bytes again: github://o/r/p?ref=SHA, gs://b/o?generation=N, the URL, the real path. */
  pinnedUri: string;
  /** GitHub: `owner/repo`. */
  repository?: string;
  /** GitHub: the repository's default branch when it was read. */
  defaultBranch?: string;
  /** gcs: the object generation read. */
  generation?: string | null;
  /** https: the ETag served, if any. */
  etag?: string | null;
  size: number;
  sha256: string;
}

export interface ResolvedSource {
  record: SourceRecord;
  bytes: Uint8Array;
  /** Parsed and validated: a file that is not a notebook fails with `not_a_notebook`. */
  notebook: Notebook;
  /** Where the notebook should run when no repository context is fetched: a local notebook's own
   * directory; null for remote notebooks. */
  localDirectory: string | null;
}

export interface ResolveOptions extends SourceOptions {
  /** The ref given beside the location (the API's `ref` field); a GitHub ref in the URI wins if equal. */
  ref?: string | undefined;
}

export async function resolveSource(
  uri: string,
  options: ResolveOptions = {},
): Promise<ResolvedSource> {
  const location = parseSourceUri(uri, {
    ref: options.ref,
    githubWebHosts: githubWebHosts(options),
  });
  const maxBytes = options.maxNotebookBytes ?? DEFAULT_MAX_NOTEBOOK_BYTES;
  let base: Omit<SourceRecord, 'size' | 'sha256'>;
  let bytes: Uint8Array;
  let localDirectory: string | null = null;
  switch (location.kind) {
    case 'github': {
      const result = await resolveGitHub(location, options, maxBytes);
      base = { ...result.record, uri };
      bytes = result.bytes;
      break;
    }
    case 'gcs': {
      const reader = options.gcs ?? storesGcsReader;
      const read = await reader.read(location.bucket, location.object, {
        generation: location.generation,
        maxBytes,
      });
      bytes = read.bytes;
      const pinned = `gs://${location.bucket}/${location.object}`;
      base = {
        uri,
        kind: 'gcs',
        ref: null,
        commitSha: null,
        path: location.object,
        pinnedUri: read.generation === null ? pinned : `${pinned}?generation=${read.generation}`,
        generation: read.generation,
      };
      break;
    }
    case 'https': {
      const read = await readHttpsNotebook(location.url, options);
      bytes = read.bytes;
      base = {
        uri,
        kind: 'https',
        ref: null,
        commitSha: null,
        path: location.url,
        pinnedUri: location.url,
        etag: read.etag,
      };
      break;
    }
    case 'local': {
      const read = await readLocalNotebook(location.path, options);
      bytes = read.bytes;
      localDirectory = dirname(read.realPath);
      base = {
        uri,
        kind: 'local',
        ref: null,
        commitSha: null,
        path: read.realPath,
        pinnedUri: read.realPath,
      };
      break;
    }
  }
  const record: SourceRecord = {
    ...base,
    size: bytes.byteLength,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
  return { record, bytes, notebook: parse(bytes, record), localDirectory };
}

async function resolveGitHub(
  location: GitHubLocation,
  options: SourceOptions,
  maxBytes: number,
): Promise<{ record: Omit<SourceRecord, 'size' | 'sha256'>; bytes: Uint8Array }> {
  const client = new GitHubClient(options);
  const { owner, repo } = location;
  const repository = await client.getRepository(owner, repo);
  let ref = location.ref ?? repository.defaultBranch;
  let path = location.path;
  let commitSha: string;
  if (location.candidates !== undefined) {
    // blob/a/b/c.ipynb: the longest ref that exists wins (a branch "a/b" over a branch "a").
    const found = await firstExistingRef(client, owner, repo, location.candidates);
    ({ ref, path, commitSha } = found);
  } else {
    commitSha = await client.resolveCommit(owner, repo, ref);
  }
  const bytes = await client.readFile(owner, repo, path, commitSha, maxBytes);
  return {
    record: {
      uri: '',
      kind: 'github',
      ref,
      commitSha,
      path,
      pinnedUri: githubUriAt({ owner, repo, path }, commitSha),
      repository: `${owner}/${repo}`,
      defaultBranch: repository.defaultBranch,
    },
    bytes,
  };
}

async function firstExistingRef(
  client: GitHubClient,
  owner: string,
  repo: string,
  candidates: { ref: string; path: string }[],
): Promise<{ ref: string; path: string; commitSha: string }> {
  for (const candidate of candidates) {
    try {
      return { ...candidate, commitSha: await client.resolveCommit(owner, repo, candidate.ref) };
    } catch (error) {
      if (!(error instanceof SourceError) || error.code !== 'ref_not_found') throw error;
    }
  }
  const tried = candidates.map((c) => `"${c.ref}"`).join(', ');
  throw new SourceError(
    'ref_not_found',
    `no branch, tag or commit in ${owner}/${repo} matches the URL: tried ${tried} (the longest first)`,
    { details: { owner, repo, tried: candidates.map((c) => c.ref) } },
  );
}

function parse(bytes: Uint8Array, record: SourceRecord): Notebook {
  const where =
    record.kind === 'github'
      ? `${record.repository}/${record.path} at ${record.commitSha?.slice(0, 12)}`
      : record.path;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new SourceError('not_a_notebook', `${where} is not a notebook: it is not UTF-8 text`, {
      details: { path: '' },
    });
  }
  try {
    return parseNotebook(text);
  } catch (error) {
    if (!(error instanceof NotebookFormatError)) throw error;
    // The format error's message already starts with the JSON path.
    throw new SourceError('not_a_notebook', `${where} is not a valid notebook: ${error.message}`, {
      details: {
        path: error.path,
        expected: error.expected,
        got: error.got,
        line: error.line,
        column: error.column,
      },
    });
  }
}

export interface ContextOptions extends SourceOptions {
  /** Only this repository subdirectory (paths inside `dir` stay repository-relative). */
  subdirectory?: string;
}

export interface RepositoryContext extends ExtractResult {
  /** The notebook's own directory inside `dir`: where it should run. */
  workingDirectory: string;
}

/**
 * Downloads the repository at the record's commit and extracts it into `dir` (absent or empty),
 * repository-relative. GitHub sources only; the whole download is retried on a transient failure.
 */
export async function fetchRepositoryContext(
  record: SourceRecord,
  dir: string,
  options: ContextOptions = {},
): Promise<RepositoryContext> {
  if (record.kind !== 'github' || record.commitSha === null || record.repository === undefined) {
    throw new SourceError(
      'unsupported_source',
      `repository context is only available for GitHub notebooks (this one is ${record.kind})`,
    );
  }
  const [owner, repo] = record.repository.split('/') as [string, string];
  const sha = record.commitSha;
  const client = new GitHubClient(options);
  const maxBytes = options.maxContextBytes ?? DEFAULT_MAX_CONTEXT_BYTES;
  const label = `the repository ${record.repository} at ${sha.slice(0, 12)}`;
  try {
    const result = await withRetry(
      async () => {
        const body = await client.openTarball(
          owner,
          repo,
          sha,
          options.contextTimeoutMs ?? 600_000,
        );
        return extractTarball(body as AsyncIterable<Uint8Array>, dir, {
          maxArchiveBytes: maxBytes,
          maxExtractedBytes: maxBytes,
          stripComponents: 1,
          label,
          ...(options.subdirectory === undefined ? {} : { include: options.subdirectory }),
        });
      },
      (error) => !(error instanceof SourceError) && isTransientNetworkError(error),
      retryPolicy(options),
    );
    return { ...result, workingDirectory: join(dir, dirname(record.path)) };
  } catch (error) {
    if (error instanceof RetriesExhausted) {
      throw new SourceError(
        'source_unavailable',
        `downloading ${label} failed ${error.attempts} times (connection lost); try again later`,
        { transient: true, details: { attempts: error.attempts } },
      );
    }
    throw error;
  }
}
