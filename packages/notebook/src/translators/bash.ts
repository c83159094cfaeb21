/** Bash: shell-quoted words, arrays for lists, empty for null. Dicts are refused, as in papermill. */
import { UnsupportedParameterValueError } from './parameter-values.ts';
import { shellQuote } from './string-escapes.ts';
import {
  baseSyntax,
  type LanguageTranslator,
  lineComment,
  type ValueSyntax,
} from './translator.ts';

const bashSyntax: ValueSyntax = {
  ...baseSyntax,
  none: () => '',
  string: shellQuote,
  list: (items) => `(${items.join(' ')})`,
  dict: () => {
    throw new UnsupportedParameterValueError('dicts are not supported for bash parameters');
  },
};

export const bashTranslator: LanguageTranslator = {
  name: 'bash',
  syntax: bashSyntax,
  comment: (text) => lineComment('#', text),
  assign: (name, valueText) => `${name}=${valueText}`,
};
