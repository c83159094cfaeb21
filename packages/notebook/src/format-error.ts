/**
 * The one error a malformed notebook raises: invalid JSON, an unsupported nbformat version, or a
 * structure the nbformat 4 schemas reject. The runner maps it to the `source` failure class.
 */
export class NotebookFormatError extends Error {
  override name = 'NotebookFormatError';
  readonly code = 'invalid_notebook';
  /** Where in the document, e.g. `cells[3].outputs[0].output_type`; '' for the whole text. */
  readonly path: string;
  /** What the schema wants there, e.g. `one of stream, display_data, execute_result, error`. */
  readonly expected: string;
  /** What was found, already described for people, e.g. `"foo"` or `nothing (missing)`. */
  readonly got: string;
  /** 1-based position in the text, only for JSON syntax errors. */
  readonly line: number | undefined;
  readonly column: number | undefined;

  constructor(options: {
    path: string;
    expected: string;
    got: string;
    line?: number;
    column?: number;
    message?: string;
  }) {
    const where = options.path === '' ? '' : `${options.path}: `;
    super(options.message ?? `${where}expected ${options.expected}; got ${options.got}`);
    this.path = options.path;
    this.expected = options.expected;
    this.got = options.got;
    this.line = options.line;
    this.column = options.column;
  }
}
