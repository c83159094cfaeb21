/**
 * papermill's `PythonTranslator.inspect`: every simple assignment in the parameters cell, with
 * its annotation or `# type:` comment, its default's source text and its trailing comment as help.
 *
 * Like papermill (which walks the `ast`), it finds assignments inside `if`/`for`/`with`/`try`
 * bodies but not inside `def` or `class`, skips chained (`a = b = 1`), augmented (`a += 1`),
 * tuple, attribute and subscript targets, and ignores IPython lines (`%magic`, `!cmd`, `x?`).
 */
import { type Statement, splitStatements, topLevelIndices } from './logical-lines.ts';
import { type ParameterInfo, splitTypeComment } from './parameter-info.ts';

const PYTHON_LEXICON = {
  quotes: '"\'',
  tripleQuotes: true,
  ignoredLine: /^\s*[%!?]|\?\s*$/,
};

const IDENTIFIER = /^[\p{L}_][\p{L}\p{N}_]*$/u;
const NESTED_SCOPE = /^(?:async\s+def|def|class)\b|^@/;
const OPERATOR_BEFORE_EQUALS = '=!<>:+-*/%&|^@~';

/** `=` that is an assignment, not part of `==`, `<=`, `:=`, `+=`, ... */
function isAssignmentEquals(code: string, index: number): boolean {
  return (
    code.charAt(index) === '=' &&
    code.charAt(index + 1) !== '=' &&
    !OPERATOR_BEFORE_EQUALS.includes(code.charAt(index - 1))
  );
}

function stringLiteralValue(text: string): string | undefined {
  const match = /^(?<quote>'''|"""|'|")(?<body>.*)\k<quote>$/s.exec(text);
  return match?.groups?.body;
}

/** One statement as a parameter, or undefined when it is not a simple assignment. */
function pythonAssignment(statement: Statement): ParameterInfo | undefined {
  const quotes = PYTHON_LEXICON.quotes;
  const equals = topLevelIndices(statement.code, quotes, isAssignmentEquals);
  const first = equals[0];
  if (first === undefined) return undefined;
  // A top-level operator right before the first `=` means augmented assignment: not a parameter.
  const target = statement.code.slice(0, first).trim();
  const value = statement.code.slice(first + 1).trim();
  if (value === '') return undefined;
  const second = equals[1];
  if (second !== undefined && !/\blambda\b/.test(statement.code.slice(first + 1, second))) {
    return undefined; // chained assignment `a = b = 1`
  }

  const colon = topLevelIndices(target, quotes, (code, index) => code.charAt(index) === ':')[0];
  const name = (colon === undefined ? target : target.slice(0, colon)).trim();
  if (!IDENTIFIER.test(name)) return undefined;
  const annotationText = colon === undefined ? undefined : target.slice(colon + 1).trim();
  const annotation =
    annotationText === undefined
      ? undefined
      : (stringLiteralValue(annotationText) ?? annotationText);

  const { typeComment, help } = splitTypeComment(statement.comment);
  return { name, type: annotation || typeComment || null, default: value, help };
}

export function inspectPythonSource(source: string): ParameterInfo[] {
  const parameters: ParameterInfo[] = [];
  let nestedScopeIndent: number | undefined;
  for (const statement of splitStatements(source, PYTHON_LEXICON)) {
    if (nestedScopeIndent !== undefined) {
      if (statement.indent > nestedScopeIndent) continue;
      nestedScopeIndent = undefined;
    }
    if (NESTED_SCOPE.test(statement.code)) {
      nestedScopeIndent = statement.indent;
      continue;
    }
    const parameter = pythonAssignment(statement);
    if (parameter !== undefined) parameters.push(parameter);
  }
  return parameters;
}
