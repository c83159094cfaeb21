/**
 * `--help-notebook`: the notebook's parameters as papermill prints them, from the cell tagged
 * "parameters": name, type (annotation or type comment), default (as written) and help comment.
 * One departure: no parameters cell is exit 0 here (papermill exits 1, which nes-run reserves
 * for cell errors).
 */
import { inspectParameters, type Notebook } from '@nes/notebook';

const USAGE_LINE = 'Usage: nes-run [OPTIONS] INPUT [OUTPUT]';

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
  if (result.parameters.length === 0) {
    for (const warning of result.warnings) lines.push(`  (${warning})`);
    lines.push(
      '',
      "  Can't infer anything about this notebook's parameters. It may not have any parameter defined.",
    );
    return `${lines.join('\n')}\n`;
  }
  for (const p of result.parameters) {
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
