/** The service as `nes serve` runs it, for the process tests: JSON {url, adminToken} on stdout. */
import { startService } from '../src/service.ts';

const service = await startService({ env: process.env, handleSignals: true });
process.stdout.write(
  `${JSON.stringify({ url: service.url, adminToken: service.adminToken, pid: process.pid })}\n`,
);
