/**
 * Parameters of an R parameters cell (papermill has no R inspector): top-level `name = value`,
 * `name <- value` and `name <<- value`, with the trailing comment as help. R has no annotations,
 * so `type` is null unless a `# type: T` comment gives one.
 */
import { splitStatements, topLevelIndices } from './logical-lines.ts';
import { type ParameterInfo, splitTypeComment } from './parameter-info.ts';

const R_LEXICON = {
  quotes: '"\'`',
  tripleQuotes: false,
  // R keeps reading after a binary operator or a comma at the end of a line.
  continuesAfter: /(?:[-+*/^,&|~=<>!]|%[^%]*%|\|>|<-)$/,
};

const R_NAME = /^(?:[\p{L}.][\p{L}\p{N}._]*|`[^`]+`)$/u;

function assignmentOperator(code: string): { index: number; length: number } | undefined {
  const found = topLevelIndices(code, R_LEXICON.quotes, (text, index) => {
    if (text.startsWith('<<-', index) || text.startsWith('<-', index)) {
      return text.charAt(index - 1) !== '<';
    }
    return (
      text.charAt(index) === '=' &&
      text.charAt(index + 1) !== '=' &&
      !'=!<>'.includes(text.charAt(index - 1))
    );
  })[0];
  if (found === undefined) return undefined;
  const length = code.startsWith('<<-', found) ? 3 : code.startsWith('<-', found) ? 2 : 1;
  return { index: found, length };
}

export function inspectRSource(source: string): ParameterInfo[] {
  const parameters: ParameterInfo[] = [];
  for (const statement of splitStatements(source, R_LEXICON)) {
    const operator = assignmentOperator(statement.code);
    if (operator === undefined) continue;
    const target = statement.code.slice(0, operator.index).trim();
    const value = statement.code.slice(operator.index + operator.length).trim();
    if (!R_NAME.test(target) || value === '') continue;
    const { typeComment, help } = splitTypeComment(statement.comment);
    parameters.push({
      name: target.replace(/^`|`$/g, ''),
      type: typeComment ?? null,
      default: value,
      help,
    });
  }
  return parameters;
}
