/** Two runs' parameters side by side: which differ, which only one run has. */

export interface ParameterDiffRow {
  name: string;
  a: unknown;
  b: unknown;
  inA: boolean;
  inB: boolean;
  changed: boolean;
}

export function diffParameters(
  a: Record<string, unknown> | null | undefined,
  b: Record<string, unknown> | null | undefined,
): ParameterDiffRow[] {
  const left = a ?? {};
  const right = b ?? {};
  const names = [...new Set([...Object.keys(left), ...Object.keys(right)])].sort();
  return names.map((name) => {
    const inA = Object.hasOwn(left, name);
    const inB = Object.hasOwn(right, name);
    return {
      name,
      a: left[name],
      b: right[name],
      inA,
      inB,
      changed: inA !== inB || !sameValue(left[name], right[name]),
    };
  });
}

/** Deep equality of JSON values (key order does not matter). */
function sameValue(x: unknown, y: unknown): boolean {
  return canonical(x) === canonical(y);
}

function canonical(value: unknown): string {
  return (
    JSON.stringify(value, (_key, item: unknown) => {
      if (item && typeof item === 'object' && !Array.isArray(item)) {
        return Object.fromEntries(Object.entries(item).sort(([p], [q]) => (p < q ? -1 : 1)));
      }
      return item;
    }) ?? 'undefined'
  );
}
