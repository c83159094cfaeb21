#!/usr/bin/env node
/** nes: the NES client command line. See docs/cli.md. */
import { main } from '../src/main.ts';

const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
// Let stdout drain before leaving: JSON piped to another program must arrive whole.
await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
process.exit(code);
