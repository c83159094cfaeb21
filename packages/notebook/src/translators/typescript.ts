/**
 * TypeScript and JavaScript (the `tslab` and `jslab` kernels), which papermill lacks.
 *
 * Each parameter becomes `let name = <literal>;`. `let`, not `const`: tslab lets a later cell
 * redeclare a name, and a notebook may reassign a parameter after normalising it. The literal is
 * JSON-like and typechecks with no annotations; numbers are plain JavaScript numbers (a
 * `FloatValue` is just its number, JavaScript has no float type), ints beyond 2^53 are bigints
 * (`123n`), and non-finite numbers are `NaN`, `Infinity`, `-Infinity`.
 */
import { type LanguageTranslator, lineComment, type ValueSyntax } from './translator.ts';

function propertyKey(key: string): string {
  // A quoted "__proto__" key in an object literal sets the prototype; a computed key does not.
  return key === '__proto__' ? `[${JSON.stringify(key)}]` : JSON.stringify(key);
}

const typescriptSyntax: ValueSyntax = {
  none: () => 'null',
  string: (text) => JSON.stringify(text),
  bool: (value) => (value ? 'true' : 'false'),
  int: (value) =>
    value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
      ? value.toString()
      : `${value}n`,
  float: (value) => (Object.is(value, -0) ? '-0' : String(value)),
  list: (items) => `[${items.join(', ')}]`,
  dict: (entries) =>
    `{${entries.map(([key, value]) => `${propertyKey(key)}: ${value}`).join(', ')}}`,
};

export const typescriptTranslator: LanguageTranslator = {
  name: 'typescript',
  syntax: typescriptSyntax,
  comment: (text) => lineComment('//', text),
  assign: (name, valueText) => `let ${name} = ${valueText};`,
};
