/** Julia. */
import {
  baseSyntax,
  floatWithNanInf,
  type LanguageTranslator,
  lineComment,
  type ValueSyntax,
} from './translator.ts';

const juliaSyntax: ValueSyntax = {
  ...baseSyntax,
  none: () => 'nothing',
  float: floatWithNanInf,
  list: (items) => `[${items.join(', ')}]`,
  dict: (entries) =>
    `Dict(${entries.map(([key, value]) => `${juliaSyntax.string(key)} => ${value}`).join(', ')})`,
};

export const juliaTranslator: LanguageTranslator = {
  name: 'julia',
  syntax: juliaSyntax,
  comment: (text) => lineComment('#', text),
  assign: (name, valueText) => `${name} = ${valueText}`,
};
