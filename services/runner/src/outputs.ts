/**
 * IOPub messages -> nbformat outputs, with nbclient's semantics:
 * - stream: one output per stream message, as nbclient stores them under papermill (its
 *   `coalesce_streams` is off), so consecutive chunks are not merged;
 * - display_data / execute_result: appended; a `transient.display_id` is remembered, and a
 *   later display or update_display_data with that id replaces the data and metadata of every
 *   output that carries it, in any cell;
 * - clear_output: clears the cell at once, or with wait=True just before its next output;
 * - error: appended.
 * The OutputBudget decides what is kept; dropped output leaves a visible note.
 */
import type { KernelMessage } from '@jupyterlab/services';
import type {
  CodeCell,
  DisplayDataOutput,
  ExecuteResultOutput,
  JsonObject,
  MimeBundle,
  Output,
  StreamOutput,
} from '@nes/notebook';
import { type OutputBudget, truncationNote } from './output-limits.ts';

type RichOutput = DisplayDataOutput | ExecuteResultOutput;

interface DisplayRef {
  cell: CodeCell;
  output: RichOutput;
}

interface NotebookNote {
  cell: CodeCell;
  output: StreamOutput;
  dropped: number;
}

export class OutputCollector {
  readonly #budget: OutputBudget;
  readonly #onText: ((text: string, stream: 'stdout' | 'stderr') => void) | undefined;
  readonly #displays = new Map<string, DisplayRef[]>();
  #cell: CodeCell | null = null;
  #clearPending = false;
  #notebookNote: NotebookNote | null = null;

  readonly #onPlainText: ((text: string) => void) | undefined;

  constructor(
    budget: OutputBudget,
    onText?: (text: string, stream: 'stdout' | 'stderr') => void,
    onPlainText?: (text: string) => void,
  ) {
    this.#budget = budget;
    this.#onText = onText;
    this.#onPlainText = onPlainText;
  }

  /** Outputs of the following messages go to `cell`. */
  beginCell(cell: CodeCell): void {
    this.#cell = cell;
    this.#clearPending = false;
  }

  /** Handles an IOPub message whose parent is the current cell's execute request. */
  handle(msg: KernelMessage.IIOPubMessage): void {
    const cell = this.#cell;
    if (!cell) return;
    // By msg_type, as services' KernelMessage.is*Msg guards do (without loading services).
    switch (msg.header.msg_type) {
      case 'execute_input':
        cell.execution_count = (msg as KernelMessage.IExecuteInputMsg).content.execution_count;
        break;
      case 'clear_output':
        if ((msg as KernelMessage.IClearOutputMsg).content.wait) this.#clearPending = true;
        else this.#clear(cell);
        break;
      case 'stream': {
        const { name, text } = (msg as KernelMessage.IStreamMsg).content;
        this.#takePendingClear(cell);
        this.#onText?.(text, name);
        this.#appendStream(cell, name, text);
        break;
      }
      case 'display_data': {
        const content = (msg as KernelMessage.IDisplayDataMsg).content;
        const output: DisplayDataOutput = {
          output_type: 'display_data',
          data: asBundle(content.data),
          metadata: asObject(content.metadata),
        };
        this.#appendRich(cell, output, displayIdOf(content));
        this.#logPlainText(output.data);
        break;
      }
      case 'execute_result': {
        const content = (msg as KernelMessage.IExecuteResultMsg).content;
        const output: ExecuteResultOutput = {
          output_type: 'execute_result',
          execution_count: content.execution_count,
          data: asBundle(content.data),
          metadata: asObject(content.metadata),
        };
        this.#appendRich(cell, output, displayIdOf(content));
        this.#logPlainText(output.data);
        break;
      }
      case 'error': {
        const { ename, evalue, traceback } = (msg as KernelMessage.IErrorMsg).content;
        this.#takePendingClear(cell);
        this.addError(cell, ename, evalue, traceback);
        break;
      }
      case 'update_display_data':
        this.handleDisplayUpdate(msg);
        break;
    }
  }

  /** papermill's --log-output also logs the text/plain of displays and results. */
  #logPlainText(data: MimeBundle): void {
    const text = data['text/plain'];
    if (this.#onPlainText && text !== undefined) {
      this.#onPlainText(Array.isArray(text) ? text.join('') : String(text));
    }
  }

  /** update_display_data may come from any request (a background thread, a later cell). */
  handleDisplayUpdate(msg: KernelMessage.IIOPubMessage): void {
    if (msg.header.msg_type !== 'update_display_data') return;
    const { content } = msg as KernelMessage.IUpdateDisplayDataMsg;
    const id = displayIdOf(content);
    if (id) this.#updateDisplays(id, asBundle(content.data), asObject(content.metadata));
  }

  /** Appends an error output (from the kernel, or the runner's own account of a failure). */
  addError(cell: CodeCell, ename: string, evalue: string, traceback: string[]): void {
    const output: Output = { output_type: 'error', ename, evalue, traceback };
    this.#budget.admit(output);
    cell.outputs.push(output);
  }

  #takePendingClear(cell: CodeCell): void {
    if (this.#clearPending) {
      this.#clearPending = false;
      this.#clear(cell);
    }
  }

  #clear(cell: CodeCell): void {
    this.#budget.release(cell.outputs);
    cell.outputs = [];
    if (this.#notebookNote?.cell === cell) this.#notebookNote = null;
    for (const [id, refs] of this.#displays) {
      const kept = refs.filter((ref) => ref.cell !== cell);
      if (kept.length === 0) this.#displays.delete(id);
      else this.#displays.set(id, kept);
    }
  }

  #appendStream(cell: CodeCell, name: 'stdout' | 'stderr', text: string): void {
    if (this.#budget.notebookFull) {
      this.#dropForNotebook(cell, text.length === 0 ? 0 : Buffer.byteLength(text));
      return;
    }
    const output: StreamOutput = { output_type: 'stream', name, text: '' };
    cell.outputs.push(output);
    this.#budget.appendStream(output, text);
  }

  #appendRich(cell: CodeCell, output: RichOutput, displayId: string | null): void {
    // nbclient: a new display with a known id first updates the earlier ones.
    if (displayId) this.#updateDisplays(displayId, output.data, output.metadata);
    this.#takePendingClear(cell);
    const verdict = this.#budget.admit(output);
    if (!verdict.ok) {
      if (verdict.reason === 'notebook') {
        this.#dropForNotebook(cell, verdict.bytes);
      } else {
        const note: StreamOutput = {
          output_type: 'stream',
          name: 'stderr',
          text: truncationNote(verdict.bytes, 'output').trimStart(),
        };
        cell.outputs.push(note);
      }
      return;
    }
    if (displayId) {
      const refs = this.#displays.get(displayId) ?? [];
      refs.push({ cell, output });
      this.#displays.set(displayId, refs);
    }
    cell.outputs.push(output);
  }

  #updateDisplays(id: string, data: MimeBundle, metadata: JsonObject): void {
    for (const { output } of this.#displays.get(id) ?? []) {
      if (this.#budget.replaceData(output, data)) {
        output.data = data;
        output.metadata = metadata;
      } else {
        output.data = { 'text/plain': truncationNote(0, 'output').trim() };
        output.metadata = {};
        this.#budget.replaceData(output, output.data);
      }
    }
  }

  /** Past the notebook cap, one note per cell counts everything dropped in it. */
  #dropForNotebook(cell: CodeCell, bytes: number): void {
    let note = this.#notebookNote;
    if (note?.cell !== cell || !cell.outputs.includes(note.output)) {
      const output: StreamOutput = { output_type: 'stream', name: 'stderr', text: '' };
      cell.outputs.push(output);
      note = { cell, output, dropped: 0 };
      this.#notebookNote = note;
    }
    note.dropped += bytes;
    note.output.text = truncationNote(note.dropped, 'notebook').trimStart();
  }
}

function displayIdOf(content: { transient?: JsonObject | object }): string | null {
  const transient = content.transient as { display_id?: unknown } | undefined;
  return typeof transient?.display_id === 'string' ? transient.display_id : null;
}

function asBundle(data: unknown): MimeBundle {
  return (data ?? {}) as MimeBundle;
}

function asObject(metadata: unknown): JsonObject {
  return (metadata ?? {}) as JsonObject;
}
