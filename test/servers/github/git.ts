/**
 * A real git repository for the GitHub test server, made with the git CLI in a temporary
 * directory: commit files, move branches, tag, and ask git what GitHub would answer.
 */
import { execFile } from 'node:child_process';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const env = {
  ...process.env,
  GIT_AUTHOR_NAME: 'NES Test',
  GIT_AUTHOR_EMAIL: 'test@nes.invalid',
  GIT_COMMITTER_NAME: 'NES Test',
  GIT_COMMITTER_EMAIL: 'test@nes.invalid',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
};

/** File contents by repository path; `{ symlink: target }` makes a symbolic link; null deletes. */
export type TreeContents = Record<string, string | Uint8Array | { symlink: string } | null>;

export class GitRepository {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  static async create(dir: string, defaultBranch = 'main'): Promise<GitRepository> {
    await mkdir(dir, { recursive: true });
    const repo = new GitRepository(dir);
    await repo.git('init', '-q', `--initial-branch=${defaultBranch}`);
    await repo.git('config', 'core.symlinks', 'true');
    return repo;
  }

  async git(...args: string[]): Promise<string> {
    const { stdout } = await run('git', args, { cwd: this.dir, env, maxBuffer: 512 * 1024 * 1024 });
    return stdout;
  }

  /** Raw bytes of a git command's output (blobs, archives). */
  async gitBytes(...args: string[]): Promise<Buffer> {
    const { stdout } = await run('git', args, {
      cwd: this.dir,
      env,
      encoding: 'buffer',
      maxBuffer: 512 * 1024 * 1024,
    });
    return stdout;
  }

  /** Writes the files, commits them on the current branch, returns the new commit SHA. */
  async commit(files: TreeContents, message = 'update'): Promise<string> {
    for (const [path, content] of Object.entries(files)) {
      const full = join(this.dir, path);
      await rm(full, { force: true, recursive: true });
      if (content === null) continue;
      await mkdir(dirname(full), { recursive: true });
      if (typeof content === 'object' && 'symlink' in content) await symlink(content.symlink, full);
      else await writeFile(full, content);
    }
    await this.git('add', '-A');
    await this.git('commit', '-q', '--allow-empty', '-m', message);
    return (await this.git('rev-parse', 'HEAD')).trim();
  }

  async checkout(branch: string, create = false): Promise<void> {
    await this.git('checkout', '-q', ...(create ? ['-b'] : []), branch);
  }

  async tag(name: string, target = 'HEAD'): Promise<void> {
    await this.git('tag', name, target);
  }

  /** GitHub's lookup for /commits/{ref}: branch, then tag, then a (short) SHA. */
  async resolve(ref: string): Promise<string | null> {
    const tries = [`refs/heads/${ref}`, `refs/tags/${ref}`];
    if (/^[0-9a-f]{4,64}$/.test(ref)) tries.push(ref);
    for (const name of tries) {
      try {
        return (await this.git('rev-parse', '--verify', '--quiet', `${name}^{commit}`)).trim();
      } catch {
        // not this kind of ref
      }
    }
    return null;
  }

  async currentBranch(): Promise<string> {
    return (await this.git('symbolic-ref', '--short', 'HEAD')).trim();
  }

  /** `git ls-tree -l` of one path (a file's entry) or, with a trailing slash, a directory's. */
  async lsTree(sha: string, path: string): Promise<TreeEntry[]> {
    const out = await this.git('ls-tree', '-l', '-z', sha, '--', path);
    return out
      .split('\0')
      .filter((line) => line !== '')
      .map((line) => {
        const [meta = '', name = ''] = line.split('\t');
        const [mode = '', type = '', objectSha = '', size = '-'] = meta.split(/\s+/);
        return { mode, type, sha: objectSha, size: size === '-' ? 0 : Number(size), path: name };
      });
  }

  async catBlob(sha: string): Promise<Buffer | null> {
    try {
      return await this.gitBytes('cat-file', 'blob', sha);
    } catch {
      return null;
    }
  }

  async archive(sha: string, prefix: string): Promise<Buffer> {
    return this.gitBytes('archive', '--format=tar.gz', `--prefix=${prefix}`, sha);
  }
}

export interface TreeEntry {
  mode: string;
  type: string;
  sha: string;
  size: number;
  path: string;
}
