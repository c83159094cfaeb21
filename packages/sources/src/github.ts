/**
 * GitHub through @octokit/rest. A ref is resolved to a commit SHA once (`resolveGitHubCommit`);
 * every later read names that SHA, so a run reads the same bytes however the branch moves.
 * Every call is retried on transient failures (5xx, resets, timeouts) and never on anything
 * else; every HTTP error becomes a SourceError whose code says what to fix.
 */
import { Octokit } from '@octokit/rest';
import { redact, SourceError, type SourceErrorCode } from './errors.ts';
import { DEFAULT_GITHUB_API_URL, retryPolicy, type SourceOptions } from './options.ts';
import { readCapped } from './read-capped.ts';
import { isTransientNetworkError, RetriesExhausted, type RetryPolicy, withRetry } from './retry.ts';

export interface GitHubRepository {
  owner: string;
  repo: string;
  fullName: string;
  defaultBranch: string;
  private: boolean;
}

/** What went wrong in one call, for messages: never the token, never a redirect URL. */
interface HttpFailure {
  status: number;
  headers: Record<string, string | number | undefined>;
  githubMessage: string | undefined;
}

const silentLog = { debug() {}, info() {}, warn() {}, error() {} };

export class GitHubClient {
  readonly apiUrl: string;
  readonly octokit: Octokit;
  readonly #token: string | undefined;
  readonly #retry: RetryPolicy;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(options: SourceOptions) {
    this.apiUrl = (options.githubApiUrl ?? DEFAULT_GITHUB_API_URL).replace(/\/+$/, '');
    this.#token = options.githubToken;
    this.#retry = retryPolicy(options);
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.octokit = new Octokit({
      ...(this.#token === undefined ? {} : { auth: this.#token }),
      baseUrl: this.apiUrl,
      userAgent: 'nes-sources',
      log: silentLog,
      request: { fetch: this.#fetch },
    });
  }

  get hasToken(): boolean {
    return this.#token !== undefined;
  }

  async getRepository(owner: string, repo: string): Promise<GitHubRepository> {
    const { data } = await this.#call(
      `reading repository ${owner}/${repo}`,
      { owner, repo },
      (signal) => this.octokit.rest.repos.get({ owner, repo, request: { signal } }),
    );
    return {
      owner,
      repo,
      fullName: data.full_name,
      defaultBranch: data.default_branch,
      private: data.private,
    };
  }

  /** The commit SHA a branch, tag or (short) SHA names; SourceError ref_not_found when none. */
  async resolveCommit(owner: string, repo: string, ref: string): Promise<string> {
    const { data } = await this.#call(
      `resolving ref "${ref}" in ${owner}/${repo}`,
      { owner, repo, ref },
      (signal) =>
        this.octokit.rest.repos.getCommit({
          owner,
          repo,
          ref,
          mediaType: { format: 'sha' },
          request: { signal },
        }),
    );
    const raw = data as unknown;
    const sha = typeof raw === 'string' ? raw.trim() : (raw as { sha?: unknown }).sha;
    if (typeof sha !== 'string' || !/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(sha)) {
      throw new SourceError(
        'source_unavailable',
        `GitHub answered ref "${ref}" with no commit SHA`,
      );
    }
    return sha;
  }

  /** The notebook file's bytes at a commit: contents API, then the blob when over 1 MB. */
  async readFile(
    owner: string,
    repo: string,
    path: string,
    sha: string,
    maxBytes: number,
  ): Promise<Uint8Array> {
    const where = { owner, repo, path, commitSha: sha };
    const { data } = await this.#call(
      `reading ${path} in ${owner}/${repo} at ${sha}`,
      where,
      (signal) =>
        this.octokit.rest.repos.getContent({ owner, repo, path, ref: sha, request: { signal } }),
    );
    if (Array.isArray(data)) {
      throw new SourceError(
        'not_a_notebook',
        `${path} in ${owner}/${repo} at ${sha.slice(0, 12)} is a directory, not a notebook file`,
        { details: { path } },
      );
    }
    if (data.type !== 'file') {
      const target =
        data.type === 'symlink' && 'target' in data ? ` to ${String(data.target)}` : '';
      throw new SourceError(
        'not_a_notebook',
        `${path} in ${owner}/${repo} at ${sha.slice(0, 12)} is a ${data.type}${target}, not a notebook file; point at the file itself`,
        { details: { path, type: data.type } },
      );
    }
    if (data.size > maxBytes) throw tooLarge(`${path} in ${owner}/${repo}`, data.size, maxBytes);
    const encoding = 'encoding' in data ? data.encoding : undefined;
    const content = 'content' in data ? data.content : undefined;
    if (
      encoding === 'base64' &&
      typeof content === 'string' &&
      (content !== '' || data.size === 0)
    ) {
      return new Uint8Array(Buffer.from(content, 'base64'));
    }
    // Over 1 MB the contents API answers encoding "none" and no content: read the git blob raw.
    return this.readBlob(owner, repo, data.sha, maxBytes, `${path} in ${owner}/${repo}`);
  }

  async readBlob(
    owner: string,
    repo: string,
    blobSha: string,
    maxBytes: number,
    label: string,
  ): Promise<Uint8Array> {
    return this.#call(
      `reading blob ${blobSha} of ${label}`,
      { owner, repo, blobSha },
      async (signal) => {
        const response = await this.octokit.rest.git.getBlob({
          owner,
          repo,
          file_sha: blobSha,
          mediaType: { format: 'raw' },
          request: { signal, parseSuccessResponseBody: false },
        });
        return readCapped(
          response.data as unknown as ReadableStream<Uint8Array> | null,
          maxBytes,
          label,
        );
      },
    );
  }

  /**
   * What changed between two commits, as GitHub's compare API answers it (GET
   * /repos/{owner}/{repo}/compare/{base}...{head}: the changes from their merge base to `head`).
   * GitHub lists the changed files on the first page only, at most 300 for the whole comparison:
   * `complete` is false when the list may have been cut there (then walk the commits, see
   * comparisonCommits and commitFiles). One commit per page is asked for: only the files and the
   * counts are read here.
   */
  async compareFiles(owner: string, repo: string, base: string, head: string): Promise<Comparison> {
    const basehead = `${base}...${head}`;
    const { data } = await this.#call(
      `comparing ${basehead} in ${owner}/${repo}`,
      { owner, repo, ref: basehead },
      (signal) =>
        this.octokit.rest.repos.compareCommitsWithBasehead({
          owner,
          repo,
          basehead,
          per_page: 1,
          page: 1,
          request: { signal },
        }),
    );
    const files = (data.files ?? []).map(changedFile);
    return {
      status: data.status,
      aheadBy: data.ahead_by,
      behindBy: data.behind_by,
      totalCommits: data.total_commits,
      files,
      complete: files.length < COMPARE_FILES_LIMIT,
    };
  }

  /** Every commit of a comparison (base...head), oldest first, following GitHub's pages. */
  async comparisonCommits(
    owner: string,
    repo: string,
    base: string,
    head: string,
  ): Promise<string[]> {
    const basehead = `${base}...${head}`;
    return this.#call(
      `listing the commits of ${basehead} in ${owner}/${repo}`,
      { owner, repo, ref: basehead },
      (signal) =>
        this.octokit.paginate(
          this.octokit.rest.repos.compareCommitsWithBasehead,
          { owner, repo, basehead, per_page: 100, request: { signal } },
          // A comparison page is one object (it has a url), so octokit leaves it as GitHub sent it.
          (response) =>
            (response.data as unknown as { commits: Array<{ sha: string }> }).commits.map(
              (commit) => commit.sha,
            ),
        ),
    );
  }

  /**
   * The files one commit changed (against its first parent). GitHub pages them 300 at a time
   * and stops at 3000: `complete` is false at that cap.
   */
  async commitFiles(
    owner: string,
    repo: string,
    sha: string,
  ): Promise<{ files: ChangedFile[]; complete: boolean }> {
    const files = await this.#call(
      `listing the files of commit ${sha} in ${owner}/${repo}`,
      { owner, repo, ref: sha },
      (signal) =>
        this.octokit.paginate(
          this.octokit.rest.repos.getCommit,
          { owner, repo, ref: sha, request: { signal } },
          (response) =>
            ((response.data as unknown as { files?: ChangedFileJson[] }).files ?? []).map(
              changedFile,
            ),
        ),
    );
    return { files, complete: files.length < COMMIT_FILES_LIMIT };
  }

  /**
   * Opens the repository tarball at a commit: the API answers 302 to a download URL (which may
   * carry a short-lived token in its query: it never reaches a message). Returns the body stream.
   */
  async openTarball(
    owner: string,
    repo: string,
    sha: string,
    timeoutMs: number,
  ): Promise<ReadableStream<Uint8Array>> {
    const signal = AbortSignal.timeout(timeoutMs);
    return this.#call(
      `downloading the tarball of ${owner}/${repo} at ${sha}`,
      { owner, repo },
      async () => {
        const response = await this.octokit.request('GET /repos/{owner}/{repo}/tarball/{ref}', {
          owner,
          repo,
          ref: sha,
          request: { signal, redirect: 'manual', parseSuccessResponseBody: false },
        });
        const body = response.data as unknown as ReadableStream<Uint8Array> | null;
        const status = response.status as number;
        if (status === 200 && body !== null) return body;
        await body?.cancel().catch(() => {});
        const location = response.headers.location;
        if (status < 300 || status >= 400 || typeof location !== 'string') {
          throw new SourceError(
            'source_unavailable',
            `GitHub answered ${status} without a download location for the tarball of ${owner}/${repo}`,
          );
        }
        const target = new URL(location, this.apiUrl);
        // The token goes only back to the API's own origin (GitHub Enterprise serves downloads there).
        const headers: Record<string, string> = { 'user-agent': 'nes-sources' };
        if (target.origin === new URL(this.apiUrl).origin && this.#token !== undefined) {
          headers.authorization = `token ${this.#token}`;
        }
        let download: Response;
        try {
          download = await this.#fetch(target, { headers, signal, redirect: 'follow' });
        } catch (error) {
          throw new HttpCallError({
            status: 500,
            headers: {},
            githubMessage: describeNetwork(error),
          });
        }
        if (download.status !== 200 || download.body === null) {
          await download.body?.cancel().catch(() => {});
          const headersOut: Record<string, string> = {};
          download.headers.forEach((value, key) => {
            headersOut[key] = value;
          });
          throw new HttpCallError({
            status: download.status,
            headers: headersOut,
            githubMessage: 'tarball download',
          });
        }
        return download.body;
      },
    );
  }

  /** Runs one call with retries, mapping failures to SourceErrors. */
  async #call<T>(
    what: string,
    where: Record<string, string>,
    operation: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    try {
      return await withRetry(
        () => operation(AbortSignal.timeout(this.#timeoutMs)),
        (error) => isTransient(failureOf(error), error),
        this.#retry,
      );
    } catch (error) {
      if (error instanceof SourceError) throw error;
      if (error instanceof RetriesExhausted) {
        const failure = failureOf(error.last);
        const cause = failure === undefined ? describeNetwork(error.last) : describeStatus(failure);
        throw new SourceError(
          'source_unavailable',
          this.#redact(
            `GitHub failed while ${what} after ${error.attempts} attempts (${cause}); try again later`,
          ),
          {
            transient: true,
            details: { ...where, attempts: error.attempts, status: failure?.status },
          },
        );
      }
      const failure = failureOf(error);
      if (failure === undefined) throw error;
      throw this.#mapFailure(failure, what, where);
    }
  }

  #mapFailure(failure: HttpFailure, what: string, where: Record<string, string>): SourceError {
    const { status } = failure;
    const repoName = `${where.owner}/${where.repo}`;
    const said =
      failure.githubMessage === undefined ? '' : ` (GitHub said: ${failure.githubMessage})`;
    const details: Record<string, unknown> = { ...where, status };
    const make = (code: SourceErrorCode, message: string, transient = false) =>
      new SourceError(code, this.#redact(message), { details, transient });
    const rate = rateLimit(failure);
    if (rate !== undefined) {
      details.resetAt = rate.resetAt;
      if (rate.retryAfterSeconds !== undefined) details.retryAfterSeconds = rate.retryAfterSeconds;
      const auth = this.hasToken ? '' : ' Set NES_GITHUB_TOKEN for a higher limit.';
      return make(
        'rate_limited',
        `GitHub's rate limit was hit while ${what}; it resets at ${rate.resetAt ?? 'an unknown time'}.${auth}`,
        true,
      );
    }
    if (status === 401) {
      return make(
        'github_unauthorized',
        `GitHub rejected the token while ${what} (401${said}): check NES_GITHUB_TOKEN or NES_GITHUB_TOKEN_FILE; the token may be wrong, expired or revoked`,
      );
    }
    if (status === 403) {
      return make(
        'github_forbidden',
        `GitHub refused access while ${what} (403${said}): give the token read access to ${repoName}'s contents (for fine-grained tokens, "Contents: read")`,
      );
    }
    if (
      status === 404 &&
      where.ref === undefined &&
      where.path === undefined &&
      where.blobSha === undefined
    ) {
      const hint = this.hasToken
        ? 'check the owner and name, and that the token can read it'
        : 'check the owner and name; for a private repository set NES_GITHUB_TOKEN';
      return make(
        'repository_not_found',
        `repository ${repoName} not found, or no access to it (GitHub answers 404 for private repositories a token cannot see): ${hint}`,
      );
    }
    if ((status === 404 || status === 422) && where.ref !== undefined) {
      return make(
        'ref_not_found',
        `ref "${where.ref}" not found in ${repoName}: no branch, tag or commit has that name`,
      );
    }
    if (status === 404 && where.path !== undefined) {
      return make(
        'path_not_found',
        `${where.path} not found in ${repoName} at commit ${where.commitSha ?? '?'}: check the path (it is case-sensitive and relative to the repository root)`,
      );
    }
    return make(
      'source_unavailable',
      `GitHub answered ${describeStatus(failure)} while ${what}`,
      status >= 500,
    );
  }

  #redact(text: string): string {
    return redact(text, [this.#token]);
  }
}

/** One file of a comparison or commit, as GitHub names its change. */
export interface ChangedFile {
  filename: string;
  status: 'added' | 'removed' | 'modified' | 'renamed' | 'copied' | 'changed' | 'unchanged';
  /** The old path of a renamed (or copied) file. */
  previousFilename?: string;
}

export interface Comparison {
  status: 'diverged' | 'ahead' | 'behind' | 'identical';
  aheadBy: number;
  behindBy: number;
  totalCommits: number;
  files: ChangedFile[];
  /** False when GitHub may have cut the list (it lists at most 300 files of a comparison). */
  complete: boolean;
}

/** GitHub's documented caps: files of a whole comparison, files of one commit (all pages). */
const COMPARE_FILES_LIMIT = 300;
const COMMIT_FILES_LIMIT = 3000;

interface ChangedFileJson {
  filename: string;
  status: ChangedFile['status'];
  previous_filename?: string;
}

function changedFile(file: ChangedFileJson): ChangedFile {
  return {
    filename: file.filename,
    status: file.status,
    ...(file.previous_filename === undefined ? {} : { previousFilename: file.previous_filename }),
  };
}

class HttpCallError extends Error {
  readonly failure: HttpFailure;
  constructor(failure: HttpFailure) {
    super(`HTTP ${failure.status}`);
    this.failure = failure;
  }
}

/** An octokit RequestError (duck-typed: it is a transitive dependency) or our own. */
function failureOf(error: unknown): HttpFailure | undefined {
  if (error instanceof HttpCallError) return error.failure;
  if (!(error instanceof Error) || typeof (error as { status?: unknown }).status !== 'number')
    return undefined;
  const e = error as Error & {
    status: number;
    response?: { headers?: Record<string, string | number | undefined>; data?: unknown };
  };
  const data = e.response?.data;
  const githubMessage =
    typeof data === 'object' &&
    data !== null &&
    typeof (data as { message?: unknown }).message === 'string'
      ? (data as { message: string }).message
      : e.response === undefined
        ? describeNetwork(error)
        : undefined;
  return { status: e.status, headers: e.response?.headers ?? {}, githubMessage };
}

function isTransient(failure: HttpFailure | undefined, error: unknown): boolean {
  if (failure === undefined) return isTransientNetworkError(error);
  if (rateLimit(failure) !== undefined) return false;
  return failure.status >= 500;
}

function rateLimit(
  failure: HttpFailure,
): { resetAt: string | undefined; retryAfterSeconds?: number } | undefined {
  const { status, headers } = failure;
  if (status !== 403 && status !== 429) return undefined;
  const remaining = headers['x-ratelimit-remaining'];
  const retryAfter = headers['retry-after'];
  const limited =
    String(remaining) === '0' ||
    retryAfter !== undefined ||
    status === 429 ||
    /rate limit/i.test(failure.githubMessage ?? '');
  if (!limited) return undefined;
  if (retryAfter !== undefined && Number.isFinite(Number(retryAfter))) {
    const seconds = Number(retryAfter);
    return {
      resetAt: new Date(Date.now() + seconds * 1000).toISOString(),
      retryAfterSeconds: seconds,
    };
  }
  const reset = Number(headers['x-ratelimit-reset']);
  return {
    resetAt: Number.isFinite(reset) && reset > 0 ? new Date(reset * 1000).toISOString() : undefined,
  };
}

function describeStatus(failure: HttpFailure): string {
  return failure.githubMessage === undefined
    ? `HTTP ${failure.status}`
    : `HTTP ${failure.status}: ${failure.githubMessage}`;
}

function describeNetwork(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; depth++, e = e.cause) {
    const code = (e as { code?: unknown }).code;
    parts.push(typeof code === 'string' ? `${e.message} [${code}]` : e.message);
  }
  // URLs may carry a download token in their query: drop queries.
  return parts.join(': ').replace(/\?[^\s)]*/g, '?…') || String(error);
}

export function tooLarge(what: string, size: number | undefined, maxBytes: number): SourceError {
  const seen = size === undefined ? 'more than' : `${size} bytes, over`;
  return new SourceError('too_large', `${what} is too large (${seen} the ${maxBytes}-byte limit)`, {
    details: { size, maxBytes },
  });
}
