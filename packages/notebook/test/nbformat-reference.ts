/**
 * The reference implementation, for cross-checks: one Python process (the repository's venv
 * with nbformat 5.11) answers a whole batch, so the suite stays fast.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const PYTHON = fileURLToPath(new URL('../../../.tools/py/bin/python', import.meta.url));

export const nbformatAvailable = existsSync(PYTHON);

const SCRIPT = `
import json, sys, warnings
import nbformat
warnings.simplefilter("error")  # a missing cell id warns; treat it as invalid
requests = json.load(sys.stdin)
answers = []
for request in requests:
    try:
        if request["op"] == "rewrite":
            nb = nbformat.reads(request["text"], as_version=nbformat.NO_CONVERT)
            answers.append({"ok": True, "text": nbformat.writes(nb) + "\\n"})
        else:
            nbformat.validate(json.loads(request["text"]))
            answers.append({"ok": True})
    except Exception as error:
        answers.append({"ok": False, "error": f"{type(error).__name__}: {error}"[:500]})
json.dump(answers, sys.stdout)
`;

export type Answer = { ok: boolean; text?: string; error?: string };

/** `rewrite`: nbformat.writes(nbformat.reads(text)); `validate`: nbformat.validate(text). */
export function askNbformat(
  requests: Array<{ op: 'rewrite' | 'validate'; text: string }>,
): Answer[] {
  const run = spawnSync(PYTHON, ['-c', SCRIPT], {
    input: JSON.stringify(requests),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`nbformat reference failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as Answer[];
}
