/** Julia. */
import {
  baseSyntax,
  floatWithSpecials,
  type LanguageTranslator,
  lineComment,
  type ValueSyntax,
} from './translator.ts';

const juliaSyntax: ValueSyntax = {
  ...baseSyntax,
  none: () => 'nothing',
  float: floatWithSpecials({ nan: 'NaN', infinity: 'Inf', negativeInfinity: '-Inf' }),
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
