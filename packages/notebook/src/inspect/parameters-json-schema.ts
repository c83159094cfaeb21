/**
 * A draft 2020-12 JSON Schema for a notebook's parameters, so the API can reject bad parameters
 * with a 422 before anything runs.
 *
 * - Types come only from annotations and `# type:` comments. An unannotated `x = 1` stays
 *   unconstrained: papermill accepts `x = 0.5` there, and so must NES.
 * - `default` is set when the default's source is a literal JSON can hold.
 * - A `None` default widens the type with null (`x: str = None` is the usual "optional" idiom).
 * - No parameter is required (each has a default in the notebook). Unknown names are refused
 *   unless `allowUnknown`: papermill only warns about them, but a typo silently ignored is the
 *   commonest failed run.
 */
import type { JsonValue } from '../nbformat.ts';
import type { ParameterInfo } from './parameter-info.ts';
import { parsePythonLiteral } from './python-literal.ts';
import { type JsonSchema, pythonTypeSchema } from './python-type-schema.ts';
import { parseRLiteral } from './r-literal.ts';

export interface ParametersSchemaOptions {
  /** Accept parameters the notebook does not declare (papermill's behaviour). Default false. */
  allowUnknown?: boolean;
}

function withNull(schema: JsonSchema): JsonSchema {
  if ('const' in schema) return { anyOf: [schema, { type: 'null' }] };
  if (Array.isArray(schema.enum)) {
    return schema.enum.includes(null) ? schema : { ...schema, enum: [...schema.enum, null] };
  }
  if (Array.isArray(schema.anyOf)) {
    return { ...schema, anyOf: [...schema.anyOf, { type: 'null' }] };
  }
  const { type } = schema;
  if (typeof type === 'string')
    return type === 'null' ? schema : { ...schema, type: [type, 'null'] };
  if (Array.isArray(type))
    return type.includes('null') ? schema : { ...schema, type: [...type, 'null'] };
  return schema; // unconstrained already admits null
}

function parameterSchema(parameter: ParameterInfo, language: string | undefined): JsonSchema {
  let schema = parameter.type === null ? {} : pythonTypeSchema(parameter.type);
  const parse = language === 'R' ? parseRLiteral : parsePythonLiteral;
  const defaultValue: JsonValue | undefined = parse(parameter.default);
  if (defaultValue === null) schema = withNull(schema);
  if (parameter.help !== '') schema.description = parameter.help;
  if (defaultValue !== undefined) schema.default = defaultValue;
  return schema;
}

export function parametersJsonSchema(
  info: { language?: string; parameters: ParameterInfo[] },
  options: ParametersSchemaOptions = {},
): JsonSchema {
  const properties: JsonSchema = {};
  for (const parameter of info.parameters) {
    properties[parameter.name] = parameterSchema(parameter, info.language);
  }
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    properties,
    additionalProperties: options.allowUnknown ?? false,
  };
}
