/**
 * The shape of a language translator and the one recursive walk they all share.
 *
 * papermill's translators are classes overriding `translate_<type>`, `comment` and `assign`;
 * here a translator is a plain object with the same pieces, and `renderValue` / `codify` do the
 * dispatch that papermill's base class does.
 */
import { classifyValue, UnsupportedParameterValueError } from './parameter-values.ts';
import { pythonFloatStr } from './python-float-repr.ts';
import { doubleQuotedEscaped } from './string-escapes.ts';

/** How one language spells each JSON type. Containers receive already-rendered children. */
export interface ValueSyntax {
  none(): string;
  string(text: string): string;
  bool(value: boolean): string;
  int(value: bigint): string;
  float(value: number): string;
  list(items: string[]): string;
  /** Keys are raw strings (each language quotes its own keys); values are rendered. */
  dict(entries: Array<readonly [key: string, value: string]>): string;
}

export interface LanguageTranslator {
  /** A label for messages, e.g. `python`. */
  readonly name: string;
  readonly syntax: ValueSyntax;
  comment(text: string): string;
  /** One full statement line, without the newline. */
  assign(name: string, valueText: string): string;
}

/** Render any JSON-like value in `syntax`, as papermill's `Translator.translate` does. */
export function renderValue(syntax: ValueSyntax, value: unknown): string {
  const classified = classifyValue(value);
  switch (classified.kind) {
    case 'none':
      return syntax.none();
    case 'string':
      return syntax.string(classified.value);
    case 'bool':
      return syntax.bool(classified.value);
    case 'int':
      return syntax.int(classified.value);
    case 'float':
      return syntax.float(classified.value);
    case 'list':
      return syntax.list(classified.items.map((item) => renderValue(syntax, item)));
    case 'dict':
      return syntax.dict(
        classified.entries.map(([key, item]) => [key, renderValue(syntax, item)] as const),
      );
  }
}

/** papermill's `codify`: the comment line, then one assignment per parameter, each ending in \n. */
export function codify(
  translator: LanguageTranslator,
  parameters: Record<string, unknown>,
  comment: string,
): string {
  let content = `${translator.comment(comment)}\n`;
  for (const [name, value] of Object.entries(parameters)) {
    content += `${translator.assign(name, renderValue(translator.syntax, value))}\n`;
  }
  return content;
}

/** papermill's comment helper: prefix, text, and `.strip()` of the whole line (so `''` gives `#`). */
export function lineComment(prefix: string, text: string): string {
  return `${prefix} ${text}`.trim();
}

/**
 * papermill's base `Translator` behaviour, which most languages inherit: Python's `str()` for
 * None, ints and floats, lowercase booleans, escaped double-quoted strings, `name = value`.
 * Containers are left to each language (papermill raises NotImplementedError in the base).
 */
export const baseSyntax: ValueSyntax = {
  none: () => 'None',
  string: (text) => doubleQuotedEscaped(text),
  bool: (value) => (value ? 'true' : 'false'),
  int: (value) => value.toString(),
  float: (value) => pythonFloatStr(value),
  list: () => {
    throw new UnsupportedParameterValueError('lists are not supported for this language');
  },
  dict: () => {
    throw new UnsupportedParameterValueError('dicts are not supported for this language');
  },
};

/**
 * For non-finite floats papermill's base class writes Python's `nan`/`inf`/`-inf`, which most
 * languages cannot read. NES writes each language's own constants instead (a deliberate
 * departure; JSON cannot carry these values, so only programmatic callers ever see it).
 */
export function floatWithSpecials(specials: {
  nan: string;
  infinity: string;
  negativeInfinity: string;
}): (value: number) => string {
  return (value) => {
    if (Number.isNaN(value)) return specials.nan;
    if (value === Number.POSITIVE_INFINITY) return specials.infinity;
    if (value === Number.NEGATIVE_INFINITY) return specials.negativeInfinity;
    return pythonFloatStr(value);
  };
}

/** Floats in the languages that spell the IEEE specials `NaN`, `Inf` and `-Inf`: R, Julia, MATLAB. */
export const floatWithNanInf = floatWithSpecials({
  nan: 'NaN',
  infinity: 'Inf',
  negativeInfinity: '-Inf',
});

/** Several JVM/.NET languages suffix integers outside the 32-bit range with `L`. */
export function intWithLongSuffix(value: bigint): string {
  return value > 2147483647n || value < -2147483648n ? `${value}L` : value.toString();
}
