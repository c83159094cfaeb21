/**
 * Parameters from a command line, merged as papermill's CLI merges them: each source in a fixed
 * order, later sources overriding earlier ones whatever their order on the command line:
 *   --inject-* paths < -b base64 YAML < -f YAML files < -y YAML strings < -p guessed < -r raw.
 * nes-run and the `nes` commands both declare and read their flags here (PARAMETER_FLAGS), so the
 * same flags give the same values.
 * Pure: a parameters file is read through the caller's `readFile`.
 */
import { parse as parseYaml, type Tags } from 'yaml';
import { guessParameterType } from './translators/guess-parameter-type.ts';
import { FloatValue, pythonFloat } from './translators/parameter-values.ts';
import { orderedObject } from './translators/parameters-json.ts';

/**
 * Parameter values as the translators take them: JSON-like values, where an integer too large
 * for a JS number is a `bigint` and a float is a `FloatValue` (so `1.0` stays `1.0`).
 */
export type ParameterValues = Record<string, unknown>;

/** A flag's value that is not what it must be; the message names the flag. A usage error. */
export class ParameterInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ParameterInputError';
  }
}

export interface ParameterSources {
  inputPath: string;
  outputPath: string;
  injectInputPath: boolean;
  injectOutputPath: boolean;
  base64: string[];
  files: string[];
  yaml: string[];
  /** `-p NAME VALUE` pairs, values type-guessed. */
  guessed: Array<[string, string]>;
  /** `-r NAME VALUE` pairs, values kept as strings. */
  raw: Array<[string, string]>;
}

/**
 * The parameter flags, as nes-run and the `nes` commands that take parameters both declare them:
 * papermill's names, letters and meaning, one help text. Plain yargs option declarations (this
 * package imports no command-line library). Values are words, never converted by the parser:
 * `-p NAME VALUE` takes exactly the next two, even one that starts with a dash (with yargs's
 * `nargs-eats-options`); each flag is repeatable.
 */
export const PARAMETER_FLAGS = {
  parameters: {
    alias: 'p',
    type: 'string',
    nargs: 2,
    describe:
      'NAME VALUE: parameter, type guessed like papermill (True/False/None, int, float, else string). Repeatable.',
  },
  parameters_raw: {
    alias: 'r',
    type: 'string',
    nargs: 2,
    describe: 'NAME VALUE: parameter kept as a string. Repeatable.',
  },
  parameters_file: {
    alias: 'f',
    type: 'string',
    describe: 'Path to a YAML file of parameters. Repeatable.',
  },
  parameters_yaml: {
    alias: 'y',
    type: 'string',
    describe: 'YAML string of parameters. Repeatable.',
  },
  parameters_base64: {
    alias: 'b',
    type: 'string',
    describe: 'Base64-encoded YAML string of parameters. Repeatable.',
  },
} as const;

/**
 * The yargs parser configuration the parameter flags need to read as papermill's click does:
 * values stay words (no number parsing: type guessing is papermill's), `-p NAME VALUE` takes the
 * next two words even when one starts with a dash, a repeated flag is a list, names are kept as
 * typed (no camelCase or dotted expansion), aliases are not duplicated in the result.
 */
export const PARAMETER_FLAGS_PARSING = {
  'parse-numbers': false,
  'parse-positional-numbers': false,
  'nargs-eats-options': true,
  'camel-case-expansion': false,
  'dot-notation': false,
  'duplicate-arguments-array': true,
  'flatten-duplicate-arrays': true,
  'strip-aliased': true,
} as const;

/**
 * The parameter flags as sources, from the parsed command line (the PARAMETER_FLAGS keys: one
 * word or several per flag). A `-p`/`-r` without NAME VALUE is an input error.
 */
export function parameterFlagSources(
  flags: Readonly<Record<string, unknown>>,
): Pick<ParameterSources, 'base64' | 'files' | 'yaml' | 'guessed' | 'raw'> {
  return {
    base64: words(flags.parameters_base64),
    files: words(flags.parameters_file),
    yaml: words(flags.parameters_yaml),
    guessed: parameterPairs(flags.parameters, '-p/--parameters'),
    raw: parameterPairs(flags.parameters_raw, '-r/--parameters_raw'),
  };
}

/** yargs's "Not enough arguments following: p" in the words of the flag; else undefined. */
export function parameterFlagMessage(yargsMessage: string): string | undefined {
  const flag = /^Not enough arguments following: (\S+)/.exec(yargsMessage)?.[1];
  if (flag === 'p' || flag === 'parameters') return '-p/--parameters takes two values: NAME VALUE';
  if (flag === 'r' || flag === 'parameters_raw') {
    return '-r/--parameters_raw takes two values: NAME VALUE';
  }
  return undefined;
}

function words(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

export function collectParameters(
  src: ParameterSources,
  readFile: (path: string) => string,
): ParameterValues {
  const params: ParameterValues = {};
  if (src.injectInputPath) params.PAPERMILL_INPUT_PATH = src.inputPath;
  if (src.injectOutputPath) params.PAPERMILL_OUTPUT_PATH = src.outputPath;
  for (const encoded of src.base64) {
    Object.assign(params, yamlMapping(decodeBase64(encoded), '-b/--parameters_base64'));
  }
  for (const file of src.files) {
    let text: string;
    try {
      text = readFile(file);
    } catch (err) {
      throw new ParameterInputError(
        `cannot read parameters file ${file}: ${(err as Error).message}`,
      );
    }
    Object.assign(params, yamlMapping(text, `parameters file ${file}`));
  }
  for (const text of src.yaml) Object.assign(params, yamlMapping(text, '-y/--parameters_yaml'));
  for (const [name, value] of src.guessed) params[name] = guessParameterType(value);
  for (const [name, value] of src.raw) params[name] = value;
  return params;
}

/** `-p`/`-r` words as NAME VALUE pairs, each NAME a valid parameter name. */
function parameterPairs(value: unknown, flag: string): Array<[string, string]> {
  const given = words(value);
  const out: Array<[string, string]> = [];
  for (let i = 0; i < given.length; i += 2) {
    const name = given[i] ?? '';
    const v = given[i + 1];
    if (v === undefined) {
      throw new ParameterInputError(`${flag} takes two values: NAME VALUE (no value for ${name})`);
    }
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new ParameterInputError(`${flag}: "${name}" is not a valid parameter name`);
    }
    out.push([name, v]);
  }
  return out;
}

function decodeBase64(encoded: string): string {
  const compact = encoded.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(compact) || compact.length % 4 === 1) {
    throw new ParameterInputError('-b/--parameters_base64: the value is not base64');
  }
  // Read as Node's Buffer reads base64: the URL-safe letters and missing padding are accepted.
  const standard = compact.replaceAll('-', '+').replaceAll('_', '/');
  const padded = standard.padEnd(Math.ceil(standard.length / 4) * 4, '=');
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/**
 * YAML as papermill reads it: YAML 1.1 (PyYAML's safe loader: yes/no/on/off are booleans,
 * 010 is octal) with timestamps left as strings (papermill's NoDatesSafeLoader). An empty
 * document is no parameters; anything but a mapping is a usage error.
 */
export function yamlMapping(text: string, what: string): ParameterValues {
  let value: unknown;
  try {
    // Mappings as Maps: a YAML mapping keeps its order, even keys like "1" a JS object reorders.
    value = parseYaml(text, {
      version: '1.1',
      intAsBigInt: true,
      customTags: pythonTags,
      mapAsMap: true,
    });
  } catch (err) {
    const first = ((err as Error).message.split('\n')[0] ?? '').trim();
    throw new ParameterInputError(`${what}: invalid YAML: ${first}`);
  }
  if (value === null || value === undefined) return {};
  if (!(value instanceof Map)) {
    throw new ParameterInputError(
      `${what}: expected a mapping of parameter names to values, got ${kindOf(value)}`,
    );
  }
  // Parameter names are identifiers: the top level is a plain object.
  const top: ParameterValues = {};
  for (const [name, item] of value) top[String(name)] = toJson(item, what, String(name));
  return top;
}

const TIMESTAMP = 'tag:yaml.org,2002:timestamp';
const FLOAT = 'tag:yaml.org,2002:float';
const BOOL = 'tag:yaml.org,2002:bool';
// PyYAML's booleans: YAML 1.1's, without the single letters y/Y/n/N.
const PY_TRUE = /^(?:[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/;
const PY_FALSE = /^(?:[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/;

/**
 * PyYAML's reading: no timestamps, no y/n booleans, and floats marked as floats (YAML `1.0` is
 * Python float 1.0, not int 1).
 */
function pythonTags(tags: Tags): Tags {
  const out: Tags = [];
  for (const tag of tags) {
    if (typeof tag === 'string' || tag.tag === TIMESTAMP) continue;
    const resolve = tag.resolve;
    if (tag.tag === BOOL && 'test' in tag && tag.test instanceof RegExp) {
      out.push({
        ...tag,
        test: tag.test.source.includes('rue') ? PY_TRUE : PY_FALSE,
      } as typeof tag);
    } else if (
      tag.tag === FLOAT &&
      resolve !== undefined &&
      !('collection' in tag && tag.collection)
    ) {
      out.push({
        ...tag,
        resolve: (...args: unknown[]) => {
          const r = (resolve as (...a: unknown[]) => unknown)(...args);
          const n =
            typeof r === 'object' && r !== null && 'value' in r ? Number(r.value) : Number(r);
          return pythonFloat(n);
        },
      } as typeof tag);
    } else {
      out.push(tag);
    }
  }
  return out;
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'bigint') return `an integer (${value})`;
  return `a ${typeof value} (${JSON.stringify(value)})`;
}

function toJson(value: unknown, what: string, path: string): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number' || value instanceof FloatValue) return value;
  if (typeof value === 'bigint') {
    return value >= Number.MIN_SAFE_INTEGER && value <= Number.MAX_SAFE_INTEGER
      ? Number(value)
      : value;
  }
  if (Array.isArray(value)) return value.map((item, i) => toJson(item, what, `${path}[${i}]`));
  if (value instanceof Map) {
    return orderedObject(
      [...value].map(([k, v]) => {
        const key = String(k);
        return [key, toJson(v, what, path ? `${path}.${key}` : key)] as const;
      }),
    );
  }
  throw new ParameterInputError(
    `${what}: value at ${path || 'top level'} is not a plain YAML scalar, list or mapping`,
  );
}
