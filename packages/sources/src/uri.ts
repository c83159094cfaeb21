/**
 * Source URIs, parsed without any I/O:
 *   github://owner/repo/path/to/nb.ipynb[?ref=REF]
 *   https://github.com/owner/repo/blob/REF/path/to/nb.ipynb  (REF may contain slashes)
 *   gs://bucket/path/to/nb.ipynb[?generation=N]
 *   https://host/any/path (plain GET; http:// only when allowed)
 *   /absolute/path.ipynb, relative/path.ipynb, file:///absolute/path.ipynb (under notebook roots)
 */
import { fileURLToPath } from 'node:url';
import { SourceError } from './errors.ts';

export type SourceKind = 'github' | 'gcs' | 'https' | 'local';

export interface GitHubLocation {
  kind: 'github';
  owner: string;
  repo: string;
  /** The ref asked for, or null for the default branch. Unknown until resolved for blob URLs. */
  ref: string | null;
  path: string;
  /**
   * For `https://github.com/o/r/blob/a/b/c.ipynb` the split between ref and path is ambiguous:
   * every split, longest ref first. Resolution tries them in order; the first ref that exists wins.
   */
  candidates?: { ref: string; path: string }[];
}

export interface GcsLocation {
  kind: 'gcs';
  bucket: string;
  object: string;
  generation: string | null;
}

export interface HttpsLocation {
  kind: 'https';
  url: string;
}

export interface LocalLocation {
  kind: 'local';
  /** As given (relative paths resolve against the caller's cwd). */
  path: string;
}

export type SourceLocation = GitHubLocation | GcsLocation | HttpsLocation | LocalLocation;

export interface ParseOptions {
  /** A ref given beside the URI (the API's `ref` field). Conflicts with a ref inside the URI. */
  ref?: string | undefined;
  /** Hosts (with port, if any) whose `/owner/repo/blob/...` URLs are GitHub sources. Default: github.com. */
  githubWebHosts?: readonly string[];
}

const NAME = /^[A-Za-z0-9_.-]+$/;

/** `scheme://user:password@host...`: user information in the authority (up to the last `@`). */
const USER_INFO = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*@/;

export function parseSourceUri(uri: string, options: ParseOptions = {}): SourceLocation {
  if (uri.trim() === '') throw invalid(uri, 'the notebook location is empty');
  if (USER_INFO.test(uri)) {
    // A run records its location as given (run rows, manifests, notebook metadata, logs):
    // credentials there would be shown to every reader. Sources get them from configuration.
    throw invalid(
      uri,
      'a notebook location must not carry credentials (user:password@); GitHub reads use NES_GITHUB_TOKEN, gs:// the service account',
    );
  }
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(uri)?.[1]?.toLowerCase();
  let location: SourceLocation;
  if (scheme === undefined) {
    location = { kind: 'local', path: uri };
  } else if (scheme === 'file') {
    let path: string;
    try {
      path = fileURLToPath(uri);
    } catch {
      throw invalid(uri, 'a file: URI must be file:///absolute/path');
    }
    location = { kind: 'local', path };
  } else if (scheme === 'github') {
    location = parseGithubScheme(uri);
  } else if (scheme === 'gs') {
    location = parseGcs(uri);
  } else if (scheme === 'https' || scheme === 'http') {
    const url = parseUrl(uri);
    const hosts = options.githubWebHosts ?? ['github.com'];
    const githubHost = hosts.some((h) => h.toLowerCase() === url.host.toLowerCase());
    location = githubHost ? parseGithubBlob(uri, url) : { kind: 'https', url: url.href };
  } else {
    throw new SourceError(
      'unsupported_source',
      `unsupported notebook location "${safeUri(uri)}": use github://owner/repo/path.ipynb, ` +
        'https://github.com/owner/repo/blob/REF/path.ipynb, gs://bucket/path.ipynb, an https:// URL, ' +
        'or a local path under a configured notebook root',
      { details: { scheme } },
    );
  }
  if (options.ref !== undefined && options.ref !== '') {
    if (location.kind !== 'github') {
      throw invalid(uri, `a ref ("${options.ref}") only applies to GitHub notebooks`);
    }
    if (location.ref !== null && location.ref !== options.ref) {
      throw invalid(
        uri,
        `the ref "${options.ref}" conflicts with the ref in the URI ("${location.ref}")`,
      );
    }
    if (location.candidates !== undefined) {
      const match = location.candidates.find((c) => c.ref === options.ref);
      if (match === undefined) {
        throw invalid(uri, `the ref "${options.ref}" does not match the ref in the URL`);
      }
      return {
        kind: 'github',
        owner: location.owner,
        repo: location.repo,
        ref: match.ref,
        path: match.path,
      };
    }
    location.ref = options.ref;
  }
  return location;
}

function parseGithubScheme(uri: string): GitHubLocation {
  const url = parseUrl(uri);
  // github://owner/repo/path: the URL parser puts owner in the host (lower-cased): take it raw.
  const rest = uri.slice('github://'.length).split(/[?#]/, 1)[0] ?? '';
  const segments = rest.split('/').map(decode);
  const [owner, repo, ...pathParts] = segments;
  if (owner === undefined || repo === undefined || !NAME.test(owner) || !NAME.test(repo)) {
    throw invalid(uri, 'expected github://owner/repo/path/to/notebook.ipynb');
  }
  const path = checkRepoPath(uri, pathParts);
  const refParam = url.searchParams.get('ref');
  for (const key of url.searchParams.keys()) {
    if (key !== 'ref') throw invalid(uri, `unknown parameter "${key}" (only ?ref= is understood)`);
  }
  return {
    kind: 'github',
    owner,
    repo: stripGit(repo),
    ref: refParam === '' ? null : refParam,
    path,
  };
}

function parseGithubBlob(uri: string, url: URL): GitHubLocation {
  const segments = url.pathname.split('/').slice(1).map(decode);
  const [owner, repo, blob, ...rest] = segments;
  if (owner === undefined || repo === undefined || !NAME.test(owner) || !NAME.test(repo)) {
    throw invalid(uri, 'expected https://github.com/owner/repo/blob/REF/path/to/notebook.ipynb');
  }
  if ((blob !== 'blob' && blob !== 'raw') || rest.length < 2) {
    throw invalid(
      uri,
      'a GitHub URL must point at a file: https://github.com/owner/repo/blob/REF/path/to/notebook.ipynb',
    );
  }
  checkRepoPath(uri, rest);
  const candidates: { ref: string; path: string }[] = [];
  for (let refLength = rest.length - 1; refLength >= 1; refLength--) {
    candidates.push({
      ref: rest.slice(0, refLength).join('/'),
      path: rest.slice(refLength).join('/'),
    });
  }
  const first = candidates[candidates.length - 1] as { ref: string; path: string };
  if (candidates.length === 1)
    return { kind: 'github', owner, repo, ref: first.ref, path: first.path };
  return { kind: 'github', owner, repo, ref: null, path: first.path, candidates };
}

function parseGcs(uri: string): GcsLocation {
  const match = /^gs:\/\/([^/?#]+)\/([^?#]+)(?:\?(.*))?$/i.exec(uri);
  const bucket = match?.[1];
  const object = match?.[2];
  if (
    bucket === undefined ||
    object === undefined ||
    !/^[a-z0-9][a-z0-9._-]{1,220}$/.test(bucket)
  ) {
    throw invalid(uri, 'expected gs://bucket/path/to/notebook.ipynb');
  }
  const params = new URLSearchParams(match?.[3] ?? '');
  const generation = params.get('generation');
  if (generation !== null && !/^\d+$/.test(generation))
    throw invalid(uri, 'generation must be a number');
  return { kind: 'gcs', bucket, object: decode(object), generation };
}

function checkRepoPath(uri: string, parts: string[]): string {
  if (parts.length === 0 || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw invalid(
      uri,
      'the path inside the repository is missing or has empty, "." or ".." segments',
    );
  }
  return parts.join('/');
}

function parseUrl(uri: string): URL {
  try {
    return new URL(uri);
  } catch {
    throw invalid(uri, 'not a valid URL');
  }
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function stripGit(repo: string): string {
  return repo.endsWith('.git') ? repo.slice(0, -4) : repo;
}

function invalid(uri: string, why: string): SourceError {
  return new SourceError('invalid_source', `invalid notebook location "${safeUri(uri)}": ${why}`);
}

/** A URI fit for messages: user info and query strings (which may carry tokens) removed. */
export function safeUri(given: string): string {
  // Any scheme, parsed or not: user information never reaches a message.
  const uri = given.replace(USER_INFO, (authority) =>
    authority.slice(0, authority.indexOf('//') + 2),
  );
  try {
    const url = new URL(uri);
    if (url.protocol === 'http:' || url.protocol === 'https:') {
      url.username = '';
      url.password = '';
      const hadQuery = url.search !== '';
      url.search = '';
      url.hash = '';
      return hadQuery ? `${url.href}?…` : url.href;
    }
  } catch {
    // not a URL: a path or a custom scheme
  }
  return uri.length > 500 ? `${uri.slice(0, 500)}…` : uri;
}

/**
 * Free text (an error from fetch or the network) fit for messages: every URL in it loses its
 * user information and query string (undici quotes the whole URL in some of its errors).
 */
export function scrubUrls(text: string): string {
  return text.replace(/([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^\s/?#]*@/g, '$1').replace(/\?\S*/g, '?…');
}

/**
 * A GitHub notebook at one commit, as a github:// URI (path segments percent-encoded, so a name
 * with `?`, `#`, `%` or a space reads back as the same path).
 */
export function githubUriAt(
  location: Pick<GitHubLocation, 'owner' | 'repo' | 'path'>,
  commitSha: string,
): string {
  const path = location.path.split('/').map(encodeURIComponent).join('/');
  return `github://${location.owner}/${location.repo}/${path}?ref=${commitSha}`;
}

/**
 * The location a run reads: a GitHub notebook at the commit resolved when it was submitted (a
 * branch moving between submit and run changes nothing); anything else as given. A GitHub URL
 * whose ref is ambiguous (`blob/a/b/nb.ipynb` with no ref given) is left for the reader to
 * resolve, as is a location that does not parse (the reader reports it with its own error).
 */
export function pinnedSourceUri(
  notebook: string,
  ref: string | null,
  commitSha: string | null,
): { uri: string; ref: string | null } {
  if (commitSha === null) return { uri: notebook, ref };
  try {
    const location = parseSourceUri(notebook, ref ? { ref } : {});
    if (location.kind === 'github' && location.candidates === undefined) {
      return { uri: githubUriAt(location, commitSha), ref: null };
    }
  } catch {
    // Not parseable: the reader reports it.
  }
  return { uri: notebook, ref };
}
