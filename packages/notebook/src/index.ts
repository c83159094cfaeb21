export type { BuiltinParameterSources, PapermillBuiltins } from './builtin-parameters.ts';
export { addBuiltinParameters, PythonDateTime } from './builtin-parameters.ts';
export { deterministicCellId, ensureCellIds, upgradeToCurrentMinor } from './cell-ids.ts';
export {
  addErrorMarkers,
  ERROR_ANCHOR_MARKDOWN,
  ERROR_MARKER_TAG,
  type ErrorMarker,
  errorMessageMarkdown,
  readErrorMarker,
  removeErrorMarkers,
} from './error-markers.ts';
export { NotebookFormatError } from './format-error.ts';
export * from './inspect/index.ts';
export type * from './nbformat.ts';
export type * from './nbformat-file.ts';
export {
  loadAsPapermill,
  PAPERMILL_COMPATIBLE_VERSION,
  type PapermillPrepareOptions,
  prepareAsPapermill,
} from './papermill-prepare.ts';
export {
  collectParameters,
  PARAMETER_FLAGS,
  PARAMETER_FLAGS_PARSING,
  ParameterInputError,
  type ParameterSources,
  type ParameterValues,
  parameterFlagMessage,
  parameterFlagSources,
  yamlMapping,
} from './parameter-sources.ts';
export type { ParameterizeOptions, ParameterizeResult } from './parameterize.ts';
export {
  hasTag,
  INJECTED_PARAMETERS_TAG,
  notebookKernelName,
  notebookLanguage,
  PARAMETERS_TAG,
  parameterize,
} from './parameterize.ts';
export {
  MissingParameterError,
  PathTemplateError,
  parameterizePath,
  pythonRepr,
  pythonStr,
} from './path-template.ts';
export { pythonJsonLoads } from './python-json.ts';
export { parseNotebook, readNotebook } from './read.ts';
export * from './translators/index.ts';
export type { IdPolicy } from './validate.ts';
export { validateNotebook } from './validate.ts';
export { serializeNotebook, serializeNotebookChunks } from './write.ts';
