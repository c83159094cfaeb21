/** Reading flag values: each refusal is a usage error that names the flag and what it expects. */
import { usageError } from './cli-error.ts';

export function nonEmpty(value: unknown, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw usageError(`${flag} is given more than once`);
  const text = String(value);
  if (text.trim() === '') throw usageError(`${flag} needs a value`);
  return text;
}

export function mib(bytes: number): string {
  return `${bytes / 1024 ** 2}M`;
}

export function seconds(value: unknown, flag: string, allowZero = false): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  const n = Number(text);
  if (text === '' || !Number.isFinite(n) || n < 0 || (n === 0 && !allowZero)) {
    throw usageError(
      `${flag} ${text}: expected a number of seconds${allowZero ? ' (0 or more)' : ' above 0'}`,
    );
  }
  return n;
}

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

export function byteSize(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  const m = /^(\d+(?:\.\d+)?)\s*([KMG]?)(?:i?B)?$/i.exec(text);
  const unit = UNITS[(m?.[2] ?? '').toUpperCase()];
  if (!m || unit === undefined) {
    throw usageError(`${flag} ${text}: expected a size in bytes, e.g. 1048576, 512K, 10M or 1G`);
  }
  return Math.floor(Number(m[1]) * unit);
}
