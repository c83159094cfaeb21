/**
 * A run's kernel without a Jupyter Server (executors/sandbox/kernel-sandbox.ts), with real
 * bubblewrap (no network), the real fork template and real kernels, driven the way the runner
 * worker drives it (LocalKernel.attach over `ipc` sockets in the run's directory):
 * - forked from the template into the sandbox: it answers, runs in /home/run with the template's
 *   imports, its parent is outside its pid namespace, and no Jupyter Server runs in the sandbox;
 * - interrupt_request on the control channel interrupts a running cell;
 * - shutdown ends the kernel and so the sandbox; the sockets go with the run's directory;
 * - a kernel that dies ends its sandbox, and the client sees it die;
 * - without a template the kernel starts normally inside the sandbox.
 * Nothing here waits on a clock: every step waits for the kernel's own answer.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { KernelMessage } from '@jupyterlab/services';
import { findKernelSpec, type KernelSpec, locateJupyterServer } from '@nes/runner';
import { LocalKernel } from '../../runner/src/local-kernel.ts';
import type { SandboxPlan } from '../src/executors/sandbox/bubblewrap.ts';
import {
  type ForkTemplate,
  startForkTemplate,
  withForkTemplate,
} from '../src/executors/sandbox/fork-template.ts';
import { KernelSandbox } from '../src/executors/sandbox/kernel-sandbox.ts';
import type { RunSandboxOptions } from '../src/executors/sandbox/run-sandbox.ts';
import { planSandbox } from '../src/executors/sandbox/sandbox-plan.ts';

const baseDir = mkdtempSync(join(tmpdir(), 'nes-ksb-'));
const forking = process.getuid?.() === 0;
let plan: SandboxPlan | null;
let pathFirst: string[];
let template: ForkTemplate | null = null;
let spec: KernelSpec;
const python = join(locateJupyterServer().binDir as string, 'python');
const open: Array<{ kernel: LocalKernel | null; sandbox: KernelSandbox }> = [];

before(async () => {
  const planned = await planSandbox({ mode: 'require', network: 'none' }, { hidden: [baseDir] });
  plan = planned.plan;
  pathFirst = planned.pathFirst;
  if (forking) {
    template = await startForkTemplate(plan, pathFirst, ['numpy'], () => undefined);
    assert.ok(template, 'the fork template started');
  }
  spec = findKernelSpec('python3') as KernelSpec;
  assert.ok(spec);
});

after(async () => {
  for (const { kernel, sandbox } of open) {
    await kernel?.shutdown();
    await sandbox.stop();
  }
  await template?.stop();
  rmSync(baseDir, { recursive: true, force: true });
});

function options(fork: boolean): RunSandboxOptions {
  const base: RunSandboxOptions = { baseDir, plan, sourceEnv: process.env, pathFirst };
  return fork ? withForkTemplate(base, template) : base;
}

/** A sandboxed kernel and a client attached to it as the worker attaches. */
async function started(fork: boolean): Promise<{ kernel: LocalKernel; sandbox: KernelSandbox }> {
  const sandbox = KernelSandbox.start(options(fork), spec, python);
  const entry: { kernel: LocalKernel | null; sandbox: KernelSandbox } = { kernel: null, sandbox };
  open.push(entry);
  let tail = '';
  const kernel = await LocalKernel.attach(sandbox.direct.spec, sandbox.direct.endpoints, {
    exited: sandbox.exited.then((exit) => {
      tail = exit.stderrTail;
      return exit.how;
    }),
    kill: () => void sandbox.stop(),
    stderrTail: () => tail,
  });
  entry.kernel = kernel;
  return { kernel, sandbox };
}

/** Runs `code`; its stdout and the reply. */
async function run(
  kernel: LocalKernel,
  code: string,
  onStarted?: () => void,
): Promise<{ out: string; reply: KernelMessage.IExecuteReplyMsg }> {
  let out = '';
  let id = '';
  kernel.onIOPub((msg) => {
    if ((msg.parent_header as { msg_id?: string }).msg_id !== id) return;
    if (msg.header.msg_type === 'stream') out += (msg.content as { text: string }).text;
    if (msg.header.msg_type === 'execute_input') onStarted?.();
  });
  const request = kernel.requestExecute({
    code,
    silent: false,
    store_history: false,
    allow_stdin: false,
    stop_on_error: true,
  });
  id = request.msgId;
  const reply = await request.done;
  return { out, reply };
}

const SERVERS_IN_SANDBOX = [
  'import os',
  'cmdlines = []',
  'for p in os.listdir("/proc"):',
  '    if p.isdigit():',
  '        try: cmdlines.append(open(f"/proc/{p}/cmdline").read())',
  '        except OSError: pass',
  'print("servers", sum("jupyter_server" in c or "jupyter-server" in c for c in cmdlines))',
].join('\n');

describe('a kernel in its sandbox without a Jupyter Server', () => {
  test('forked from the template, reached over ipc sockets in the run directory', {
    skip: !forking && 'forking needs root',
  }, async () => {
    const { kernel, sandbox } = await started(true);
    const { out } = await run(
      kernel,
      [
        'import os, sys',
        'print("ppid", os.getppid(), "numpy" in sys.modules, os.getcwd())',
        'print("sockets", sorted(f for f in os.listdir(".") if f.startswith("k-")))',
        SERVERS_IN_SANDBOX,
      ].join('\n'),
    );
    // Its parent (the template) is outside the sandbox's pid namespace.
    assert.match(out, /^ppid 0 True \/home\/run\n/);
    assert.match(out, /sockets \['k-1', 'k-2', 'k-3', 'k-4', 'k-5'\]/);
    assert.match(out, /servers 0\n/);
    for (let port = 1; port <= 5; port += 1) assert.ok(existsSync(join(sandbox.dir, `k-${port}`)));
  });

  test('interrupt_request on the control channel interrupts a running cell', async () => {
    const { kernel } = await started(forking);
    const { reply } = await run(kernel, 'import time\ntime.sleep(600)', () => {
      void kernel.interrupt();
    });
    assert.equal(reply.content.status, 'error');
    assert.equal((reply.content as { ename?: string }).ename, 'KeyboardInterrupt');
    // The kernel goes on after the interrupt.
    assert.match((await run(kernel, 'print(6 * 7)')).out, /^42\n/);
  });

  test('shutdown ends the kernel and its sandbox; its sockets go with the run directory', async () => {
    const { kernel, sandbox } = await started(forking);
    assert.match((await run(kernel, 'print("up")')).out, /^up\n/);
    await kernel.shutdown();
    const exit = await sandbox.exited;
    assert.equal(exit.how, 'exit code 0', exit.stderrTail);
    assert.ok(existsSync(join(sandbox.dir, 'k-1')), 'the sockets stay until the sandbox goes');
    await sandbox.stop();
    assert.ok(!existsSync(sandbox.dir), 'the run directory, sockets and all, is removed');
  });

  test('a kernel that dies ends its sandbox, and its client sees it die', async () => {
    const { kernel, sandbox } = await started(forking);
    void run(kernel, 'import os, signal\nos.kill(os.getpid(), signal.SIGKILL)').catch(() => {});
    const death = await kernel.died;
    assert.equal(death.reason, 'dead');
    assert.match(death.detail, /the kernel died/);
    await sandbox.exited;
    assert.equal(await sandbox.alive(), false);
  });

  test('without a template the kernel starts normally inside the sandbox', async () => {
    const { kernel } = await started(false);
    const { out } = await run(
      kernel,
      `import os, sys\nprint("ppid", os.getppid(), "numpy" in sys.modules, os.getcwd())\n${SERVERS_IN_SANDBOX}`,
    );
    // Its parent is the sandbox's init (pid 1), and nothing was imported for it.
    assert.match(out, /^ppid 1 False \/home\/run\nservers 0\n/);
  });
});
