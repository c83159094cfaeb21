#!/usr/bin/env node
/** nes-run: execute a notebook, papermill-compatible. See docs/runner-cli.md. */
import { Console } from 'node:console';
import { main } from '../src/cli/main.ts';

// stdout carries only the notebook (OUTPUT -) or JSON events (--json): libraries that log with
// console.* (Jupyter's client logs through console.debug) write to stderr instead.
globalThis.console = new Console({ stdout: process.stderr, stderr: process.stderr });

const code = await main(process.argv.slice(2));
// Let stdout drain before leaving: a notebook piped to stdout must arrive whole.
await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
process.exit(code);
