/**
 * The one place HTML from a notebook is cleaned before it enters the page.
 * A private DOMPurify instance (its hooks must not leak into other users of
 * DOMPurify) strips scripts, event handlers and `javascript:` URLs, and
 * also what is inert but still acts on the viewer: `<style>` (a notebook's
 * CSS would restyle the whole viewer) and forms and their controls (a click
 * would submit to the viewer's own origin, with its session). Only the
 * disabled checkboxes of task lists remain. It resolves `attachment:` image
 * sources from the cell, and makes links open safely.
 */
import DOMPurify from 'dompurify';
import { attachmentUrl } from './attachments.ts';
import { type CleanHtml, cleanHtml } from './Markup.tsx';
import type { Attachments } from './nbformat.ts';

const purify = DOMPurify(window);

const FORBID_TAGS = [
  'style',
  'form',
  'button',
  'select',
  'option',
  'optgroup',
  'textarea',
  'datalist',
];
const FORBID_ATTR = ['action', 'formaction', 'form', 'name'];

let currentAttachments: Attachments | undefined;

purify.addHook('uponSanitizeElement', (node, data) => {
  if (data.tagName !== 'input') return;
  if ((node as Element).getAttribute('type')?.toLowerCase() !== 'checkbox')
    node.parentNode?.removeChild(node);
});

purify.addHook('uponSanitizeAttribute', (_node, data) => {
  if (data.attrName === 'src' && data.attrValue.startsWith('attachment:')) {
    data.attrValue = attachmentUrl(currentAttachments, data.attrValue) ?? '';
  }
});

purify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'INPUT') node.setAttribute('disabled', '');
  if (node.tagName !== 'A' || !node.hasAttribute('href')) return;
  node.setAttribute('rel', 'noopener noreferrer');
  // In-page anchors (headings, the papermill error cell) stay in this tab.
  if (!(node.getAttribute('href') ?? '').startsWith('#')) node.setAttribute('target', '_blank');
});

// Parsed once: DOMPurify re-reads a config passed to each call, which costs as much as small inputs.
purify.setConfig({
  FORBID_TAGS,
  FORBID_ATTR,
  // KaTeX's MathML keeps the TeX source in <semantics><annotation>; plain
  // <annotation> is text only (unlike <annotation-xml>, which stays forbidden).
  ADD_TAGS: ['semantics', 'annotation'],
  ADD_ATTR: ['target', 'encoding'],
});

/** Returns `html` with everything executable (or able to act on the viewer) removed. */
export function sanitizeHtml(html: string, attachments?: Attachments): CleanHtml {
  currentAttachments = attachments;
  try {
    return cleanHtml(purify.sanitize(html));
  } finally {
    currentAttachments = undefined;
  }
}

const CACHE_LIMIT = 300;
/** Larger outputs are not kept: the cache must stay small next to the notebook itself. */
const CACHE_MAX_CHARS = 256 * 1024;
const cache = new Map<string, CleanHtml>();

/**
 * `sanitizeHtml` for output HTML, remembered by content: a virtualized cell
 * scrolled back into view (or re-fetched during a live run) costs a lookup.
 */
export function sanitizeOutputHtml(html: string): CleanHtml {
  const hit = cache.get(html);
  if (hit !== undefined) return hit;
  const clean = sanitizeHtml(html);
  if (html.length > CACHE_MAX_CHARS) return clean;
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(html, clean);
  return clean;
}
