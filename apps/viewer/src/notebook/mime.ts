/**
 * Which representation of a display_data / execute_result output to show,
 * in Jupyter's display priority. Rich JavaScript formats with no renderer
 * here (widgets, Plotly and Vega-Lite JSON) fall back to a static
 * representation saved beside them, or to a note when there is none.
 */
import type { MimeBundle } from './nbformat.ts';

const WIDGET_MIME = 'application/vnd.jupyter.widget-view+json';
const PLOTLY_MIME = 'application/vnd.plotly.v1+json';

/** Jupyter's display priority, richest first. */
export const DISPLAY_PRIORITY = [
  'application/javascript',
  'text/html',
  'image/svg+xml',
  'image/png',
  'image/jpeg',
  'image/gif',
  'text/markdown',
  'text/latex',
  'application/json',
  'text/plain',
] as const;

export type RenderableMime = (typeof DISPLAY_PRIORITY)[number];

/** Formats that need their own JavaScript library; we only ever show their static fallback. */
export function interactiveKind(mime: string): string | null {
  if (mime === WIDGET_MIME) return 'Jupyter widget';
  if (mime === PLOTLY_MIME) return 'Plotly figure';
  if (/^application\/vnd\.vegalite\.v\d+\+json$/.test(mime)) return 'Vega-Lite chart';
  if (/^application\/vnd\.vega\.v\d+\+json$/.test(mime)) return 'Vega chart';
  return null;
}

export type MimeChoice =
  | { kind: 'render'; mime: RenderableMime }
  | { kind: 'unsupported'; note: string };

export function chooseMime(data: MimeBundle): MimeChoice {
  for (const mime of DISPLAY_PRIORITY) {
    if (data[mime] !== undefined && data[mime] !== null) return { kind: 'render', mime };
  }
  const types = Object.keys(data);
  const interactive = types.map(interactiveKind).find((kind) => kind !== null);
  if (interactive) {
    return {
      kind: 'unsupported',
      note: `${interactive}: interactive output with no static copy saved in the notebook.`,
    };
  }
  const result = resultNote(data);
  if (result) return { kind: 'unsupported', note: result };
  if (types.length === 0) return { kind: 'unsupported', note: 'Empty output.' };
  return { kind: 'unsupported', note: `No renderer for ${types.join(', ')}.` };
}

/**
 * Whether HTML needs JavaScript to work (scripts, inline event handlers,
 * frames, plugins, `javascript:` URLs).
 * Deliberately generous: a false positive only costs a frame.
 */
function htmlNeedsScript(html: string): boolean {
  return /<\s*(script|iframe|object|embed|frame|frameset|applet)\b|\son[a-z]+\s*=|javascript\s*:|require\.config|<\s*link\b[^>]*\bimport\b/i.test(
    html,
  );
}

/**
 * Whether a `<style>` block styles more than pandas' DataFrame table (its
 * `.dataframe` rules, which the viewer's own stylesheet covers). Such CSS
 * (a pandas Styler, a report's theme) cannot come into the viewer's page, where
 * it would restyle everything, but it renders faithfully in the frame.
 */
function htmlHasOwnStyles(html: string): boolean {
  if (!/<style/i.test(html)) return false;
  for (const [, css = ''] of html.matchAll(/<style[^>]*>([\s\S]*?)<\/style\s*>/gi)) {
    const rules = css.replace(/\/\*[\s\S]*?\*\//g, '').split('}');
    for (const rule of rules) {
      const selectors = rule.split('{')[0]?.trim() ?? '';
      if (selectors === '') continue;
      if (!selectors.split(',').every((selector) => selector.trim().startsWith('.dataframe')))
        return true;
    }
  }
  return false;
}

/**
 * HTML shown only inside the sandboxed output frame: it needs script, or
 * brings its own styles. Everything else is sanitized and shown inline.
 */
export function htmlNeedsFrame(html: string): boolean {
  return htmlNeedsScript(html) || htmlHasOwnStyles(html);
}

/**
 * A result the notebook recorded (`nes.record`, scrapbook's `glue`, papermill's `record`) or
 * `nes.exit`: these outputs carry data, not a picture, and say so in a line (as text only).
 */
export function resultNote(data: MimeBundle): string | null {
  for (const [mime, payload] of Object.entries(data)) {
    const object =
      typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : null;
    if (mime === 'application/vnd.nes.exit+json') return 'The run ended here (nes.exit).';
    if (mime.startsWith('application/scrapbook.scrap.') && typeof object?.name === 'string') {
      return `Result "${object.name}" recorded (see the run's results).`;
    }
    if (mime.startsWith('application/papermill.record') && object) {
      const name = Object.keys(object)[0];
      if (name !== undefined) return `Result "${name}" recorded (see the run's results).`;
    }
  }
  return null;
}
