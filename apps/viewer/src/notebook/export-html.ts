/**
 * A notebook as one static, self-contained HTML file to share: markdown rendered (math as
 * MathML, which browsers draw without KaTeX's fonts), code and outputs as the viewer shows them,
 * images inline as data URIs. It is safe to open anywhere because nothing in it can run:
 *
 * - every piece of HTML that comes from the notebook goes through the viewer's own sanitizer
 *   (`sanitizeHtml`, DOMPurify), text is escaped;
 * - outputs that are scripts (`application/javascript`, widgets) are left out with a note, and
 *   HTML that needs scripts shows its sanitized static part;
 * - the page carries a Content-Security-Policy that allows no script, no frame, no form target
 *   and no network at all (images only as `data:`), so even a sanitizer miss cannot act.
 */
import { escapeHtml, type Katex, katexModule } from './katex.ts';
import { renderMarkdown } from './markdown.ts';
import type { Cell, MimeBundle, NotebookJson, Output } from './nbformat.ts';
import { joinText } from './nbformat.ts';
import {
  authorCellNumbers,
  failingCellIndex,
  inputHidden,
  outputsHidden,
  papermillMarker,
  parameterBadge,
} from './papermill.ts';
import { sanitizeHtml } from './sanitize.ts';
import { terminalHtml } from './terminal.ts';

/** No script, no network, no frames, no forms: a page that can only be read. */
export const EXPORT_CSP =
  "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; form-action 'none'; frame-src 'none'; base-uri 'none'";

const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif'] as const;
const BASE64 = /^[A-Za-z0-9+/=\s]*$/;

const STYLE = `
body{font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI","Noto Sans",Helvetica,Arial,sans-serif;color:#1f2328;background:#fff;margin:0}
main{max-width:980px;margin:0 auto;padding:24px 16px}
header.doc{border-bottom:1px solid #d0d7de;margin-bottom:16px;padding-bottom:8px}
header.doc h1{font-size:20px;margin:0 0 4px}
.meta{color:#656d76;font-size:12px}
.cell{margin:10px 0}
.cell-head{font-size:12px;color:#656d76;display:flex;gap:8px;margin-bottom:2px}
.badge{border:1px solid #d0d7de;border-radius:999px;padding:0 6px}
.badge.failed{color:#cf222e;border-color:#ff8182;background:#ffebe9;font-weight:600}
pre{font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;margin:0;white-space:pre-wrap;overflow-wrap:anywhere}
pre.input{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:8px 10px}
.output{padding:4px 10px}
.output.error{background:#ffebe9;border-radius:6px}
.output img{max-width:100%}
.note{color:#656d76;font-style:italic;font-size:12px}
.banner{border:1px solid #ff8182;background:#ffebe9;color:#cf222e;border-radius:6px;padding:8px 12px;font-weight:600}
.katex-html{display:none}
table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:2px 6px}
`;

export interface ExportOptions {
  /** The document's title (the notebook's name). */
  title: string;
  /** A line under the title: run, status, commit, date. */
  subtitle?: string;
}

/** The whole HTML document. KaTeX is loaded first when the notebook has math. */
export async function exportNotebookHtml(
  notebook: NotebookJson,
  options: ExportOptions,
): Promise<string> {
  const cells = notebook.cells ?? [];
  const hasMath = cells.some(
    (cell) => cell.cell_type === 'markdown' && renderMarkdown(joinText(cell.source)).hasMath,
  );
  const katex = hasMath ? await katexModule.load().catch(() => null) : null;
  const numbers = authorCellNumbers(cells);
  const failing = failingCellIndex(notebook);
  const failingNumber = failing !== null ? (numbers[failing] ?? null) : null;
  const body = selfContained(
    cells
      .map((cell, index) => cellHtml(cell, numbers[index] ?? null, failingNumber, katex))
      .join('\n'),
  );
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${EXPORT_CSP}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(options.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<header class="doc"><h1>${escapeHtml(options.title)}</h1>${
    options.subtitle ? `<div class="meta">${escapeHtml(options.subtitle)}</div>` : ''
  }<div class="meta">A static copy: nothing in this page runs.</div></header>
${body}
</main>
</body>
</html>
`;
}

function cellHtml(
  cell: Cell,
  number: number | null,
  failingNumber: number | null,
  katex: Katex | null,
): string {
  const marker = papermillMarker(cell);
  if (marker?.kind === 'banner') {
    return `<div class="cell banner">${
      failingNumber !== null ? `Execution failed at cell ${failingNumber}` : 'Execution failed'
    }</div>`;
  }
  if (marker?.kind === 'anchor') {
    return '<p class="cell note">Execution stopped here: the next cell raised an exception.</p>';
  }
  if (cell.cell_type === 'markdown') {
    const attachments = cell.attachments;
    return `<section class="cell markdown">${
      renderMarkdown(joinText(cell.source), { katex, attachments }).html
    }</section>`;
  }
  if (cell.cell_type !== 'code') {
    return `<section class="cell raw"><pre>${escapeHtml(joinText(cell.source))}</pre></section>`;
  }
  const badge = parameterBadge(cell);
  const failed =
    (cell.metadata?.papermill as { exception?: unknown } | undefined)?.exception === true;
  const head = [
    number !== null ? `<span>Cell ${number}</span>` : '',
    badge ? `<span class="badge">${escapeHtml(badge)}</span>` : '',
    failed ? '<span class="badge failed">Failed</span>' : '',
  ].join('');
  const input = inputHidden(cell)
    ? ''
    : `<pre class="input">${escapeHtml(joinText(cell.source))}</pre>`;
  const outputs = outputsHidden(cell)
    ? `<p class="note">${cell.outputs.length} output(s) hidden by the notebook.</p>`
    : cell.outputs.map(outputHtml).join('');
  return `<section class="cell code"><div class="cell-head">${head}</div>${input}${outputs}</section>`;
}

function outputHtml(output: Output): string {
  switch (output.output_type) {
    case 'stream':
      return `<div class="output stream"><pre>${terminalHtml(joinText(output.text))}</pre></div>`;
    case 'error':
      return `<div class="output error"><pre>${terminalHtml(
        (output.traceback ?? []).join('\n') || `${output.ename}: ${output.evalue}`,
      )}</pre></div>`;
    case 'display_data':
    case 'execute_result':
      return `<div class="output">${bundleHtml(output.data ?? {})}</div>`;
    default:
      return '';
  }
}

/** The richest static form of a display bundle; scripts never. */
function bundleHtml(data: MimeBundle): string {
  const text = (mime: string) => joinText(data[mime] as never);
  if (data['text/html'] !== undefined) return sanitizeHtml(text('text/html'));
  if (data['image/svg+xml'] !== undefined) {
    // As an <img>, SVG cannot run script or reach the network.
    const svg = text('image/svg+xml');
    return `<img alt="SVG output" src="data:image/svg+xml;base64,${base64Utf8(svg)}">`;
  }
  for (const mime of IMAGE_TYPES) {
    if (data[mime] === undefined) continue;
    const b64 = text(mime).replace(/\s+/g, '');
    if (!BASE64.test(b64)) return '<p class="note">An image that is not valid base64.</p>';
    return `<img alt="${mime} output" src="data:${mime};base64,${b64}">`;
  }
  if (data['text/markdown'] !== undefined) return renderMarkdown(text('text/markdown')).html;
  if (data['text/latex'] !== undefined) return `<pre>${escapeHtml(text('text/latex'))}</pre>`;
  if (data['application/json'] !== undefined)
    return `<pre>${escapeHtml(JSON.stringify(data['application/json'], null, 2))}</pre>`;
  if (data['text/plain'] !== undefined) return `<pre>${terminalHtml(text('text/plain'))}</pre>`;
  if (data['application/javascript'] !== undefined)
    return '<p class="note">A script output: left out of this static copy.</p>';
  return `<p class="note">No static form of ${escapeHtml(Object.keys(data).join(', '))}.</p>`;
}

/**
 * Images the notebook loads from elsewhere would need the network (and tell their host who
 * reads the copy): each becomes a note naming it. Only `data:` images stay.
 */
function selfContained(html: string): string {
  const doc = new DOMParser().parseFromString(`<body>${html}</body>`, 'text/html');
  for (const img of doc.querySelectorAll('img')) {
    img.removeAttribute('srcset');
    const src = img.getAttribute('src') ?? '';
    if (src.startsWith('data:')) continue;
    const note = doc.createElement('span');
    note.className = 'note';
    note.textContent = `[image not included: ${src || 'no source'}]`;
    img.replaceWith(note);
  }
  return doc.body.innerHTML;
}

function base64Utf8(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
