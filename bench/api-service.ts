/**
 * The NES service for the API benchmark, in its own process so the load generator does not share
 * its event loop: `startService` as `nes serve` runs it (embedded defaults unless NES_DATABASE_URL
 * is set), configured by the NES_* variables the benchmark passes. Prints one JSON line
 * `{url, adminToken, pid}` on stdout when it listens; stops gracefully on SIGTERM.
 *
 *   node bench/api-service.ts [--paused]
 *
 * `--paused` switches the scheduler's claim loop off: submits are stored as queued and nothing
 * starts, so the submit route is measured alone. This is done here, in the benchmark's own
 * process, rather than by a service option.
 */
import { parseArgs } from 'node:util';
import { startService } from '../services/nes-api/src/service.ts';

const { values } = parseArgs({ options: { paused: { type: 'boolean', default: false } } });

const service = await startService({
  env: process.env,
  handleSignals: true,
  log: (line) => process.stderr.write(`${line}\n`),
});
if (values.paused) {
  // Every claim goes through wake() (submits, the poll timer, finished runs).
  service.scheduler.wake = () => undefined;
}
process.stdout.write(
  `${JSON.stringify({ url: service.url, adminToken: service.adminToken, pid: process.pid })}\n`,
);
