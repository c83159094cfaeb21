/**
 * The nbformat 4 document model (4.0 to 4.5), as TypeScript types.
 *
 * In memory, every multiline string is a single `string` (read joins nbformat's line arrays,
 * write splits them again, as nbformat does). Unknown metadata keys are kept: every metadata
 * object is open.
 */

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface KernelSpec {
  name: string;
  display_name?: string;
  language?: string;
  [key: string]: unknown;
}

export interface LanguageInfo {
  name: string;
  version?: string;
  file_extension?: string;
  mimetype?: string;
  [key: string]: unknown;
}

/** papermill's notebook-level record of a run (`metadata.papermill`). */
export interface PapermillNotebookMetadata {
  default_parameters?: JsonObject;
  parameters?: JsonObject;
  environment_variables?: JsonObject;
  version?: string | null;
  input_path?: string | null;
  output_path?: string | null;
  start_time?: string | null;
  end_time?: string | null;
  duration?: number | null;
  exception?: boolean | null;
  [key: string]: unknown;
}

/** papermill's per-cell record (`cell.metadata.papermill`). */
export type CellExecutionStatus = 'pending' | 'running' | 'completed' | 'failed';
export interface PapermillCellMetadata {
  status: CellExecutionStatus;
  start_time: string | null;
  end_time: string | null;
  duration: number | null;
  exception: boolean | null;
  [key: string]: unknown;
}

export interface NotebookMetadata {
  kernelspec?: KernelSpec;
  language_info?: LanguageInfo;
  papermill?: PapermillNotebookMetadata;
  [key: string]: unknown;
}

export interface CellMetadata {
  tags?: string[];
  papermill?: PapermillCellMetadata;
  [key: string]: unknown;
}

/** A bundle of representations keyed by MIME type. Text types are joined strings in memory. */
export type MimeBundle = { [mimeType: string]: JsonValue };

export interface StreamOutput {
  output_type: 'stream';
  name: 'stdout' | 'stderr';
  text: string;
}

export interface DisplayDataOutput {
  output_type: 'display_data';
  data: MimeBundle;
  metadata: JsonObject;
}

export interface ExecuteResultOutput {
  output_type: 'execute_result';
  execution_count: number | null;
  data: MimeBundle;
  metadata: JsonObject;
}

export interface ErrorOutput {
  output_type: 'error';
  ename: string;
  evalue: string;
  traceback: string[];
}

export type Output = StreamOutput | DisplayDataOutput | ExecuteResultOutput | ErrorOutput;

/** Attachments of markdown and raw cells: file name to MIME bundle. */
export type Attachments = { [fileName: string]: MimeBundle };

export interface CodeCell {
  cell_type: 'code';
  id?: string;
  metadata: CellMetadata;
  source: string;
  execution_count: number | null;
  outputs: Output[];
}

export interface MarkdownCell {
  cell_type: 'markdown';
  id?: string;
  metadata: CellMetadata;
  source: string;
  attachments?: Attachments;
}

export interface RawCell {
  cell_type: 'raw';
  id?: string;
  metadata: CellMetadata;
  source: string;
  attachments?: Attachments;
}

export type Cell = CodeCell | MarkdownCell | RawCell;

export interface Notebook {
  nbformat: 4;
  nbformat_minor: number;
  metadata: NotebookMetadata;
  cells: Cell[];
}
