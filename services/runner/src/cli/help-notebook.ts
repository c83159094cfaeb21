/**
 * `--help-notebook`: the notebook's parameters as papermill prints them, from the cell tagged
 * "parameters": name, type (annotation or type comment), default (as written) and help comment.
 * One departure: no parameters cell is exit 0 here (papermill exits 1, which nes-run reserves
 * for cell errors).
 */
import { inspectParameters, type Notebook } from '@nes/notebook';

const USAGE_LINE = 'Usage: nes-run [OPTIONS] INPUT [OUTPUT]';

/**
 * Of the translators, papermill gives only Python's an `inspect`: for an R notebook it infers
 * nothing (NES's API still reads R parameters cells, for its parameter schema).
 */
function papermillInspects(language: string): boolean {
  return language === 'python';
}

/**
 * papermill reads the parameters cell line by line and skips a line holding more than one `=`
 * ("Unable to parse line"), so `d = a == 3` (or a `=` in a string or comment on the same line)
 * is not listed. The line is the one that starts the assignment of `name`.
 */
function papermillSkipsLine(source: string, name: string): boolean {
  const start = new RegExp(`^\\s*${name.replace(/[^\p{L}\p{N}_]/gu, '')}\\s*[:=]`, 'u');
  const line = source.split('\n').find((candidate) => start.test(candidate));
  return line !== undefined && line.split('=').length - 1 > 1;
}

export function formatNotebookHelp(
  notebook: Notebook,
  path: string,
  options: { kernelName?: string | undefined; language?: string | undefined },
): string {
  const lines = [USAGE_LINE, '', `Parameters inferred for notebook '${path}':`];
  const hasParametersCell = notebook.cells.some((cell) =>
    cell.metadata.tags?.includes('parameters'),
  );
  if (!hasParametersCell) {
    lines.push('', "  No cell tagged 'parameters'");
    return `${lines.join('\n')}\n`;
  }
  const result = inspectParameters(notebook, {
    ...(options.kernelName !== undefined ? { kernelName: options.kernelName } : {}),
    ...(options.language !== undefined ? { language: options.language } : {}),
  });
  const cell = notebook.cells.find((candidate) => candidate.metadata.tags?.includes('parameters'));
  const parameters = papermillInspects(result.language)
    ? result.parameters.filter((p) => !papermillSkipsLine(cell?.source ?? '', p.name))
    : [];
  if (parameters.length === 0) {
    for (const warning of result.warnings) lines.push(`  (${warning})`);
    lines.push(
      '',
      "  Can't infer anything about this notebook's parameters. It may not have any parameter defined.",
    );
    return `${lines.join('\n')}\n`;
  }
  for (const p of parameters) {
    const type = p.type && p.type !== 'None' ? p.type : 'Unknown type';
    const definition = `  ${p.name}: ${type} (default ${p.default})`;
    if (definition.length > 30) {
      lines.push(p.help ? `${definition}\n${' '.repeat(34)}${p.help}` : definition);
    } else {
      lines.push(`${definition.padEnd(34)}${p.help}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
