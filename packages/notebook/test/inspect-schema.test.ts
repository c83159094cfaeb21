/** Python literal defaults to JSON, annotations to JSON Schema, and the parameters schema. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type ParameterInfo,
  parametersJsonSchema,
  parsePythonLiteral,
  parseRLiteral,
  pythonTypeSchema,
} from '../src/inspect/index.ts';

describe('parsePythonLiteral', () => {
  const rows: ReadonlyArray<readonly [string, unknown]> = [
    ['None', null],
    ['True', true],
    ['False', false],
    ['1', 1],
    ['-2', -2],
    ['+3', 3],
    ['1_000', 1000],
    ['0x1f', 31],
    ['0o17', 15],
    ['0b101', 5],
    ['1e-3', 0.001],
    ['1.', 1],
    ['.5', 0.5],
    ['-2.5E+2', -250],
    ["'s'", 's'],
    ['"d"', 'd'],
    ['\'a\' "b"', 'ab'],
    ["r'\\n'", '\\n'],
    ["u'\\xe9\\u20ac\\U0001F600\\n\\t\\101\\q'", 'é€😀\n\tA\\q'],
    ["'''tri\nple'''", 'tri\nple'],
    ['[]', []],
    ['[1, 2,]', [1, 2]],
    ['(1, "a")', [1, 'a']],
    ['(1,)', [1]],
    ['()', []],
    ['(((1)))', 1],
    ['{}', {}],
    ['{"a": [1, {"b": None}], \'c\': (True,)}', { a: [1, { b: null }], c: [true] }],
    // not literals JSON can hold
    ['x', undefined],
    ['float("nan")', undefined],
    ['{1, 2}', undefined],
    ['{1: "a"}', undefined],
    ["b'bytes'", undefined],
    ["f'{x}'", undefined],
    ['1j', undefined],
    ['1 + 2', undefined],
    ['-"s"', undefined],
    ['012', undefined],
    ['12345678901234567890', undefined],
    ["'unterminated", undefined],
    ['[1, 2', undefined],
    ['"\\N{BULLET}"', undefined],
    ['', undefined],
  ];
  for (const [text, expected] of rows) {
    test(`${text} -> ${JSON.stringify(expected)}`, () =>
      assert.deepEqual(parsePythonLiteral(text), expected));
  }

  test('"__proto__" becomes an own key', () => {
    const parsed = parsePythonLiteral('{"__proto__": 1}') as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed), ['__proto__']);
    assert.equal(Object.getPrototypeOf(parsed), Object.prototype);
  });
});

test('parseRLiteral', () => {
  const rows: ReadonlyArray<readonly [string, unknown]> = [
    ['TRUE', true],
    ['F', false],
    ['NULL', null],
    ['3L', 3],
    ['-2.5e3', -2500],
    ['"a\\tb"', 'a\tb'],
    ["'s'", 's'],
    ['c(1, 2)', undefined],
    ['list(a = 1)', undefined],
  ];
  for (const [text, expected] of rows) assert.deepEqual(parseRLiteral(text), expected, text);
});

describe('pythonTypeSchema', () => {
  const rows: ReadonlyArray<readonly [string, unknown]> = [
    ['int', { type: 'integer' }],
    ['float', { type: 'number' }],
    ['str', { type: 'string' }],
    ['bool', { type: 'boolean' }],
    ['None', { type: 'null' }],
    ['list', { type: 'array' }],
    ['List[str]', { type: 'array', items: { type: 'string' } }],
    ['typing.List[int]', { type: 'array', items: { type: 'integer' } }],
    [
      'list[dict[str, float]]',
      {
        type: 'array',
        items: { type: 'object', additionalProperties: { type: 'number' } },
      },
    ],
    ['Dict', { type: 'object' }],
    ['Set[int]', { type: 'array', uniqueItems: true, items: { type: 'integer' } }],
    ['Tuple[int, ...]', { type: 'array', items: { type: 'integer' } }],
    [
      'tuple[int, str]',
      {
        type: 'array',
        prefixItems: [{ type: 'integer' }, { type: 'string' }],
        minItems: 2,
        maxItems: 2,
      },
    ],
    ['Optional[int]', { type: ['integer', 'null'] }],
    ['int | None', { type: ['integer', 'null'] }],
    ['Union[int, str]', { type: ['integer', 'string'] }],
    [
      'Union[List[int], str]',
      { anyOf: [{ type: 'array', items: { type: 'integer' } }, { type: 'string' }] },
    ],
    ["Literal['a', 'b', 1, None]", { enum: ['a', 'b', 1, null] }],
    ['Annotated[int, "meta"]', { type: 'integer' }],
    ['Optional[Any]', {}],
    ['datetime', {}],
    ['pd.DataFrame', {}],
    ['List[', {}],
    ['', {}],
  ];
  for (const [text, expected] of rows) {
    test(`${text || "''"}`, () => assert.deepEqual(pythonTypeSchema(text), expected));
  }
});

describe('parametersJsonSchema', () => {
  const p = (name: string, type: string | null, value: string, help = ''): ParameterInfo => ({
    name,
    type,
    default: value,
    help,
  });

  test('types from annotations, JSON defaults, help as description, nothing unknown', () => {
    const schema = parametersJsonSchema({
      language: 'python',
      parameters: [
        p('alpha', 'float', '0.5', 'learning rate'),
        p('n', null, '10'),
        p('name', 'str', 'None'),
        p('tags', 'List[str]', "['a', 'b']"),
        p('when', 'datetime', 'datetime.now()'),
        p('mode', "Literal['fast', 'slow']", "'fast'"),
      ],
    });
    assert.deepEqual(schema, {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      properties: {
        alpha: { type: 'number', description: 'learning rate', default: 0.5 },
        n: { default: 10 },
        name: { type: ['string', 'null'], default: null },
        tags: { type: 'array', items: { type: 'string' }, default: ['a', 'b'] },
        when: {},
        mode: { enum: ['fast', 'slow'], default: 'fast' },
      },
      additionalProperties: false,
    });
  });

  test('None defaults widen enums, unions and consts with null', () => {
    const schema = parametersJsonSchema({
      parameters: [
        p('a', "Literal['x']", 'None'),
        p('b', 'Union[List[int], str]', 'None'),
        p('c', 'Optional[int]', 'None'),
      ],
    });
    const properties = schema.properties as Record<string, unknown>;
    assert.deepEqual(properties.a, { enum: ['x', null], default: null });
    assert.deepEqual(properties.b, {
      anyOf: [{ type: 'array', items: { type: 'integer' } }, { type: 'string' }, { type: 'null' }],
      default: null,
    });
    assert.deepEqual(properties.c, { type: ['integer', 'null'], default: null });
  });

  test('R defaults use R literals; allowUnknown keeps papermill behaviour for extra names', () => {
    const schema = parametersJsonSchema(
      { language: 'R', parameters: [p('x', null, 'TRUE'), p('y', null, 'c(1, 2)')] },
      { allowUnknown: true },
    );
    assert.deepEqual(schema.properties, { x: { default: true }, y: {} });
    assert.equal(schema.additionalProperties, true);
  });

  test('no parameters: an object schema that refuses every name', () => {
    assert.deepEqual(parametersJsonSchema({ parameters: [] }).properties, {});
  });
});
