/**
 * Parameter translation: JSON-like values to the source of papermill's injected parameters cell.
 * See parameter-values.ts for how JavaScript numbers map to Python ints and floats.
 */
import { checkParameterNames } from './identifiers.ts';
import { findTranslator } from './registry.ts';
import { codify } from './translator.ts';

export { guessParameterType } from './guess-parameter-type.ts';
export {
  checkParameterNames,
  InvalidParameterNameError,
  MAX_PARAMETER_NAME_LENGTH,
  parameterNameProblem,
} from './identifiers.ts';
export {
  type ClassifiedValue,
  FloatValue,
  pythonFloat,
  UnsupportedParameterValueError,
} from './parameter-values.ts';
export {
  isArrayIndexKey,
  orderedObject,
  parseParametersJson,
  stringifyParametersJson,
} from './parameters-json.ts';
export { pythonFloatRepr } from './python-float-repr.ts';
export {
  findTranslator,
  SUPPORTED_KERNELS_AND_LANGUAGES,
  UnsupportedLanguageError,
} from './registry.ts';
export { type LanguageTranslator, renderValue, type ValueSyntax } from './translator.ts';

/**
 * papermill's `translate_parameters`: a comment line (`# Parameters` in Python) and one
 * assignment per parameter in insertion order, every line ending in `\n`.
 *
 * @throws UnsupportedLanguageError when neither kernelName nor language has a translator.
 * @throws InvalidParameterNameError for a name that is not a variable name of the language (a
 *   name is written into the cell verbatim: anything else would be code).
 * @throws UnsupportedParameterValueError for values the language cannot express (C# null,
 *   bash dicts) or that are not JSON-like.
 */
export function translateParameters(args: {
  kernelName?: string;
  language?: string;
  parameters: Record<string, unknown>;
  comment?: string;
}): string {
  const translator = findTranslator(args.kernelName, args.language);
  checkParameterNames(translator, Object.keys(args.parameters));
  return codify(translator, args.parameters, args.comment ?? 'Parameters');
}
