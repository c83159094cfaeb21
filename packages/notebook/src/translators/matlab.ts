/** MATLAB: string scalars for values, char arrays for `containers.Map` keys, `;` after each line. */
import { doubleQuotedEscaped, singleQuotedEscaped } from './string-escapes.ts';
import {
  baseSyntax,
  floatWithNanInf,
  type LanguageTranslator,
  lineComment,
  type ValueSyntax,
} from './translator.ts';

const matlabSyntax: ValueSyntax = {
  ...baseSyntax,
  none: () => 'NaN',
  string: (text) => doubleQuotedEscaped(text, '""'),
  float: floatWithNanInf,
  list: (items) => `{${items.join(', ')}}`,
  dict: (entries) => {
    const keys = entries.map(([key]) => singleQuotedEscaped(key)).join(', ');
    const values = entries.map(([, value]) => value).join(', ');
    return `containers.Map({${keys}}, {${values}})`;
  },
};

export const matlabTranslator: LanguageTranslator = {
  name: 'matlab',
  syntax: matlabSyntax,
  comment: (text) => lineComment('%', text),
  // papermill adds the ';' in codify rather than assign; the line is the same.
  assign: (name, valueText) => `${name} = ${valueText};`,
};
