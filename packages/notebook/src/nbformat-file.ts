/**
 * The nbformat 4 document as an .ipynb file holds it: long text is one string or a list of lines,
 * output metadata may be missing, and display updates may appear. For readers that take a file
 * as it is, without normalizing it (the viewer reads output notebooks of 50 MB); `Notebook`
 * (nbformat.ts) is the normalized model the rest of this package works on.
 */
import type { JsonObject, JsonValue } from './nbformat.ts';

/** nbformat stores long text either as one string or as a list of lines. */
export type MultilineString = string | string[];

export type IpynbMimeBundle = { [mime: string]: MultilineString | JsonValue };

export interface IpynbStreamOutput {
  output_type: 'stream';
  name: 'stdout' | 'stderr' | string;
  text: MultilineString;
}
export interface IpynbErrorOutput {
  output_type: 'error';
  ename: string;
  evalue: string;
  traceback: string[];
}
export interface IpynbDisplayDataOutput {
  output_type: 'display_data' | 'update_display_data';
  data: IpynbMimeBundle;
  metadata?: JsonObject;
}
export interface IpynbExecuteResultOutput {
  output_type: 'execute_result';
  data: IpynbMimeBundle;
  metadata?: JsonObject;
  execution_count: number | null;
}
export type IpynbOutput =
  | IpynbStreamOutput
  | IpynbErrorOutput
  | IpynbDisplayDataOutput
  | IpynbExecuteResultOutput;

export type IpynbAttachments = { [name: string]: IpynbMimeBundle };

export interface IpynbCodeCell {
  cell_type: 'code';
  id?: string;
  source: MultilineString;
  metadata: JsonObject;
  outputs: IpynbOutput[];
  execution_count: number | null;
}
export interface IpynbMarkdownCell {
  cell_type: 'markdown';
  id?: string;
  source: MultilineString;
  metadata: JsonObject;
  attachments?: IpynbAttachments;
}
export interface IpynbRawCell {
  cell_type: 'raw';
  id?: string;
  source: MultilineString;
  metadata: JsonObject;
  attachments?: IpynbAttachments;
}
export type IpynbCell = IpynbCodeCell | IpynbMarkdownCell | IpynbRawCell;

export interface IpynbNotebook {
  nbformat: 4;
  nbformat_minor: number;
  metadata: JsonObject;
  cells: IpynbCell[];
}
