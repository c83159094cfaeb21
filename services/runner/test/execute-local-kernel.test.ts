/**
 * Runs without a Jupyter Server: the kernel launched from its kernelspec and driven over ZeroMQ
 * (local-kernel.ts). The behaviours papermill users rely on, on that path: timeouts interrupt the
 * cell (and what it started), input() is refused, a dying kernel ends the run with the notebook
 * saved, cancellation, a kernelspec's env and interrupt mode, and no kernel left behind.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { CodeCell, Notebook } from '@nes/notebook';
import { guessKernel } from '../src/cli/early-start.ts';
import { findKernelSpec, needsProvisioner } from '../src/kernelspecs.ts';
import { code } from './support/notebooks.ts';
import { joined, runCells } from './support/run.ts';

const scratch = mkdtempSync(join(tmpdir(), 'nes-local-kernel-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** The code cell whose source starts with `start` (papermill's banner cells move indexes). */
function cellOf(nb: Notebook, start: string): CodeCell {
  const cell = nb.cells.find((c) => c.cell_type === 'code' && joined(c.source).startsWith(start));
  assert.ok(cell, `a code cell starting with ${start}`);
  return cell as CodeCell;
}

function outputText(cell: CodeCell): string {
  return cell.outputs
    .map((output) => {
      if (output.output_type === 'stream') return joined(output.text);
      if (output.output_type === 'error') return `${output.ename}: ${output.evalue}`;
      return '';
    })
    .join('');
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** This process's live children running ipykernel, from /proc. */
function kernelChildren(): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (fields[0] !== 'Z' && Number(fields[1]) === process.pid && cmdline.includes('ipykernel')) {
        found.push(`${entry} ${cmdline.replaceAll('\0', ' ')}`);
      }
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe('runs on a kernel launched directly', () => {
  test('a cell timeout interrupts the cell and the process it started', async () => {
    const pidFile = join(scratch, 'sleep.pid');
    const { result, saved } = await runCells(
      [
        code(
          `import subprocess\np = subprocess.Popen(["sleep", "60"])\nopen(${JSON.stringify(pidFile)}, "w").write(str(p.pid))\np.wait()`,
        ),
        code('print("not run")'),
      ],
      { cellTimeoutMs: 1500 },
    );
    assert.equal(result.status, 'timed_out');
    assert.equal(result.error?.ename, 'CellTimeoutError');
    assert.match(outputText(cellOf(saved, 'import subprocess')), /KeyboardInterrupt/);
    // SIGINT went to the kernel's process group: sleep got it too (nothing else stops it).
    const sleepPid = readFileSync(pidFile, 'utf8');
    assert.ok(!alive(Number(sleepPid)), `sleep (${sleepPid}) was interrupted with the cell`);
    assert.deepEqual(kernelChildren(), []);
  });

  test('input() is refused at once, not waited on', async () => {
    const { result, saved } = await runCells([code('name = input("name? ")')]);
    assert.equal(result.status, 'failed');
    assert.equal(result.error?.ename, 'StdinNotImplementedError');
    assert.match(outputText(cellOf(saved, 'name = input')), /StdinNotImplementedError/);
  });

  test('a kernel that dies ends the run as kernel_died, its exit code named, notebook saved', async () => {
    const { result, saved, sink } = await runCells([
      code('print("before", flush=True)'),
      code('import os\nos._exit(3)'),
      code('print("after")'),
    ]);
    assert.equal(result.error?.class, 'kernel_died');
    assert.match(result.error?.evalue ?? '', /exit code 3/);
    assert.equal(sink.count('final'), 1);
    assert.match(outputText(cellOf(saved, 'print("before"')), /before/);
    assert.deepEqual(kernelChildren(), []);
  });

  test('cancelling mid-cell interrupts, saves as cancelled and stops the kernel', async () => {
    const controller = new AbortController();
    const { result } = await runCells([code('import time\ntime.sleep(60)')], {
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === 'cell_started') setTimeout(() => controller.abort(), 300);
      },
    });
    assert.equal(result.status, 'cancelled');
    assert.deepEqual(kernelChildren(), []);
  });

  test('an unknown kernel name fails as source, listing the kernels there are', async () => {
    const { result } = await runCells([code('1')], { kernelName: 'no-such-kernel' });
    assert.equal(result.error?.class, 'source');
    assert.equal(result.error?.ename, 'NoSuchKernel');
    assert.match(result.error?.evalue ?? '', /'no-such-kernel'.*available kernels: .*python3/);
  });

  test("a kernelspec's env (with a variable), bare python and interrupt_mode message", async () => {
    const specDir = join(scratch, 'jupyter/kernels/nes-message-interrupt');
    mkdirSync(specDir, { recursive: true });
    writeFileSync(
      join(specDir, 'kernel.json'),
      JSON.stringify({
        argv: ['python', '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
        display_name: 'Python (interrupt by message)',
        language: 'python',
        interrupt_mode: 'message',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: jupyter_client's ${VAR} syntax.
        env: { NES_SPEC_VALUE: 'spec:${NES_SPEC_BASE}' },
      }),
    );
    const previous = { path: process.env.JUPYTER_PATH, base: process.env.NES_SPEC_BASE };
    process.env.JUPYTER_PATH = join(scratch, 'jupyter');
    process.env.NES_SPEC_BASE = 'from-the-environment';
    try {
      const { result, saved } = await runCells(
        [
          code('import os, sys\nprint(os.environ["NES_SPEC_VALUE"], "ipykernel" in sys.modules)'),
          code('import time\ntime.sleep(60)'),
        ],
        { kernelName: 'nes-message-interrupt', cellTimeoutMs: 1500 },
      );
      assert.equal(outputText(cellOf(saved, 'import os, sys')), 'spec:from-the-environment True\n');
      assert.equal(result.status, 'timed_out');
      assert.match(outputText(cellOf(saved, 'import time')), /KeyboardInterrupt/);
    } finally {
      if (previous.path === undefined) delete process.env.JUPYTER_PATH;
      else process.env.JUPYTER_PATH = previous.path;
      if (previous.base === undefined) delete process.env.NES_SPEC_BASE;
      else process.env.NES_SPEC_BASE = previous.base;
    }
  });

  test('5 MB printed in a loop arrives whole, one output per stream message', async () => {
    const { result, saved } = await runCells([
      code("chunk = 'y' * (64 * 1024 - 1)\nfor _ in range(80):\n    print(chunk, flush=True)"),
    ]);
    assert.equal(result.status, 'succeeded');
    const cell = cellOf(saved, 'chunk = ');
    assert.equal(outputText(cell).length, 80 * 64 * 1024);
    assert.ok(cell.outputs.length > 1, 'not merged into one output');
  });
});

describe('nes-run guesses the kernel from its command line', () => {
  const nb = join(scratch, 'guess.ipynb');
  writeFileSync(
    nb,
    JSON.stringify({
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: 'python' } },
      cells: [],
    }),
  );

  test("from the notebook's kernelspec, -k or --kernel, and --cwd", () => {
    assert.deepEqual(guessKernel([nb, 'out.ipynb'], '/base'), {
      specName: 'python3',
      cwd: '/base',
    });
    assert.deepEqual(guessKernel(['-p', 'a', '1', nb, 'o.ipynb', '-k', 'IR'], '/b'), {
      specName: 'ir',
      cwd: '/b',
    });
    assert.deepEqual(guessKernel([nb, 'o.ipynb', '--kernel=tslab', '--cwd', 'sub'], '/b'), {
      specName: 'tslab',
      cwd: '/b/sub',
    });
  });

  test('no guess when the command line cannot tell cheaply', () => {
    assert.equal(guessKernel(['github://o/r/n.ipynb', 'out.ipynb'], '/b'), null);
    assert.equal(guessKernel([join(scratch, 'missing.ipynb'), 'o.ipynb'], '/b'), null);
    assert.equal(guessKernel([nb, 'o.ipynb', '--context'], '/b'), null);
  });
});

describe('which kernels start through a jupyter_client provisioner (a Jupyter Server)', () => {
  function spec(name: string, metadata: object) {
    const dir = join(scratch, 'provisioners/kernels', name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'kernel.json'),
      JSON.stringify({ argv: ['python', '-f', '{connection_file}'], language: 'python', metadata }),
    );
    const found = findKernelSpec(name, { JUPYTER_PATH: join(scratch, 'provisioners') });
    assert.ok(found, name);
    return found;
  }

  test('none or the local one: launched directly; another: through its provisioner', () => {
    const env = {};
    assert.equal(needsProvisioner(spec('plain', {}), env), false);
    const local = spec('local', { kernel_provisioner: { provisioner_name: 'local-provisioner' } });
    assert.equal(needsProvisioner(local, env), false);
    const remote = spec('remote', { kernel_provisioner: { provisioner_name: 'k8s-provisioner' } });
    assert.equal(needsProvisioner(remote, env), true);
  });

  test("NES's fork provisioner only when NES_FORK_SERVER names a template", () => {
    const fork = spec('forked', {
      kernel_provisioner: { provisioner_name: 'nes-fork-provisioner' },
    });
    assert.equal(needsProvisioner(fork, {}), false);
    assert.equal(needsProvisioner(fork, { NES_FORK_SERVER: '/run/nes/kernels.sock' }), true);
  });
});
