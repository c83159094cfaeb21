/**
 * Which parameter names each language can take as a variable name.
 *
 * papermill writes a parameter's name into the injected cell verbatim, so a name such as
 * `__import__('os').system('id'); y` or one with a newline is code, not a name. NES refuses
 * every name that is not a plain identifier of the kernel's language (and not one of its
 * reserved words) before anything is stored or injected. The rules are each language's own
 * identifier syntax, kept to the plain (unquoted, non-operator) form:
 * - Python: `str.isidentifier()` (XID_Start or `_`, then XID_Continue) minus `keyword.kwlist`;
 * - R: a syntactic name (letters, digits, `.`, `_`; starts with a letter or a `.` not followed
 *   by a digit) minus `?Reserved`, after papermill's R translator drops leading underscores;
 * - Julia, Scala, C#, F#, PowerShell, MATLAB, bash, TypeScript/JavaScript: their identifier
 *   grammars (letters of any script where the language allows them) minus reserved words.
 */
import type { LanguageTranslator } from './translator.ts';

interface NameRule {
  pattern: RegExp;
  reserved: ReadonlySet<string>;
  /** What the rule is, for the error message. */
  describe: string;
  /** The name as the translator writes it (R drops leading underscores). */
  normalize?: (name: string) => string;
}

const words = (text: string): ReadonlySet<string> => new Set(text.trim().split(/\s+/));

const PYTHON = words(`False None True and as assert async await break class continue def del
  elif else except finally for from global if import in is lambda nonlocal not or pass raise
  return try while with yield`);
const R = words(`if else repeat while function for in next break TRUE FALSE NULL Inf NaN NA
  NA_integer_ NA_real_ NA_character_ NA_complex_`);
const JULIA = words(`baremodule begin break catch const continue do else elseif end export false
  finally for function global if import let local macro module quote return struct true try
  using while abstract mutable primitive type where outer public`);
const SCALA = words(`abstract case catch class def do else enum export extends false final
  finally for forSome given if implicit import lazy macro match new null object override package
  private protected return sealed super then this throw trait true try type val var while with
  yield _`);
const CSHARP = words(`abstract as base bool break byte case catch char checked class const
  continue decimal default delegate do double else enum event explicit extern false finally fixed
  float for foreach goto if implicit in int interface internal is lock long namespace new null
  object operator out override params private protected public readonly ref return sbyte sealed
  short sizeof stackalloc static string struct switch this throw true try typeof uint ulong
  unchecked unsafe ushort using virtual void volatile while var`);
const FSHARP = words(`abstract and as assert base begin class default delegate do done downcast
  downto elif else end exception extern false finally fixed for fun function global if in inherit
  inline interface internal lazy let match member module mutable namespace new not null of open
  or override private public rec return select sig static struct then to true try type upcast
  use val void when while with yield const`);
const MATLAB = words(`break case catch classdef continue else elseif end for function global if
  otherwise parfor persistent return spmd switch try while`);
const BASH = words(`_`);
// ECMAScript reserved words, strict-mode ones, and the names a `let` cannot bind.
const JAVASCRIPT = words(`break case catch class const continue debugger default delete do else
  enum export extends false finally for function if import in instanceof new null return super
  switch this throw true try typeof var void while with yield let static implements interface
  package private protected public await arguments eval undefined NaN Infinity`);
const NONE: ReadonlySet<string> = new Set();

const ASCII_WORD = /^[A-Za-z_][A-Za-z0-9_]*$/;

const RULES: Record<string, NameRule> = {
  python: {
    pattern: /^[\p{XID_Start}_][\p{XID_Continue}]*$/u,
    reserved: PYTHON,
    describe: 'a Python identifier (a letter or "_", then letters, digits or "_")',
  },
  R: {
    pattern: /^(?:\p{L}|\.(?![0-9]))[\p{L}\p{N}._]*$/u,
    reserved: R,
    describe:
      'an R name (a letter, or "." not followed by a digit, then letters, digits, "." or "_")',
    normalize: (name) => name.replace(/^_+/, ''),
  },
  julia: {
    pattern: /^[\p{L}_][\p{L}\p{N}_!]*$/u,
    reserved: JULIA,
    describe: 'a Julia identifier (a letter or "_", then letters, digits, "_" or "!")',
  },
  scala: {
    pattern: /^[\p{L}_$][\p{L}\p{N}_$]*$/u,
    reserved: SCALA,
    describe: 'a Scala identifier (a letter or "_", then letters, digits or "_")',
  },
  '.net-csharp': {
    pattern: /^[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*$/u,
    reserved: CSHARP,
    describe: 'a C# identifier (a letter or "_", then letters, digits or "_")',
  },
  '.net-fsharp': {
    pattern: /^[\p{L}_][\p{L}\p{N}_']*$/u,
    reserved: FSHARP,
    describe: 'an F# identifier (a letter or "_", then letters, digits, "_" or "\'")',
  },
  '.net-powershell': {
    pattern: /^[\p{L}\p{N}_]+$/u,
    reserved: NONE,
    describe: 'a PowerShell variable name (letters, digits or "_")',
  },
  matlab: {
    pattern: /^[A-Za-z][A-Za-z0-9_]{0,62}$/,
    reserved: MATLAB,
    describe: 'a MATLAB variable name (an ASCII letter, then letters, digits or "_"; at most 63)',
  },
  bash: {
    pattern: ASCII_WORD,
    reserved: BASH,
    describe: 'a shell variable name (an ASCII letter or "_", then letters, digits or "_")',
  },
  typescript: {
    pattern: /^[\p{ID_Start}_$][\p{ID_Continue}$\u200c\u200d]*$/u,
    reserved: JAVASCRIPT,
    describe: 'a JavaScript identifier (a letter, "_" or "$", then letters, digits, "_" or "$")',
  },
};

/** Every name longer than this is refused whatever the language (nobody types 256 characters). */
export const MAX_PARAMETER_NAME_LENGTH = 255;

/**
 * Why `name` cannot be a parameter of `translator`'s language, or null when it can. Without a
 * translator (a language NES cannot inject into) only plain ASCII identifiers pass.
 */
export function parameterNameProblem(
  translator: LanguageTranslator | null,
  name: string,
): string | null {
  const rule = translator === null ? undefined : RULES[translator.name];
  const shown = JSON.stringify(name);
  if (name.length === 0) return 'a parameter name cannot be empty';
  if (name.length > MAX_PARAMETER_NAME_LENGTH) {
    return `parameter name ${JSON.stringify(name.slice(0, 40))}… is longer than ${MAX_PARAMETER_NAME_LENGTH} characters`;
  }
  if (rule === undefined) {
    return ASCII_WORD.test(name) ? null : `parameter name ${shown} is not a plain identifier`;
  }
  const written = rule.normalize?.(name) ?? name;
  if (!rule.pattern.test(written)) {
    return `parameter name ${shown} is not ${rule.describe}`;
  }
  if (rule.reserved.has(written)) {
    return `parameter name ${shown} is a reserved word in ${(translator as LanguageTranslator).name}`;
  }
  return null;
}

/** A parameter name the kernel's language cannot take as a variable name. */
export class InvalidParameterNameError extends Error {
  readonly code = 'invalid_parameter_name';
  readonly parameterName: string;
  constructor(name: string, message: string) {
    super(message);
    this.name = 'InvalidParameterNameError';
    this.parameterName = name;
  }
}

/** @throws InvalidParameterNameError naming the first bad name. */
export function checkParameterNames(translator: LanguageTranslator, names: Iterable<string>): void {
  for (const name of names) {
    const problem = parameterNameProblem(translator, name);
    if (problem !== null) throw new InvalidParameterNameError(name, problem);
  }
}
