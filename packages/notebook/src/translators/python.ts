/**
 * Python (also the `pysparkkernel` kernel). Output matches papermill without `black` installed:
 * papermill reformats with black only when it happens to be importable, and NES never does.
 */
import { pythonFloatRepr } from './python-float-repr.ts';
import {
  baseSyntax,
  type LanguageTranslator,
  lineComment,
  type ValueSyntax,
} from './translator.ts';

const pythonSyntax: ValueSyntax = {
  ...baseSyntax,
  bool: (value) => (value ? 'True' : 'False'),
  float: (value) => {
    if (Number.isFinite(value)) return pythonFloatRepr(value);
    if (Number.isNaN(value)) return "float('nan')";
    return value < 0 ? "float('-inf')" : "float('inf')";
  },
  list: (items) => `[${items.join(', ')}]`,
  dict: (entries) =>
    `{${entries.map(([key, value]) => `${pythonSyntax.string(key)}: ${value}`).join(', ')}}`,
};

export const pythonTranslator: LanguageTranslator = {
  name: 'python',
  syntax: pythonSyntax,
  comment: (text) => lineComment('#', text),
  assign: (name, valueText) => `${name} = ${valueText}`,
};
