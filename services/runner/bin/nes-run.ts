#!/usr/bin/env node
/** nes-run: execute a notebook, papermill-compatible. See docs/runner-cli.md. */
import { Console } from 'node:console';
import module from 'node:module';
import v8 from 'node:v8';

// Before the CLI is loaded: on an older Node, one line saying what is needed, not a stack trace.
const [major = 0] = process.versions.node.split('.').map(Number);
if (major < 22) {
  process.stderr.write(
    `nes-run needs Node.js 22 or newer; this is Node.js ${process.versions.node}\n`,
  );
  process.exit(1);
}

// Node's on-disk compile cache (NODE_COMPILE_CACHE, else a directory under the temp dir): a cold
// nes-run otherwise spends a good part of its start compiling its modules, every time.
module.enableCompileCache?.();

// A run passes every byte its notebook prints through this process, mostly as short-lived
// strings of up to 1 MiB. V8's default heap policy lets that garbage pile up to several times
// what is live before collecting (a notebook printing 1 GB peaked near 300 MB). Once this process
// holds more than a plain run does, V8 is told to favour size (the flag is read at each
// collection): the 1 GB notebook then peaks near 200 MB. Not from the start: on a notebook of
// many small cells it would collect far more often than needed (500 cells: about 0.25 s more).
const HEAVY_RSS_BYTES = 160 * 1024 * 1024;
const memoryWatch = setInterval(() => {
  if (process.memoryUsage.rss() < HEAVY_RSS_BYTES) return;
  v8.setFlagsFromString('--optimize-for-size');
  clearInterval(memoryWatch);
}, 50).unref();

// stdout carries only the notebook (OUTPUT -) or JSON events (--json): libraries that log with
// console.* (Jupyter's client logs through console.debug) write to stderr instead.
globalThis.console = new Console({ stdout: process.stderr, stderr: process.stderr });

// A run needs a kernel, whose start is the longest part of a cold run: launch it before loading
// the CLI's modules when the command line says which one (src/cli/early-start.ts).
const argv = process.argv.slice(2);
const { EarlyStart, mayExecute } = await import('../src/cli/early-start.ts');
const early = mayExecute(argv) ? EarlyStart.begin(60_000, argv) : undefined;

const { main } = await import('../src/cli/main.ts');
const { mark } = await import('../src/cli/timings.ts');
mark('cli loaded');

const code = await main(argv, early ? { early } : {});
// Let stdout drain before leaving: a notebook piped to stdout must arrive whole.
await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
process.exit(code);
