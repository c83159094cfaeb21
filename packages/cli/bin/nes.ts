#!/usr/bin/env node
/** nes: the NES client command line. See docs/cli.md. */

// Before anything is loaded: on an older Node, one line saying what is needed, not a stack trace.
const [major = 0] = process.versions.node.split('.').map(Number);
if (major < 22) {
  process.stderr.write(`nes needs Node.js 22 or newer; this is Node.js ${process.versions.node}\n`);
  process.exit(1);
}

const { main } = await import('../src/main.ts');
const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
// Let stdout drain before leaving: JSON piped to another program must arrive whole.
await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
process.exit(code);
