/**
 * Reading yargs option values the same way in every `nes` command: a repeated option is a list
 * where a list is meant and a usage error (exit 2) where one value is meant.
 */
import { usageError } from './exit.ts';

/** Every value of a repeatable option (none when it was not given). */
export function list(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

/** The one value of an option, refusing it given twice. */
export function str(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value))
    throw usageError(`an option was given more than once: ${value.join(', ')}`);
  return String(value);
}

export function positiveInt(value: unknown, flag: string): number {
  const text = str(value) ?? '';
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1) {
    throw usageError(`${flag} ${text}: expected a whole number above 0`);
  }
  return Number(text);
}

/** Repeated `--label KEY=VALUE` options as a map (undefined when none was given). */
export function labels(value: unknown): Record<string, string> | undefined {
  const items = list(value);
  if (items.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const item of items) {
    const at = item.indexOf('=');
    if (at < 1) throw usageError(`--label ${item}: expected KEY=VALUE`);
    out[item.slice(0, at)] = item.slice(at + 1);
  }
  return out;
}
