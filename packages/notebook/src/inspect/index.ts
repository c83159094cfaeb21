/** Reading a notebook's declared parameters, and the JSON Schema the API checks them with. */
export {
  type InspectOptions,
  type InspectResult,
  inspectParameters,
} from './inspect-parameters.ts';
export type { ParameterInfo } from './parameter-info.ts';
export { type ParametersSchemaOptions, parametersJsonSchema } from './parameters-json-schema.ts';
export { parsePythonLiteral } from './python-literal.ts';
export { type JsonSchema, pythonTypeSchema } from './python-type-schema.ts';
export { parseRLiteral } from './r-literal.ts';
