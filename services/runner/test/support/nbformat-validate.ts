/**
 * Validation by the reference implementation: Python's nbformat reads the notebook text as
 * written and validates it against the nbformat 4 schema. Throws with nbformat's message.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PYTHON = fileURLToPath(new URL('../../../../.tools/py/bin/python', import.meta.url));

// rfc3987_syntax only adds a URI format check nbformat's schema never uses, at a 2 s import cost.
const SCRIPT = [
  'import sys',
  "sys.modules['rfc3987_syntax'] = None",
  'import nbformat',
  'nbformat.validate(nbformat.reads(sys.stdin.read(), as_version=4))',
].join('\n');

export function validateWithNbformat(text: string): void {
  const result = spawnSync(PYTHON, ['-c', SCRIPT], { input: text, encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`nbformat rejected the notebook:\n${result.stderr || result.error?.message}`);
  }
}
