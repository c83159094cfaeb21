/**
 * Which paths a GitHub push changed, for fix by push (routes/github-hooks.ts). The push payload
 * lists each commit's added, modified and removed files, but not always all of them: GitHub caps
 * the commits of a push event (at 20 in some deliveries, 2048 in webhooks), a copy of the payload
 * may leave the file lists out, and a push that only moves the branch to commits already known
 * lists none. When the payload cannot be trusted to be whole, the compare API answers instead
 * (GET /repos/{owner}/{repo}/compare/{before}...{after}, through @octokit/rest); when even its
 * file list may be cut (GitHub lists at most 300 files of a comparison) the comparison's commits
 * are walked one by one (each lists up to 3000 files).
 */
import type { GitHubClient } from '@nes/sources';

interface PushCommit {
  id?: string;
  added?: string[];
  modified?: string[];
  removed?: string[];
}

export interface PushEvent {
  ref?: string;
  before?: string;
  after?: string;
  created?: boolean;
  deleted?: boolean;
  forced?: boolean;
  repository?: { full_name?: string; default_branch?: string };
  commits?: PushCommit[];
  head_commit?: PushCommit | null;
}

/** The changed paths, or `everything` when they cannot be known (each schedule counts as changed). */
export type PushChanges =
  | { kind: 'paths'; paths: Set<string>; source: 'payload' | 'compare' | 'commits' }
  | { kind: 'everything'; reason: string };

/**
 * The fewest commits a push event may have been cut to: a list this long may be a cut one. (The
 * push webhook documents 2048; GitHub's event timeline and older deliveries stop at 20.)
 */
const PAYLOAD_COMMITS_CAP = 20;
/** A comparison whose files were cut is walked commit by commit up to this many commits. */
const WALK_COMMITS_MAX = 250;

const ZERO_SHA = /^0+$/;

export async function pushChanges(
  event: PushEvent,
  github: Pick<GitHubClient, 'compareFiles' | 'comparisonCommits' | 'commitFiles'>,
  owner: string,
  repo: string,
  branch: string,
): Promise<PushChanges> {
  const before = event.before ?? '';
  if (before === '' || ZERO_SHA.test(before) || event.created === true) {
    // A new branch: a schedule that follows it could not read its notebook until now, whatever
    // the branch changed against the one it was made from.
    return { kind: 'everything', reason: `the push created the branch ${branch}` };
  }
  const fromPayload = payloadPaths(event);
  if (fromPayload !== null) return { kind: 'paths', paths: fromPayload, source: 'payload' };
  return compare(github, owner, repo, before, event.after ?? '');
}

/** The payload's paths, or null when its list of commits or files may not be whole. */
function payloadPaths(event: PushEvent): Set<string> | null {
  const commits = event.commits ?? [];
  if (commits.length === 0 || commits.length >= PAYLOAD_COMMITS_CAP) return null;
  if (event.forced === true) return null;
  const paths = new Set<string>();
  for (const commit of [...commits, ...(event.head_commit ? [event.head_commit] : [])]) {
    const lists = [commit.added, commit.modified, commit.removed];
    if (lists.some((list) => !Array.isArray(list))) return null;
    for (const list of lists) for (const path of list ?? []) paths.add(path);
  }
  return paths;
}

async function compare(
  github: Pick<GitHubClient, 'compareFiles' | 'comparisonCommits' | 'commitFiles'>,
  owner: string,
  repo: string,
  base: string,
  head: string,
): Promise<PushChanges> {
  const paths = new Set<string>();
  const forward = await github.compareFiles(owner, repo, base, head);
  if (!forward.complete) return walk(github, owner, repo, base, head, forward.totalCommits);
  addFiles(paths, forward.files);
  if (forward.status === 'diverged' || forward.status === 'behind') {
    // A forced push: the files its dropped commits had changed differ now too.
    const backward = await github.compareFiles(owner, repo, head, base);
    if (!backward.complete)
      return { kind: 'everything', reason: 'the forced push rewrote more than 300 files' };
    addFiles(paths, backward.files);
  }
  return { kind: 'paths', paths, source: 'compare' };
}

/** The comparison's files were cut at 300: the union of its commits' own files. */
async function walk(
  github: Pick<GitHubClient, 'comparisonCommits' | 'commitFiles'>,
  owner: string,
  repo: string,
  base: string,
  head: string,
  totalCommits: number,
): Promise<PushChanges> {
  if (totalCommits > WALK_COMMITS_MAX)
    return {
      kind: 'everything',
      reason: `the push changed over 300 files in ${totalCommits} commits`,
    };
  const paths = new Set<string>();
  for (const sha of await github.comparisonCommits(owner, repo, base, head)) {
    const { files, complete } = await github.commitFiles(owner, repo, sha);
    if (!complete) return { kind: 'everything', reason: `commit ${sha} changed over 3000 files` };
    addFiles(paths, files);
  }
  return { kind: 'paths', paths, source: 'commits' };
}

function addFiles(
  paths: Set<string>,
  files: ReadonlyArray<{ filename: string; previousFilename?: string }>,
): void {
  for (const file of files) {
    paths.add(file.filename);
    if (file.previousFilename !== undefined) paths.add(file.previousFilename);
  }
}
