/** Links out of the viewer: a run's notebook on GitHub at its commit, and store paths. */
import type { Run } from '@nes/client';

/**
 * The notebook's page on GitHub at the run's commit, or null for notebooks not from GitHub.
 * `github://OWNER/REPO/PATH` is github.com; a blob URL (github.com or an Enterprise host) keeps
 * its host and has its ref replaced by the commit, so the link shows exactly what ran.
 */
export function githubLink(run: Pick<Run, 'notebook' | 'commitSha' | 'ref'>): string | null {
  const sha = run.commitSha;
  const notebook = run.notebook ?? '';
  const scheme = /^github:\/\/([^/]+)\/([^/]+)\/(.+)$/.exec(notebook);
  if (scheme) {
    const [, owner, repo, path] = scheme;
    const at = sha ?? run.ref ?? 'HEAD';
    return `https://github.com/${owner}/${repo}/blob/${encodeURIComponent(at)}/${encodePath(path ?? '')}`;
  }
  let url: URL;
  try {
    url = new URL(notebook);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  const parts = url.pathname.split('/');
  // /OWNER/REPO/blob/REF/PATH...; REF may hold slashes, and then only the recorded ref says where
  // it ends.
  if (parts.length < 6 || parts[3] !== 'blob') return null;
  const rest = parts.slice(4).join('/');
  let path = parts.slice(5).join('/');
  if (run.ref && rest.startsWith(`${run.ref}/`)) path = rest.slice(run.ref.length + 1);
  if (!sha) return url.toString();
  return `${url.origin}/${parts[1]}/${parts[2]}/blob/${sha}/${path}`;
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** The viewer URL of a store object: notebooks open rendered, other files download. */
export function browseHref(path: string): string {
  if (path.endsWith('.ipynb')) return `/notebook?path=${encodeURIComponent(path)}`;
  return `/v1/browse/${encodePath(path)}`;
}

/** A store directory's viewer URL (`/browse/runs/abc/`). */
export function browseDirHref(path: string): string {
  const clean = path.replace(/^\/+/, '');
  return `/browse/${encodePath(clean)}`;
}

/** `runs/abc/` -> [{name: 'store', path: ''}, {name: 'runs', path: 'runs/'}, {name: 'abc', ...}]. */
export function breadcrumbs(path: string): Array<{ name: string; path: string }> {
  const parts = path.split('/').filter(Boolean);
  const crumbs = [{ name: 'store', path: '' }];
  let at = '';
  for (const part of parts) {
    at += `${part}/`;
    crumbs.push({ name: part, path: at });
  }
  return crumbs;
}
