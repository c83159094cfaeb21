/**
 * python/request_gate.py: lets the runner send a notebook's next cells ahead (the kernel goes
 * from one cell to the next without waiting for the runner) while no cell runs after a failed
 * cell or after the run was stopped. Installed silently in ipykernel kernels nes-run launches.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SOURCE = readFileSync(
  fileURLToPath(new URL('../python/request_gate.py', import.meta.url)),
  'utf8',
);

/** The metadata of an execute request sent ahead: the kernel aborts it once the gate closed. */
export const GATED_METADATA = { nes_gated: true } as const;

/** The gate's code for a kernel whose stop file is `stopFile` (a JSON string is a Python one). */
export function requestGateCode(stopFile: string): string {
  return SOURCE.replaceAll('__NES_STOP_FILE__', JSON.stringify(stopFile));
}
