import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addBuiltinParameters, PythonDateTime } from '../src/builtin-parameters.ts';
import {
  MissingParameterError,
  PathTemplateError,
  parameterizePath,
} from '../src/path-template.ts';
import { FloatValue } from '../src/translators/index.ts';

// 2024-03-05 07:08:09.250 UTC, a Tuesday.
const clock = () => new Date(Date.UTC(2024, 2, 5, 7, 8, 9, 250));
const uuid = () => '0f8fad5b-d9cb-469f-a165-70867728950e';

describe('addBuiltinParameters (papermill add_builtin_parameters)', () => {
  test('pm holds run_uuid and both datetimes; user parameters are kept', () => {
    const parameters = addBuiltinParameters({ region: 'kr' }, { now: clock, uuid });
    const pm = parameters.pm as { run_uuid: string; current_datetime_utc: PythonDateTime };
    assert.equal(pm.run_uuid, uuid());
    assert.equal(String(pm.current_datetime_utc), '2024-03-05 07:08:09.250000');
    assert.ok(
      (parameters.pm as Record<string, unknown>).current_datetime_local instanceof PythonDateTime,
    );
    assert.equal(parameters.region, 'kr');
  });

  test('a user parameter named pm wins, as dict.update does', () => {
    assert.equal(addBuiltinParameters({ pm: 'mine' }, { now: clock, uuid }).pm, 'mine');
  });

  test('default uuid is a v4 UUID', () => {
    const pm = addBuiltinParameters({}).pm as { run_uuid: string };
    assert.match(
      pm.run_uuid,
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});

describe('PythonDateTime', () => {
  const at = (ms: number) => PythonDateTime.utc(new Date(Date.UTC(2024, 0, 9, 13, 4, 5, ms)));
  const cases: Array<[string, PythonDateTime, string, string]> = [
    ['str with microseconds', at(7), '', '2024-01-09 13:04:05.007000'],
    ['str without microseconds', at(0), '', '2024-01-09 13:04:05'],
    ['date directives', at(0), '%Y%m%d-%y', '20240109-24'],
    ['time directives', at(7), '%H:%M:%S.%f %I%p', '13:04:05.007000 01PM'],
    ['names and day of year', at(0), '%a %A %b %B %j %%', 'Tue Tuesday Jan January 009 %'],
  ];
  for (const [name, value, format, expected] of cases) {
    test(name, () =>
      assert.equal(format === '' ? String(value) : value.strftime(format), expected),
    );
  }
  test('unsupported directive is an error, not a guess', () => {
    assert.throws(() => at(0).strftime('%Z'), /unsupported strftime directive %Z/);
  });
});

describe('parameterizePath (papermill parameterize_path, Python str.format)', () => {
  const parameters = {
    ...addBuiltinParameters({}, { now: clock, uuid }),
    name: 'report',
    n: 3,
    ratio: 0.5,
    whole: new FloatValue(2),
    on: true,
    none: null,
    tags: ['a', 'b'],
    conf: { env: 'prod', 'odd key': 'x' },
  };
  const cases: Array<[string, string, string]> = [
    ['plain name', 'out/{name}.ipynb', 'out/report.ipynb'],
    ['no fields', 'out/plain.ipynb', 'out/plain.ipynb'],
    ['escaped braces', 'out/{{name}}-{name}}}.ipynb', 'out/{name}-report}.ipynb'],
    [
      'numbers, bools and None as Python str',
      '{n}-{ratio}-{whole}-{on}-{none}',
      '3-0.5-2.0-True-None',
    ],
    ['index into a list', '{tags[1]}', 'b'],
    ['key into a dict', '{conf[env]}/{conf[odd key]}', 'prod/x'],
    ['attribute of a dict (lenient)', '{conf.env}', 'prod'],
    ['pm run uuid', 'runs/{pm[run_uuid]}.ipynb', `runs/${uuid()}.ipynb`],
    ['pm datetime str', '{pm[current_datetime_utc]}', '2024-03-05 07:08:09.250000'],
    [
      'pm datetime strftime',
      'out/{pm[current_datetime_utc]:%Y/%m/%d}.ipynb',
      'out/2024/03/05.ipynb',
    ],
    ['pm datetime attribute', '{pm[current_datetime_utc].year}', '2024'],
    [
      'repr conversion',
      '{name!r}-{tags!r}-{conf!r}',
      "'report'-['a', 'b']-{'env': 'prod', 'odd key': 'x'}",
    ],
    ['str conversion', '{n!s}', '3'],
  ];
  for (const [name, template, expected] of cases) {
    test(name, () => assert.equal(parameterizePath(template, parameters), expected));
  }

  const errors: Array<[string, string, RegExp]> = [
    ['missing parameter', 'out/{missing}.ipynb', /^Missing parameter 'missing'$/],
    ['missing key', '{conf[nope]}', /^Missing parameter 'nope'$/],
    ['index out of range', '{tags[5]}', /^Missing parameter '5'$/],
  ];
  for (const [name, template, message] of errors) {
    test(name, () => {
      assert.throws(
        () => parameterizePath(template, parameters),
        (error: unknown) => {
          assert.ok(error instanceof MissingParameterError);
          assert.equal(error.code, 'missing_parameter');
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }

  const invalid: Array<[string, string, RegExp]> = [
    ['single closing brace', 'a}b', /Single '}' encountered/],
    ['unclosed field', 'a{name', /Single '{' encountered/],
    ['positional field', 'out/{}.ipynb', /positional field/],
    ['numbered field', 'out/{0}.ipynb', /positional field/],
    [
      'numeric format code on a string',
      '{name:d}',
      /Unknown format code 'd' for object of type 'str'/,
    ],
    ['unknown conversion', '{name!x}', /unknown conversion/],
    ['attribute of a string', '{name.upper}', /'str' object has no attribute 'upper'/],
  ];
  for (const [name, template, message] of invalid) {
    test(name, () =>
      assert.throws(
        () => parameterizePath(template, parameters),
        (error: unknown) => {
          assert.ok(error instanceof PathTemplateError);
          assert.match(error.message, message);
          return true;
        },
      ),
    );
  }
});
