/** R (also the `sparkrkernel` kernel). Lists and named lists are both R `list(...)`. */
import {
  baseSyntax,
  floatWithNanInf,
  type LanguageTranslator,
  lineComment,
  type ValueSyntax,
} from './translator.ts';

const rSyntax: ValueSyntax = {
  ...baseSyntax,
  none: () => 'NULL',
  bool: (value) => (value ? 'TRUE' : 'FALSE'),
  float: floatWithNanInf,
  list: (items) => `list(${items.join(', ')})`,
  dict: (entries) =>
    `list(${entries.map(([key, value]) => `${rSyntax.string(key)} = ${value}`).join(', ')})`,
};

export const rTranslator: LanguageTranslator = {
  name: 'R',
  syntax: rSyntax,
  comment: (text) => lineComment('#', text),
  // A leading '_' is not legal in an R name, so papermill drops them.
  assign: (name, valueText) => `${name.replace(/^_+/, '')} = ${valueText}`,
};
