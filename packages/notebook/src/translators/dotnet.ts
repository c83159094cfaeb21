/** The .NET Interactive kernels: C#, F# and PowerShell. */
import { UnsupportedParameterValueError } from './parameter-values.ts';
import { doubleQuotedEscaped } from './string-escapes.ts';
import {
  baseSyntax,
  floatWithSpecials,
  intWithLongSuffix,
  type LanguageTranslator,
  lineComment,
  type ValueSyntax,
} from './translator.ts';

const csharpSyntax: ValueSyntax = {
  ...baseSyntax,
  none: () => {
    // papermill raises here too: an untyped `var x = null;` does not compile.
    throw new UnsupportedParameterValueError('null is not supported for C# parameters');
  },
  int: intWithLongSuffix,
  float: floatWithSpecials({
    nan: 'double.NaN',
    infinity: 'double.PositiveInfinity',
    negativeInfinity: 'double.NegativeInfinity',
  }),
  list: (items) => `new [] { ${items.join(', ')} }`,
  dict: (entries) => {
    const pairs = entries.map(([key, value]) => `{ ${csharpSyntax.string(key)} , ${value} }`);
    return `new Dictionary<string,Object>{ ${pairs.join(', ')} }`;
  },
};

export const csharpTranslator: LanguageTranslator = {
  name: '.net-csharp',
  syntax: csharpSyntax,
  comment: (text) => lineComment('//', text),
  assign: (name, valueText) => `var ${name} = ${valueText};`,
};

const fsharpSyntax: ValueSyntax = {
  ...baseSyntax,
  int: intWithLongSuffix,
  float: floatWithSpecials({ nan: 'nan', infinity: 'infinity', negativeInfinity: '-infinity' }),
  list: (items) => `[ ${items.join('; ')} ]`,
  dict: (entries) => {
    const tuples = entries.map(
      ([key, value]) => `(${fsharpSyntax.string(key)}, ${value} :> IComparable)`,
    );
    return `[ ${tuples.join('; ')} ] |> Map.ofList`;
  },
};

export const fsharpTranslator: LanguageTranslator = {
  name: '.net-fsharp',
  syntax: fsharpSyntax,
  comment: (text) => `(* ${text} *)`.trim(),
  assign: (name, valueText) => `let ${name} = ${valueText}`,
};

const powershellSyntax: ValueSyntax = {
  ...baseSyntax,
  none: () => '$Null',
  string: (text) => doubleQuotedEscaped(text, '`"'),
  bool: (value) => (value ? '$True' : '$False'),
  float: floatWithSpecials({
    nan: '[double]::NaN',
    infinity: '[double]::PositiveInfinity',
    negativeInfinity: '[double]::NegativeInfinity',
  }),
  list: (items) => `@(${items.join(', ')})`,
  // papermill separates hashtable entries with a newline and a space.
  dict: (entries) =>
    `@{${entries.map(([key, value]) => `${powershellSyntax.string(key)} = ${value}`).join('\n ')}}`,
};

export const powershellTranslator: LanguageTranslator = {
  name: '.net-powershell',
  syntax: powershellSyntax,
  comment: (text) => lineComment('#', text),
  assign: (name, valueText) => `$${name} = ${valueText}`,
};
