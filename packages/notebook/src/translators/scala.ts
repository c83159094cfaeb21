/** Scala (also the `sparkkernel` kernel): `val` bindings, `Seq` and `Map`. */
import {
  baseSyntax,
  floatWithSpecials,
  intWithLongSuffix,
  type LanguageTranslator,
  lineComment,
  type ValueSyntax,
} from './translator.ts';

const scalaSyntax: ValueSyntax = {
  ...baseSyntax,
  int: intWithLongSuffix,
  float: floatWithSpecials({
    nan: 'Double.NaN',
    infinity: 'Double.PositiveInfinity',
    negativeInfinity: 'Double.NegativeInfinity',
  }),
  list: (items) => `Seq(${items.join(', ')})`,
  dict: (entries) =>
    `Map(${entries.map(([key, value]) => `${scalaSyntax.string(key)} -> ${value}`).join(', ')})`,
};

export const scalaTranslator: LanguageTranslator = {
  name: 'scala',
  syntax: scalaSyntax,
  comment: (text) => lineComment('//', text),
  assign: (name, valueText) => `val ${name} = ${valueText}`,
};
