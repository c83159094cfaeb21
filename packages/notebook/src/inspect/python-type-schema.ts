/**
 * A Python type annotation's text (`int`, `List[str]`, `Optional[float]`, `int | None`,
 * `Literal['a', 'b']`) as a JSON Schema. Types JSON cannot check (`datetime`, `pd.DataFrame`)
 * become `{}`: unconstrained, because rejecting a run on a guess would be worse than letting the
 * notebook decide.
 */
import type { JsonObject, JsonValue } from '../nbformat.ts';
import { parsePythonLiteral } from './python-literal.ts';

export type JsonSchema = JsonObject;

type TypeNode = { name: string; args: TypeNode[] } | { literal: JsonValue };

const TOKEN =
  /\s*(?:(?<name>[A-Za-z_][\w.]*)|(?<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(?<number>-?\d[\d.eE+-]*)|(?<punct>[[\],|]))/y;

function tokenize(text: string): string[] | undefined {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    const start = TOKEN.lastIndex;
    const match = TOKEN.exec(text);
    if (match === null) return text.slice(start).trim() === '' ? tokens : undefined;
    tokens.push(match[0].trim());
  }
  return tokens;
}

function parseType(tokens: string[]): TypeNode | undefined {
  let position = 0;
  const union = (): TypeNode | undefined => {
    const members: TypeNode[] = [];
    for (;;) {
      const member = single();
      if (member === undefined) return undefined;
      members.push(member);
      if (tokens[position] !== '|') break;
      position += 1;
    }
    return members.length === 1 ? members[0] : { name: 'Union', args: members };
  };
  const single = (): TypeNode | undefined => {
    const token = tokens[position];
    if (token === undefined) return undefined;
    position += 1;
    if (/^['"\d-]/.test(token)) return { literal: parsePythonLiteral(token) ?? null };
    if (!/^[A-Za-z_]/.test(token)) return undefined;
    const args: TypeNode[] = [];
    if (tokens[position] === '[') {
      position += 1;
      while (tokens[position] !== ']') {
        const argument = union();
        if (argument === undefined) return undefined;
        args.push(argument);
        if (tokens[position] === ',') position += 1;
        else if (tokens[position] !== ']') return undefined;
      }
      position += 1;
    }
    // `typing.List`, `t.Optional`, `np.float64` are named by their last part.
    return { name: token.slice(token.lastIndexOf('.') + 1), args };
  };
  const node = union();
  return position === tokens.length ? node : undefined;
}

const SCALARS: Readonly<Record<string, JsonSchema>> = {
  int: { type: 'integer' },
  float: { type: 'number' },
  str: { type: 'string' },
  bool: { type: 'boolean' },
  None: { type: 'null' },
  NoneType: { type: 'null' },
};
const ARRAYS = new Set(['list', 'List', 'Sequence', 'MutableSequence', 'Iterable', 'Collection']);
const SETS = new Set(['set', 'Set', 'frozenset', 'FrozenSet', 'AbstractSet', 'MutableSet']);
const TUPLES = new Set(['tuple', 'Tuple']);
const MAPPINGS = new Set(['dict', 'Dict', 'Mapping', 'MutableMapping']);

/** `anyOf` of plain `{type}` schemas collapses to `{type: [...]}`. */
function anyOf(members: JsonSchema[]): JsonSchema {
  if (members.some((member) => Object.keys(member).length === 0)) return {};
  const simpleTypes = members.every(
    (member) => Object.keys(member).length === 1 && typeof member.type === 'string',
  );
  if (simpleTypes) return { type: [...new Set(members.map((member) => member.type ?? null))] };
  return { anyOf: members };
}

/** `Literal[None, True, 'a']` members: names there are the constants None/True/False. */
function literalMember(node: TypeNode): JsonValue {
  if ('literal' in node) return node.literal;
  const constants: Readonly<Record<string, JsonValue>> = { None: null, True: true, False: false };
  return node.name in constants ? (constants[node.name] ?? null) : node.name;
}

function schemaOf(node: TypeNode): JsonSchema {
  if ('literal' in node) return { const: node.literal };
  const { name, args } = node;
  const [first, second] = args;
  const scalar = SCALARS[name];
  if (scalar !== undefined) return { ...scalar };
  if (ARRAYS.has(name))
    return first ? { type: 'array', items: schemaOf(first) } : { type: 'array' };
  if (SETS.has(name)) {
    return first
      ? { type: 'array', uniqueItems: true, items: schemaOf(first) }
      : { type: 'array', uniqueItems: true };
  }
  if (TUPLES.has(name)) {
    if (args.length === 0) return { type: 'array' };
    if (args.length === 2 && second && 'name' in second && second.name === 'Ellipsis') {
      return first ? { type: 'array', items: schemaOf(first) } : { type: 'array' };
    }
    return {
      type: 'array',
      prefixItems: args.map(schemaOf),
      minItems: args.length,
      maxItems: args.length,
    };
  }
  if (MAPPINGS.has(name)) {
    return second ? { type: 'object', additionalProperties: schemaOf(second) } : { type: 'object' };
  }
  if (name === 'Optional' && first) return anyOf([schemaOf(first), { type: 'null' }]);
  if (name === 'Union') return anyOf(args.map(schemaOf));
  if (name === 'Annotated' && first) return schemaOf(first);
  if (name === 'Literal') {
    return { enum: args.map(literalMember) };
  }
  return {};
}

/** The JSON Schema for a Python annotation's text; `{}` when unknown or unparseable. */
export function pythonTypeSchema(typeText: string): JsonSchema {
  // `...` in Tuple[int, ...] is not a name token; spell it as one.
  const tokens = tokenize(typeText.replaceAll('...', 'Ellipsis'));
  const node = tokens === undefined ? undefined : parseType(tokens);
  return node === undefined ? {} : schemaOf(node);
}
