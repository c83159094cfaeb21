/**
 * Which translator serves which kernel or language: one explicit table instead of papermill's
 * registry filled at import time. Keys are papermill's registrations (matched exactly, so `R`
 * is upper case as IRkernel reports it), plus the tslab kernels.
 */
import { bashTranslator } from './bash.ts';
import { csharpTranslator, fsharpTranslator, powershellTranslator } from './dotnet.ts';
import { juliaTranslator } from './julia.ts';
import { matlabTranslator } from './matlab.ts';
import { pythonTranslator } from './python.ts';
import { rTranslator } from './r.ts';
import { scalaTranslator } from './scala.ts';
import type { LanguageTranslator } from './translator.ts';
import { typescriptTranslator } from './typescript.ts';

export const TRANSLATORS: ReadonlyMap<string, LanguageTranslator> = new Map([
  ['python', pythonTranslator],
  ['R', rTranslator],
  ['scala', scalaTranslator],
  ['julia', juliaTranslator],
  ['matlab', matlabTranslator],
  ['.net-csharp', csharpTranslator],
  ['.net-fsharp', fsharpTranslator],
  ['.net-powershell', powershellTranslator],
  ['pysparkkernel', pythonTranslator],
  ['sparkkernel', scalaTranslator],
  ['sparkrkernel', rTranslator],
  ['bash', bashTranslator],
  ['tslab', typescriptTranslator],
  ['jslab', typescriptTranslator],
  ['typescript', typescriptTranslator],
  ['javascript', typescriptTranslator],
]);

/** Kernel names and languages that have a translator, in table order. */
export const SUPPORTED_KERNELS_AND_LANGUAGES: readonly string[] = [...TRANSLATORS.keys()];

/** No translator for the notebook's kernel or language. */
export class UnsupportedLanguageError extends Error {
  readonly code = 'unsupported_language';
  readonly kernelName: string | undefined;
  readonly language: string | undefined;
  constructor(kernelName: string | undefined, language: string | undefined) {
    super(
      `No parameter translator functions specified for kernel '${kernelName ?? ''}' or language '${language ?? ''}'; supported kernels and languages: ${SUPPORTED_KERNELS_AND_LANGUAGES.join(', ')}`,
    );
    this.name = 'UnsupportedLanguageError';
    this.kernelName = kernelName;
    this.language = language;
  }
}

/** papermill's `find_translator`: the kernel name wins, then the language. */
export function findTranslator(kernelName?: string, language?: string): LanguageTranslator {
  const translator =
    (kernelName !== undefined ? TRANSLATORS.get(kernelName) : undefined) ??
    (language !== undefined ? TRANSLATORS.get(language) : undefined);
  if (translator === undefined) throw new UnsupportedLanguageError(kernelName, language);
  return translator;
}
