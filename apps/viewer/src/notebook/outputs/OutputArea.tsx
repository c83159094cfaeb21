/**
 * A code cell's outputs. Consecutive stream outputs of the same name are
 * merged first (a kernel flushes stdout in arbitrary pieces, and a `\r` in
 * one piece redraws text from the previous one). The merge is remembered
 * per outputs array, so a cell remounted by the virtual list does not join
 * its logs again.
 */
import type { JsonObject, MimeBundle, Output } from '../nbformat.ts';
import { joinText } from '../nbformat.ts';
import { MimeOutput } from './MimeOutput.tsx';
import { ErrorText, StreamText } from './TextOutputs.tsx';

type Shown =
  | { kind: 'stream'; index: number; name: string; text: string }
  | { kind: 'error'; index: number; ename: string; evalue: string; traceback: string[] }
  | { kind: 'mime'; index: number; data: MimeBundle; metadata?: JsonObject; result: boolean };

const merged = new WeakMap<readonly Output[], readonly Shown[]>();

function mergeOutputs(outputs: readonly Output[]): readonly Shown[] {
  const known = merged.get(outputs);
  if (known) return known;
  const shown = mergeUncached(outputs);
  merged.set(outputs, shown);
  return shown;
}

function mergeUncached(outputs: readonly Output[]): Shown[] {
  const shown: Shown[] = [];
  outputs.forEach((output, index) => {
    if (output.output_type === 'stream') {
      const last = shown[shown.length - 1];
      const text = joinText(output.text);
      if (last?.kind === 'stream' && last.name === output.name) last.text += text;
      else shown.push({ kind: 'stream', index, name: String(output.name), text });
    } else if (output.output_type === 'error') {
      shown.push({
        kind: 'error',
        index,
        ename: String(output.ename ?? ''),
        evalue: String(output.evalue ?? ''),
        traceback: Array.isArray(output.traceback) ? output.traceback.map(String) : [],
      });
    } else if (output.output_type !== 'update_display_data') {
      shown.push({
        kind: 'mime',
        index,
        data: output.data ?? {},
        metadata: output.metadata,
        result: output.output_type === 'execute_result',
      });
    }
  });
  return shown;
}

export interface OutputAreaProps {
  outputs: readonly Output[];
  /** Stable key of the cell (its id, else its index), for the output frames' remembered heights. */
  cellKey: string;
  /** The cell as shown (`cell 3`), to name its output frames. */
  cellName: string;
  frameOrigin: string;
  executionCount: number | null;
}

export function OutputArea({
  outputs,
  cellKey,
  cellName,
  frameOrigin,
  executionCount,
}: OutputAreaProps) {
  if (outputs.length === 0) return null;
  return (
    <div className="nes-outputs">
      {mergeOutputs(outputs).map((shown, position) => {
        const key = `${cellKey}:${shown.index}`;
        const prompt =
          shown.kind === 'mime' && shown.result && executionCount !== null
            ? `Out[${executionCount}]:`
            : '';
        return (
          <div className="nes-output" data-output-kind={shown.kind} key={key}>
            <div className="nes-prompt nes-output-prompt" aria-hidden={prompt === ''}>
              {prompt}
            </div>
            <div className="nes-output-body">
              {shown.kind === 'stream' && <StreamText name={shown.name} text={shown.text} />}
              {shown.kind === 'error' && (
                <ErrorText ename={shown.ename} evalue={shown.evalue} traceback={shown.traceback} />
              )}
              {shown.kind === 'mime' && (
                <MimeOutput
                  data={shown.data}
                  metadata={shown.metadata}
                  outputKey={key}
                  title={`Output ${position + 1} of ${cellName}`}
                  frameOrigin={frameOrigin}
                />
              )}
            </div>
          </div>
        );
      })}
    </div>
  );
}
