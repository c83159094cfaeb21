/**
 * A GitHub REST test server on loopback, backed by real git repositories (see git.ts). It speaks
 * the endpoints NES uses, with GitHub's status codes, error bodies ({message, documentation_url,
 * status}) and rate-limit headers:
 *   GET /repos/{o}/{r}                         repository (404 for a private one without a token)
 *   GET /repos/{o}/{r}/commits/{ref}           commit with its changed files (against the first parent), 300 a page
 *                                              (Link header), 3000 at most; `application/vnd.github.sha` gives
 *                                              the SHA as text; 422 unknown ref
 *   GET /repos/{o}/{r}/compare/{base}...{head} commits of head not in base (chronological), status, ahead_by,
 *                                              behind_by, total_commits, and the files changed from the merge
 *                                              base: without page/per_page the last 250 commits; with them pages
 *                                              of per_page (default 30, max 100, Link header) and the files on
 *                                              page 1 only, at most 300; 404 for an unknown side or no common
 *                                              ancestor
 *   GET /repos/{o}/{r}/contents/{path}?ref=    file (base64; over 1 MB: encoding "none", content ""),
 *                                              directory listing, symlink; raw media type gives the bytes
 *   GET /repos/{o}/{r}/git/blobs/{sha}         blob (base64 JSON or raw)
 *   GET /repos/{o}/{r}/tarball/{ref}           302 to /_codeload/... on this server (a token in the query for private repos)
 * Faults are switched on `server.faults`; every request is logged in `server.requests`.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GitRepository } from './git.ts';

export interface TestRepository {
  owner: string;
  name: string;
  git: GitRepository;
  private?: boolean;
  /** Default: the branch checked out when the server answers. */
  defaultBranch?: string;
}

export interface Faults {
  /** Only requests whose path matches are faulted. Default: every request. */
  only?: RegExp;
  /** The next N matching requests have their connection destroyed before any answer. */
  resetConnections: number;
  /** The next N matching requests answer this 5xx. */
  serverErrors: number;
  serverErrorStatus: number;
  /** Primary rate limit exhausted until this epoch second (403, x-ratelimit-remaining: 0). */
  rateLimitResetAt: number | null;
  /** Secondary rate limit: 403 with retry-after (seconds). */
  secondaryRetryAfter: number | null;
  /** Every matching request answers 401 Bad credentials / 403 Forbidden. */
  status: 401 | 403 | null;
  /** Served by the codeload endpoint instead of `git archive` (crafted archives). */
  tarball: Uint8Array | null;
}

export interface LoggedRequest {
  method: string;
  path: string;
  accept: string;
  /** Whether an Authorization header came (never its value). */
  authorized: boolean;
  status: number;
}

export interface GitHubTestServer {
  /** The API base URL (what NES_GITHUB_API_URL takes). */
  url: string;
  faults: Faults;
  requests: LoggedRequest[];
  /** Tokens the server accepts. */
  tokens: Set<string>;
  addRepository(repo: TestRepository): void;
  resetFaults(): void;
  close(): Promise<void>;
}

const DOCS = 'https://docs.github.com/rest';
const CONTENTS_LIMIT = 1024 * 1024;

export async function startGitHubTestServer(
  options: { tokens?: string[]; repositories?: TestRepository[] } = {},
): Promise<GitHubTestServer> {
  const repos = new Map<string, TestRepository>();
  const codeloadTokens = new Map<string, string>();
  const requests: LoggedRequest[] = [];
  const tokens = new Set(options.tokens ?? []);
  const freshFaults = (): Faults => ({
    resetConnections: 0,
    serverErrors: 0,
    serverErrorStatus: 503,
    rateLimitResetAt: null,
    secondaryRetryAfter: null,
    status: null,
    tarball: null,
  });
  const state = { faults: freshFaults(), used: 0 };
  let base = '';

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { message: `test server error: ${String(error)}` });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', base);
    const auth = req.headers.authorization;
    const entry: LoggedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      accept: String(req.headers.accept ?? ''),
      authorized: auth !== undefined,
      status: 0,
    };
    requests.push(entry);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      entry.status = status;
      send(res, status, body, { ...rateHeaders(auth !== undefined), ...headers });
    };
    const faults = state.faults;
    if (faults.only === undefined || faults.only.test(url.pathname)) {
      if (faults.resetConnections > 0) {
        faults.resetConnections--;
        entry.status = -1;
        req.socket.resetAndDestroy();
        return;
      }
      if (faults.serverErrors > 0) {
        faults.serverErrors--;
        return reply(faults.serverErrorStatus, { message: 'Server Error' });
      }
      if (faults.status === 401) return reply(401, error('Bad credentials'));
      if (faults.status === 403) {
        return reply(
          403,
          error('Resource not accessible by personal access token', `${DOCS}/repos/contents`),
        );
      }
      if (faults.rateLimitResetAt !== null) {
        return reply(
          403,
          error(
            `API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)`,
            `${DOCS}/overview/resources-in-the-rest-api#rate-limiting`,
          ),
          { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(faults.rateLimitResetAt) },
        );
      }
      if (faults.secondaryRetryAfter !== null) {
        return reply(
          403,
          error(
            'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
          ),
          { 'retry-after': String(faults.secondaryRetryAfter) },
        );
      }
    }
    state.used++;
    if (req.method !== 'GET') return reply(404, error('Not Found'));

    let authorized = false;
    if (auth !== undefined) {
      const token = auth.replace(/^(token|bearer)\s+/i, '');
      if (!tokens.has(token)) return reply(401, error('Bad credentials'));
      authorized = true;
    }

    const codeload = /^\/_codeload\/([^/]+)\/([^/]+)\/legacy\.tar\.gz\/([0-9a-f]+)$/.exec(
      url.pathname,
    );
    if (codeload !== null) {
      const [, owner = '', name = '', sha = ''] = codeload;
      const repo = repos.get(`${owner}/${name}`.toLowerCase());
      if (repo === undefined) return reply(404, 'Not Found', { 'content-type': 'text/plain' });
      if (repo.private === true && url.searchParams.get('token') !== codeloadTokens.get(sha)) {
        return reply(404, 'Not Found', { 'content-type': 'text/plain' });
      }
      const body =
        faults.tarball ?? (await repo.git.archive(sha, `${owner}-${name}-${sha.slice(0, 7)}/`));
      entry.status = 200;
      res.writeHead(200, {
        'content-type': 'application/x-gzip',
        'content-length': String(body.byteLength),
        'content-disposition': `attachment; filename=${owner}-${name}-${sha.slice(0, 7)}.tar.gz`,
      });
      res.end(body);
      return;
    }

    const match = /^\/repos\/([^/]+)\/([^/]+)(?:\/(.*))?$/.exec(url.pathname);
    if (match === null) return reply(404, error('Not Found'));
    const [, owner = '', name = '', restRaw] = match;
    const repo = repos.get(`${owner}/${name}`.toLowerCase());
    if (repo === undefined || (repo.private === true && !authorized)) {
      return reply(404, error('Not Found', `${DOCS}/repos/repos#get-a-repository`));
    }
    const git = repo.git;
    const fullName = `${repo.owner}/${repo.name}`;
    const apiRepo = `${base}/repos/${fullName}`;
    const rest = restRaw ?? '';
    const accept = entry.accept;
    const raw = /\.raw\b|vnd\.github\.raw/.test(accept);

    if (rest === '') {
      const defaultBranch = repo.defaultBranch ?? (await git.currentBranch());
      return reply(200, repositoryJson(repo, base, defaultBranch));
    }

    let m = /^commits\/(.+)$/.exec(rest);
    if (m !== null) {
      const ref = decodeURIComponent(m[1] ?? '');
      const sha = await git.resolve(ref);
      if (sha === null) {
        return reply(
          422,
          error(`No commit found for SHA: ${ref}`, `${DOCS}/commits/commits#get-a-commit`),
        );
      }
      if (/vnd\.github(\.v3)?\.sha/.test(accept)) {
        return reply(200, sha, { 'content-type': 'application/vnd.github.sha; charset=utf-8' });
      }
      const commit = await commitJson(git, sha, apiRepo, `${base}/${fullName}`);
      const parent = commit.parents[0]?.sha ?? EMPTY_TREE;
      const all = (await changedFiles(git, parent, sha, apiRepo)).slice(0, COMMIT_FILES_MAX);
      const page = pageParam(url, 'page', 1);
      const pages = Math.max(1, Math.ceil(all.length / COMMIT_FILES_PAGE));
      const files = all.slice((page - 1) * COMMIT_FILES_PAGE, page * COMMIT_FILES_PAGE);
      return reply(
        200,
        {
          ...commit,
          stats: {
            additions: sum(all, 'additions'),
            deletions: sum(all, 'deletions'),
            total: sum(all, 'changes'),
          },
          files,
        },
        pages > 1 ? { link: linkHeader(url, page, pages) } : {},
      );
    }

    m = /^compare\/(.+)$/.exec(rest);
    if (m !== null) {
      const basehead = decodeURIComponent(m[1] ?? '');
      const sides = basehead.split('...');
      const notFound = () =>
        reply(404, error('Not Found', `${DOCS}/commits/commits#compare-two-commits`));
      if (sides.length !== 2) return notFound();
      const [baseRef = '', headRef = ''] = sides;
      const [baseSha, headSha] = [await git.resolve(baseRef), await git.resolve(headRef)];
      if (baseSha === null || headSha === null) return notFound();
      let mergeBase: string;
      try {
        mergeBase = (await git.git('merge-base', baseSha, headSha)).trim();
      } catch {
        return reply(
          404,
          error(
            `No common ancestor between ${baseRef} and ${headRef}.`,
            `${DOCS}/commits/commits#compare-two-commits`,
          ),
        );
      }
      const revs = async (range: string) =>
        (await git.git('rev-list', '--reverse', '--topo-order', range))
          .split('\n')
          .filter((line) => line !== '');
      const ahead = await revs(`${baseSha}..${headSha}`);
      const behind = await revs(`${headSha}..${baseSha}`);
      const paged = url.searchParams.has('page') || url.searchParams.has('per_page');
      const perPage = Math.min(100, pageParam(url, 'per_page', 30));
      const page = pageParam(url, 'page', 1);
      const listed = paged ? ahead.slice((page - 1) * perPage, page * perPage) : ahead.slice(-250);
      const pages = Math.max(1, Math.ceil(ahead.length / perPage));
      const html = `${base}/${fullName}`;
      const files =
        !paged || page === 1
          ? (await changedFiles(git, mergeBase, headSha, apiRepo)).slice(0, COMPARE_FILES_MAX)
          : [];
      return reply(
        200,
        {
          url: `${apiRepo}/compare/${basehead}`,
          html_url: `${html}/compare/${basehead}`,
          permalink_url: `${html}/compare/${baseSha.slice(0, 7)}...${headSha.slice(0, 7)}`,
          diff_url: `${html}/compare/${basehead}.diff`,
          patch_url: `${html}/compare/${basehead}.patch`,
          base_commit: await commitJson(git, baseSha, apiRepo, html),
          merge_base_commit: await commitJson(git, mergeBase, apiRepo, html),
          status:
            ahead.length > 0 && behind.length > 0
              ? 'diverged'
              : ahead.length > 0
                ? 'ahead'
                : behind.length > 0
                  ? 'behind'
                  : 'identical',
          ahead_by: ahead.length,
          behind_by: behind.length,
          total_commits: ahead.length,
          commits: await commitsJson(git, listed, apiRepo, html),
          files,
        },
        paged && pages > 1 ? { link: linkHeader(url, page, pages) } : {},
      );
    }

    m = /^contents(?:\/(.*))?$/.exec(rest);
    if (m !== null) {
      const path = decodeURIComponent(m[1] ?? '').replace(/\/+$/, '');
      const refName =
        url.searchParams.get('ref') ?? repo.defaultBranch ?? (await git.currentBranch());
      const sha = await git.resolve(refName);
      if (sha === null)
        return reply(
          404,
          error(`No commit found for the ref ${refName}`, `${DOCS}/repos/contents`),
        );
      const entries = path === '' ? await git.lsTree(sha, './') : await git.lsTree(sha, path);
      const own = entries.find((e) => e.path === path);
      if (path === '' || own?.type === 'tree') {
        const listing = path === '' ? entries : await git.lsTree(sha, `${path}/`);
        return reply(
          200,
          listing.map((e) => contentEntry(e, apiRepo, base, fullName, refName)),
        );
      }
      if (own === undefined)
        return reply(404, error('Not Found', `${DOCS}/repos/contents#get-repository-content`));
      const blob = (await git.catBlob(own.sha)) ?? Buffer.alloc(0);
      if (own.mode === '120000') {
        return reply(200, {
          ...contentEntry(own, apiRepo, base, fullName, refName),
          target: blob.toString('utf8'),
        });
      }
      if (raw) {
        return reply(200, blob, { 'content-type': 'application/vnd.github.raw' });
      }
      const big = own.size > CONTENTS_LIMIT;
      return reply(200, {
        ...contentEntry(own, apiRepo, base, fullName, refName),
        content: big ? '' : base64Lines(blob),
        encoding: big ? 'none' : 'base64',
      });
    }

    m = /^git\/blobs\/([0-9a-f]+)$/.exec(rest);
    if (m !== null) {
      const blobSha = m[1] ?? '';
      const blob = await git.catBlob(blobSha);
      if (blob === null) return reply(404, error('Not Found', `${DOCS}/git/blobs#get-a-blob`));
      if (raw) return reply(200, blob, { 'content-type': 'application/vnd.github.raw' });
      return reply(200, {
        sha: blobSha,
        node_id: nodeId(blobSha),
        size: blob.byteLength,
        url: `${apiRepo}/git/blobs/${blobSha}`,
        content: base64Lines(blob),
        encoding: 'base64',
      });
    }

    m = /^tarball(?:\/(.+))?$/.exec(rest);
    if (m !== null) {
      const ref =
        m[1] === undefined
          ? (repo.defaultBranch ?? (await git.currentBranch()))
          : decodeURIComponent(m[1]);
      const sha = await git.resolve(ref);
      if (sha === null)
        return reply(
          404,
          error('Not Found', `${DOCS}/repos/contents#download-a-repository-archive-tar`),
        );
      let location = `${base}/_codeload/${fullName}/legacy.tar.gz/${sha}`;
      if (repo.private === true) {
        const token = codeloadTokens.get(sha) ?? `GHSAT0${randomBytes(12).toString('hex')}`;
        codeloadTokens.set(sha, token);
        location += `?token=${token}`;
      }
      entry.status = 302;
      res.writeHead(302, { location, 'content-length': '0', ...rateHeaders(authorized) });
      res.end();
      return;
    }
    return reply(404, error('Not Found'));
  }

  function rateHeaders(authenticated: boolean): Record<string, string> {
    const limit = authenticated ? 5000 : 60;
    return {
      'x-ratelimit-limit': String(limit),
      'x-ratelimit-remaining': String(Math.max(0, limit - state.used)),
      'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
      'x-ratelimit-used': String(state.used),
      'x-ratelimit-resource': 'core',
      'x-github-api-version-selected': '2022-11-28',
    };
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (const repo of options.repositories ?? [])
    repos.set(`${repo.owner}/${repo.name}`.toLowerCase(), repo);

  return {
    url: base,
    get faults() {
      return state.faults;
    },
    requests,
    tokens,
    addRepository(repo) {
      repos.set(`${repo.owner}/${repo.name}`.toLowerCase(), repo);
    },
    resetFaults() {
      state.faults = freshFaults();
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** GitHub's caps: files of a comparison (first page only), files of a commit per page and in all. */
const COMPARE_FILES_MAX = 300;
const COMMIT_FILES_PAGE = 300;
const COMMIT_FILES_MAX = 3000;
/** git's empty tree: what a root commit's files are compared with. */
const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

interface FileJson {
  sha: string;
  filename: string;
  status: 'added' | 'removed' | 'modified' | 'renamed' | 'copied' | 'changed';
  additions: number;
  deletions: number;
  changes: number;
  blob_url: string;
  raw_url: string;
  contents_url: string;
  previous_filename?: string;
}

const STATUS: Record<string, FileJson['status']> = {
  A: 'added',
  D: 'removed',
  M: 'modified',
  R: 'renamed',
  C: 'copied',
  T: 'changed',
};

/** The files changed from `from` to `to` as GitHub lists them (git's rename detection, as GitHub's). */
async function changedFiles(
  git: GitRepository,
  from: string,
  to: string,
  apiRepo: string,
): Promise<FileJson[]> {
  const raw = (await git.git('diff', '--raw', '-z', '-M', '--no-abbrev', from, to)).split('\0');
  const counts = (await git.git('diff', '--numstat', '-z', '-M', from, to)).split('\0');
  const files: FileJson[] = [];
  for (let i = 0; i < raw.length - 1; ) {
    const meta = (raw[i++] ?? '').split(' ');
    const letter = (meta[4] ?? '').charAt(0);
    const previous = letter === 'R' || letter === 'C' ? raw[i++] : undefined;
    const path = raw[i++] ?? '';
    const sha = letter === 'D' ? (meta[2] ?? '') : (meta[3] ?? '');
    files.push({
      sha,
      filename: path,
      status: STATUS[letter] ?? 'modified',
      additions: 0,
      deletions: 0,
      changes: 0,
      blob_url: `${apiRepo}/blob/${to}/${path}`,
      raw_url: `${apiRepo}/raw/${to}/${path}`,
      contents_url: `${apiRepo}/contents/${path}?ref=${to}`,
      ...(previous === undefined ? {} : { previous_filename: previous }),
    });
  }
  // --numstat -z: "added\tdeleted\tpath" or, for a rename, "added\tdeleted\t" then both paths.
  const byPath = new Map(files.map((f) => [f.filename, f]));
  for (let i = 0; i < counts.length - 1; ) {
    const [added = '0', deleted = '0', path = ''] = (counts[i++] ?? '').split('\t');
    let name = path;
    if (path === '') {
      i++;
      name = counts[i++] ?? '';
    }
    const file = byPath.get(name);
    if (file === undefined) continue;
    file.additions = Number(added) || 0;
    file.deletions = Number(deleted) || 0;
    file.changes = file.additions + file.deletions;
  }
  return files;
}

type CommitJson = { sha: string; parents: Array<{ sha: string; url: string }> } & Record<
  string,
  unknown
>;

async function commitJson(
  git: GitRepository,
  sha: string,
  apiRepo: string,
  html: string,
): Promise<CommitJson> {
  return (await commitsJson(git, [sha], apiRepo, html))[0] as CommitJson;
}

/** Commits as the API shows them, read with one `git show` for all of them. */
async function commitsJson(
  git: GitRepository,
  shas: string[],
  apiRepo: string,
  html: string,
): Promise<CommitJson[]> {
  if (shas.length === 0) return [];
  const out = await git.git('show', '-s', '--format=%H%x00%T%x00%P%x00%B%x1e', ...shas);
  return out
    .split('\x1e')
    .slice(0, shas.length)
    .map((record) => {
      const [sha = '', tree = '', parents = '', message = ''] = record
        .replace(/^\n/, '')
        .split('\0');
      return {
        sha,
        node_id: nodeId(sha),
        commit: {
          message: message.trim(),
          tree: { sha: tree, url: `${apiRepo}/git/trees/${tree}` },
        },
        url: `${apiRepo}/commits/${sha}`,
        html_url: `${html}/commit/${sha}`,
        parents: parents
          .split(' ')
          .filter((p) => p !== '')
          .map((p) => ({ sha: p, url: `${apiRepo}/commits/${p}` })),
      };
    });
}

function pageParam(url: URL, name: string, fallback: number): number {
  const value = Number(url.searchParams.get(name) ?? fallback);
  return Number.isInteger(value) && value >= 1 ? value : fallback;
}

/** GitHub's Link header: first/prev/next/last, each the request's URL with its page. */
function linkHeader(url: URL, page: number, pages: number): string {
  const at = (n: number) => {
    const next = new URL(url);
    next.searchParams.set('page', String(n));
    return next.toString();
  };
  const links: string[] = [];
  if (page > 1) links.push(`<${at(page - 1)}>; rel="prev"`, `<${at(1)}>; rel="first"`);
  if (page < pages) links.push(`<${at(page + 1)}>; rel="next"`, `<${at(pages)}>; rel="last"`);
  return links.join(', ');
}

function sum(files: FileJson[], key: 'additions' | 'deletions' | 'changes'): number {
  return files.reduce((total, file) => total + file[key], 0);
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const isBytes = body instanceof Uint8Array;
  const isText = typeof body === 'string';
  const payload = isBytes ? body : Buffer.from(isText ? body : JSON.stringify(body));
  res.writeHead(status, {
    'content-type': isBytes
      ? 'application/octet-stream'
      : isText
        ? 'text/plain; charset=utf-8'
        : 'application/json; charset=utf-8',
    'content-length': String(payload.byteLength),
    ...headers,
  });
  res.end(payload);
}

function error(
  message: string,
  documentationUrl = DOCS,
): { message: string; documentation_url: string } {
  return { message, documentation_url: documentationUrl };
}

function nodeId(sha: string): string {
  return Buffer.from(`0:${sha}`).toString('base64');
}

/** GitHub wraps base64 content at 60 characters per line. */
function base64Lines(bytes: Uint8Array): string {
  const text = Buffer.from(bytes).toString('base64');
  return `${text.replace(/.{60}/g, '$&\n')}${text.length % 60 === 0 ? '' : '\n'}`;
}

function contentEntry(
  e: { mode: string; type: string; sha: string; size: number; path: string },
  apiRepo: string,
  base: string,
  fullName: string,
  ref: string,
): Record<string, unknown> {
  const type =
    e.type === 'tree'
      ? 'dir'
      : e.mode === '120000'
        ? 'symlink'
        : e.type === 'commit'
          ? 'submodule'
          : 'file';
  const name = e.path.split('/').pop() ?? e.path;
  const self = `${apiRepo}/contents/${e.path}?ref=${encodeURIComponent(ref)}`;
  const git = `${apiRepo}/git/${e.type === 'tree' ? 'trees' : 'blobs'}/${e.sha}`;
  const html = `${base}/${fullName}/${e.type === 'tree' ? 'tree' : 'blob'}/${ref}/${e.path}`;
  return {
    name,
    path: e.path,
    sha: e.sha,
    size: type === 'dir' ? 0 : e.size,
    url: self,
    html_url: html,
    git_url: git,
    download_url: type === 'file' ? `${base}/_raw/${fullName}/${ref}/${e.path}` : null,
    type,
    _links: { self, git, html },
  };
}

function repositoryJson(
  repo: TestRepository,
  base: string,
  defaultBranch: string,
): Record<string, unknown> {
  const fullName = `${repo.owner}/${repo.name}`;
  const id = 1000 + (fullName.length % 997);
  return {
    id,
    node_id: nodeId(fullName),
    name: repo.name,
    full_name: fullName,
    private: repo.private === true,
    visibility: repo.private === true ? 'private' : 'public',
    owner: {
      login: repo.owner,
      id: 1000,
      node_id: nodeId(repo.owner),
      type: 'Organization',
      site_admin: false,
    },
    html_url: `${base}/${fullName}`,
    description: null,
    fork: false,
    url: `${base}/repos/${fullName}`,
    default_branch: defaultBranch,
    archived: false,
    disabled: false,
  };
}
