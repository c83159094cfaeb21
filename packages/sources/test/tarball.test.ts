import assert from 'node:assert/strict';
import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { extractTarball, SourceError } from '../src/index.ts';
import { chunks, craftTarball } from './helpers.ts';

const caps = { maxArchiveBytes: 10_000_000, maxExtractedBytes: 10_000_000 };

describe('extractTarball', () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'nes-tar-'));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  test('strips the top folder and writes files, directories and inside links', async () => {
    const dir = join(work, 'plain', 'out');
    const archive = craftTarball([
      { name: 'o-r-abc1234/', type: 'dir' },
      { name: 'o-r-abc1234/nb/', type: 'dir' },
      { name: 'o-r-abc1234/nb/helper.py', content: 'X = 1\n' },
      { name: 'o-r-abc1234/data/', type: 'dir' },
      { name: 'o-r-abc1234/data/table.csv', content: 'a,b\n' },
      { name: 'o-r-abc1234/nb/table.csv', type: 'symlink', linkname: '../data/table.csv' },
    ]);
    const result = await extractTarball(chunks(archive, 100), dir, caps);
    assert.equal(await readFile(join(dir, 'nb/helper.py'), 'utf8'), 'X = 1\n');
    assert.equal(await readFile(join(dir, 'nb/table.csv'), 'utf8'), 'a,b\n');
    assert.equal(await readlink(join(dir, 'nb/table.csv')), '../data/table.csv');
    assert.deepEqual([result.files, result.symlinks, result.skipped], [2, 1, []]);
  });

  test('traversal, absolute paths, escaping links and hard links are skipped, never written', async () => {
    const outside = join(work, 'attack');
    const dir = join(outside, 'inner', 'out');
    await mkdir(join(outside, 'inner'), { recursive: true });
    const archive = craftTarball([
      { name: 'top/', type: 'dir' },
      { name: 'top/../../escape1.txt', content: 'pwned' },
      { name: '../escape2.txt', content: 'pwned' },
      { name: '/tmp/nes-absolute-escape.txt', content: 'pwned' },
      { name: 'top/abs', type: 'symlink', linkname: '/etc' },
      { name: 'top/abs/passwd-copy', content: 'pwned' },
      { name: 'top/up', type: 'symlink', linkname: '..' },
      { name: 'top/up/escape3.txt', content: 'pwned' },
      { name: 'top/self', type: 'symlink', linkname: '.' },
      { name: 'top/chain', type: 'symlink', linkname: 'self/..' },
      { name: 'top/hard', type: 'hardlink', linkname: '/etc/passwd' },
      { name: 'top/fifo', type: 'fifo' },
      { name: 'top/ok.txt', content: 'ok' },
    ]);
    const result = await extractTarball(chunks(archive), dir, caps);
    assert.equal(await readFile(join(dir, 'ok.txt'), 'utf8'), 'ok');
    // Nothing landed next to the directory or in /tmp.
    assert.deepEqual((await readdir(join(outside, 'inner'))).sort(), ['out']);
    assert.deepEqual(await readdir(outside), ['inner']);
    await assert.rejects(lstat('/tmp/nes-absolute-escape.txt'));
    const kept = (await readdir(dir)).sort();
    assert.ok(
      !kept.includes('hard') && !kept.includes('fifo') && !kept.includes('chain'),
      kept.join(','),
    );
    assert.equal(await readlink(join(dir, 'self')), '.');
    // abs and up were written as real directories by the files under them, never as links.
    for (const name of ['abs', 'up']) assert.ok((await lstat(join(dir, name))).isDirectory());
    const reasons = Object.fromEntries(result.skipped.map((s) => [s.path, s.reason]));
    assert.match(reasons['top/../../escape1.txt'] ?? '', /\.\./);
    assert.match(reasons['../escape2.txt'] ?? '', /\.\./);
    assert.match(reasons['/tmp/nes-absolute-escape.txt'] ?? '', /absolute/);
    assert.match(reasons.abs ?? '', /absolute/);
    assert.match(reasons.up ?? '', /outside/);
    assert.match(reasons.chain ?? '', /outside/);
    assert.match(reasons.hard ?? '', /Link/);
    assert.match(reasons.fifo ?? '', /FIFO/);
  });

  test('a link inside a linked directory is refused', async () => {
    const dir = join(work, 'nested', 'out');
    const archive = craftTarball([
      { name: 'top/sub/', type: 'dir' },
      { name: 'top/sub/file.txt', content: 'x' },
      { name: 'top/alias', type: 'symlink', linkname: 'sub' },
      { name: 'top/alias/evil', type: 'symlink', linkname: '..' },
    ]);
    const result = await extractTarball(chunks(archive), dir, caps);
    assert.deepEqual((await readdir(join(dir, 'sub'))).sort(), ['file.txt']);
    assert.ok(result.skipped.some((s) => s.path === 'alias/evil'));
  });

  test('size and entry caps fail with too_large and leave nothing behind', async () => {
    const big = craftTarball([{ name: 'top/big.bin', content: 'x'.repeat(50_000) }]);
    const cases: [string, Parameters<typeof extractTarball>[2]][] = [
      ['extracted', { maxArchiveBytes: 1_000_000, maxExtractedBytes: 10_000 }],
      ['archive', { maxArchiveBytes: 50, maxExtractedBytes: 1_000_000 }],
      ['entries', { ...caps, maxEntries: 0 }],
    ];
    for (const [name, options] of cases) {
      const dir = join(work, `caps-${name}`, 'out');
      await assert.rejects(extractTarball(chunks(big, 16), dir, options), (error: unknown) => {
        assert.ok(error instanceof SourceError);
        assert.equal(error.code, 'too_large');
        return true;
      });
      assert.deepEqual(await readdir(join(work, `caps-${name}`)), []);
    }
  });

  test('only a subdirectory, repository-relative', async () => {
    const dir = join(work, 'include', 'out');
    const archive = craftTarball([
      { name: 'top/a/', type: 'dir' },
      { name: 'top/a/x.py', content: 'x' },
      { name: 'top/a/b/y.py', content: 'y' },
      { name: 'top/c.py', content: 'c' },
    ]);
    const result = await extractTarball(chunks(archive), dir, { ...caps, include: 'a/b' });
    assert.deepEqual(await readdir(dir), ['a']);
    assert.deepEqual(await readdir(join(dir, 'a')), ['b']);
    assert.equal(result.files, 1);
  });

  test('refuses a non-empty target directory', async () => {
    const dir = join(work, 'busy');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'keep.txt'), 'keep');
    await assert.rejects(extractTarball(chunks(craftTarball([])), dir, caps), /not empty/);
    assert.equal(await readFile(join(dir, 'keep.txt'), 'utf8'), 'keep');
  });
});
