/**
 * nes-run's parameter flags, read as papermill's CLI reads them (@nes/notebook's parameter
 * sources, shared with `nes submit`): parameters files come from this machine's disk, and a value
 * that is not what its flag needs is a usage error (exit 2).
 */
import { readFileSync } from 'node:fs';
import {
  collectParameters as collect,
  parameterFlagSources as flagSources,
  ParameterInputError,
  type ParameterSources,
  type ParameterValues,
} from '@nes/notebook';
import { usageError } from './cli-error.ts';

export type { ParameterValues };

function asUsageError<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof ParameterInputError) throw usageError(err.message);
    throw err;
  }
}

export function collectParameters(src: ParameterSources): ParameterValues {
  return asUsageError(() => collect(src, (path) => readFileSync(path, 'utf8')));
}

export function parameterFlagSources(
  flags: Readonly<Record<string, unknown>>,
): ReturnType<typeof flagSources> {
  return asUsageError(() => flagSources(flags));
}
