/**
 * What a source resolution may use: credentials, roots, caps, retry policy. Built from the
 * environment by `sourceOptionsFromEnv` (the variables design.md's Contract names), or directly.
 */
import { readFileSync } from 'node:fs';
import { SourceError } from './errors.ts';
import { defaultRetryPolicy, type RetryPolicy } from './retry.ts';

export interface GcsObjectReader {
  /**
   * Reads one object whole; throws a SourceError (path_not_found, access_denied, too_large) or any
   * error for infrastructure failures. `maxBytes` must be enforced before or while downloading.
   */
  read(
    bucket: string,
    object: string,
    options: { generation: string | null; maxBytes: number },
  ): Promise<{ bytes: Uint8Array; generation: string | null }>;
}

export interface SourceOptions {
  /** GitHub's REST API base; GitHub Enterprise is `https://HOST/api/v3`. Default api.github.com. */
  githubApiUrl?: string;
  githubToken?: string | undefined;
  /** Local paths are read only under these directories (after resolving symlinks). */
  localRoots?: readonly string[];
  /** Base for relative local paths. Default: process.cwd(). */
  cwd?: string;
  /** Cap on one notebook file. Default 64 MiB. */
  maxNotebookBytes?: number;
  /** Cap on a repository context (tarball, compressed and extracted each). Default 512 MiB. */
  maxContextBytes?: number;
  /** Per-request timeout for API calls and plain GETs. Default 30 s. */
  requestTimeoutMs?: number;
  /** Timeout for a whole tarball download. Default 10 min. */
  contextTimeoutMs?: number;
  /** Allow http:// (not https) sources. Default false. */
  allowHttp?: boolean;
  /**
   * Hosts https:// sources may reach although their addresses are not public: host names, IPs
   * and CIDR ranges, comma separated (NES_SOURCE_ALLOWED_HOSTS). Default: none.
   */
  allowedHosts?: string;
  retry?: RetryPolicy;
  /** Reads gs:// objects; default uses @google-cloud/storage (honours STORAGE_EMULATOR_HOST). */
  gcs?: GcsObjectReader;
  /** Injectable fetch for HTTPS sources and GitHub (tests count requests with it). */
  fetch?: typeof fetch;
}

export const DEFAULT_GITHUB_API_URL = 'https://api.github.com';
export const DEFAULT_MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_CONTEXT_BYTES = 512 * 1024 * 1024;

/**
 * NES_GITHUB_API_URL, NES_GITHUB_TOKEN or NES_GITHUB_TOKEN_FILE (a mounted secret, trimmed),
 * NES_NOTEBOOK_ROOTS (colon-separated directories), NES_SOURCE_ALLOWED_HOSTS (non-public hosts
 * that https:// sources may reach).
 */
export function sourceOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): SourceOptions {
  const options: SourceOptions = {};
  const apiUrl = env.NES_GITHUB_API_URL?.trim();
  if (apiUrl) options.githubApiUrl = apiUrl;
  const token = env.NES_GITHUB_TOKEN?.trim();
  const tokenFile = env.NES_GITHUB_TOKEN_FILE?.trim();
  if (token) {
    options.githubToken = token;
  } else if (tokenFile) {
    let text: string;
    try {
      text = readFileSync(tokenFile, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      throw new SourceError(
        'github_unauthorized',
        `cannot read the GitHub token file NES_GITHUB_TOKEN_FILE=${tokenFile} (${code}); mount the secret there or unset the variable`,
      );
    }
    const trimmed = text.trim();
    if (trimmed !== '') options.githubToken = trimmed;
  }
  const allowed = env.NES_SOURCE_ALLOWED_HOSTS?.trim();
  if (allowed) options.allowedHosts = allowed;
  const roots = env.NES_NOTEBOOK_ROOTS?.split(':').filter((r) => r.trim() !== '');
  if (roots !== undefined && roots.length > 0) options.localRoots = roots;
  return options;
}

export function retryPolicy(options: SourceOptions): RetryPolicy {
  return options.retry ?? defaultRetryPolicy;
}

/** Web hosts whose /owner/repo/blob/... URLs are GitHub sources: github.com, or the GHE host. */
export function githubWebHosts(options: SourceOptions): string[] {
  const hosts = ['github.com', 'www.github.com'];
  if (options.githubApiUrl !== undefined) {
    try {
      const host = new URL(options.githubApiUrl).host;
      if (host !== 'api.github.com') hosts.push(host.replace(/^api\./, ''));
    } catch {
      // reported when the client is built
    }
  }
  return hosts;
}
