/**
 * A GitHub REST test server on loopback, backed by real git repositories (see git.ts). It speaks
 * the endpoints NES uses, with GitHub's status codes, error bodies ({message, documentation_url,
 * status}) and rate-limit headers:
 *   GET /repos/{o}/{r}                         repository (404 for a private one without a token)
 *   GET /repos/{o}/{r}/commits/{ref}           commit; `application/vnd.github.sha` gives the SHA as text; 422 unknown ref
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
      const [tree = '', ...parents] = (await git.git('show', '-s', '--format=%T %P', sha))
        .trim()
        .split(/\s+/);
      const message = (await git.git('show', '-s', '--format=%B', sha)).trim();
      return reply(200, {
        sha,
        node_id: nodeId(sha),
        commit: { message, tree: { sha: tree, url: `${apiRepo}/git/trees/${tree}` } },
        url: `${apiRepo}/commits/${sha}`,
        html_url: `${base}/${fullName}/commit/${sha}`,
        parents: parents
          .filter((p) => p !== '')
          .map((p) => ({ sha: p, url: `${apiRepo}/commits/${p}` })),
      });
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
