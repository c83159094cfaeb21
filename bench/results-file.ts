/**
 * bench/RESULTS.md holds one marked section per benchmark, between `<!-- NAME-bench:start -->`
 * and `<!-- NAME-bench:end -->`. A benchmark replaces only its own section (appended when the
 * file has none yet); a written analysis at the section's end, from the line starting with
 * `keepFrom`, outlives a new measurement. Every other section is kept as it is.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export function writeBenchSection(
  path: string,
  name: string,
  block: string,
  keepFrom?: string,
): void {
  const start = `<!-- ${name}-bench:start -->`;
  const end = `<!-- ${name}-bench:end -->`;
  const old = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const from = old.indexOf(start);
  const to = old.indexOf(end);
  const present = from >= 0 && to > from;
  const previous = present ? old.slice(from + start.length, to) : '';
  const analysisAt = keepFrom === undefined ? -1 : previous.search(lineStarting(keepFrom));
  const kept = analysisAt >= 0 ? `\n${previous.slice(analysisAt).replace(/^\n+/, '')}` : '';
  const section = `${start}\n${block.replace(/\n*$/, '\n')}${kept}${end}`;
  writeFileSync(
    path,
    present
      ? old.slice(0, from) + section + old.slice(to + end.length)
      : `${old === '' ? '' : old.replace(/\n*$/, '\n\n')}${section}\n`,
  );
}

function lineStarting(text: string): RegExp {
  return new RegExp(`(^|\\n)${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`);
}
