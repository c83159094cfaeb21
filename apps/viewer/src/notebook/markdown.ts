/**
 * Markdown cells to safe HTML: math is split out first (math.ts), the rest
 * goes through markdown-it with GitHub's extensions (tables, strikethrough,
 * autolinks, task lists) and heading anchors, then math is typeset back in
 * and the whole result is sanitized (sanitize.ts).
 */
import type { HLJSApi } from 'highlight.js';
import MarkdownIt from 'markdown-it';
import anchor from 'markdown-it-anchor';
import taskLists from 'markdown-it-task-lists';
import { attachmentUrl } from './attachments.ts';
import { grammarName, highlight } from './highlight.ts';
import { type Katex, typeset } from './katex.ts';
import type { CleanHtml } from './Markup.tsx';
import { type MathSpan, removeMath, replaceMath } from './math.ts';
import type { Attachments } from './nbformat.ts';
import { sanitizeHtml } from './sanitize.ts';

/**
 * Heading ids the way JupyterLab makes them (text with spaces as dashes,
 * case kept), so links notebook authors wrote for JupyterLab keep working.
 */
function headingSlug(text: string): string {
  return text
    .trim()
    .replace(/\s+/g, '-')
    .replace(/["'<>&?#%`]/g, '');
}

interface RenderEnv {
  attachments?: Attachments;
  /** The math split out of this text, so heading ids are made from what the author wrote. */
  math?: readonly MathSpan[];
}

/** The highlighter for the fences of the text being rendered (rendering is synchronous). */
let fenceHighlighter: HLJSApi | null = null;

const md = new MarkdownIt({
  html: true,
  linkify: true,
  // An empty string tells markdown-it to escape the code itself.
  highlight: (code, language) => {
    const name = grammarName(language);
    return fenceHighlighter && name ? highlight(fenceHighlighter, name, code) : '';
  },
});
md.use(taskLists);
md.use(anchor, {
  slugifyWithState: (text, state) =>
    headingSlug(
      replaceMath(text, (state.env as RenderEnv | undefined)?.math ?? [], (span) => span.source),
    ),
  tabIndex: false,
});

const renderImage = md.renderer.rules.image;
md.renderer.rules.image = (tokens, idx, options, env, self) => {
  const token = tokens[idx];
  const src = String(token?.attrGet('src') ?? '');
  if (token && src.startsWith('attachment:'))
    token.attrSet('src', attachmentUrl((env as RenderEnv | undefined)?.attachments, src) ?? '');
  return renderImage
    ? renderImage(tokens, idx, options, env, self)
    : self.renderToken(tokens, idx, options);
};

export interface RenderedMarkdown {
  html: CleanHtml;
  /** Whether the text has math (so KaTeX is worth loading). */
  hasMath: boolean;
  /** highlight.js grammars its code fences ask for (so they are worth loading). */
  grammars: string[];
}

export interface MarkdownOptions {
  /** Typesets math when given; math shows as its escaped source otherwise. */
  katex?: Katex | null;
  /** Highlights code fences when given (with their grammars registered). */
  hljs?: HLJSApi | null;
  attachments?: Attachments;
}

const CACHE_LIMIT = 500;
const cache = new Map<string, RenderedMarkdown>();

/** The grammars named by the info strings of a text's code fences. */
function fenceGrammars(source: string): string[] {
  const names = new Set<string>();
  for (const [, language] of source.matchAll(/^ {0,3}(?:`{3,}|~{3,})\s*([\w+#.-]+)/gm)) {
    const name = grammarName(language);
    if (name) names.add(name);
  }
  return [...names];
}

/** Whether a text has been rendered before (in any state of KaTeX and highlight.js), so showing it is cheap. */
export function markdownRendered(source: string): boolean {
  for (const flags of ['11', '10', '01', '00'])
    if (cache.has(`${flags}\u0000${source}`)) return true;
  return false;
}

/**
 * Sanitized HTML for a markdown cell. Results without attachments are
 * cached by source, so scrolling a cell back into view is free.
 */
export function renderMarkdown(source: string, options: MarkdownOptions = {}): RenderedMarkdown {
  const { katex = null, hljs = null, attachments } = options;
  const hasAttachments = attachments !== undefined && Object.keys(attachments).length > 0;
  // Cells with attachments (their images inline) and huge cells are rendered, not remembered.
  const cacheable = !hasAttachments && source.length <= 256 * 1024;
  const key = `${katex ? 1 : 0}${hljs ? 1 : 0}\u0000${source}`;
  if (cacheable) {
    const hit = cache.get(key);
    if (hit) return hit;
  }
  const { text, math } = removeMath(source);
  fenceHighlighter = hljs;
  let html: string;
  try {
    html = md.render(text, { attachments, math } satisfies RenderEnv);
  } finally {
    fenceHighlighter = null;
  }
  const rendered: RenderedMarkdown = {
    html: sanitizeHtml(
      replaceMath(html, math, (span) => typeset(katex, span)),
      attachments,
    ),
    hasMath: math.some((span) => !span.literal),
    grammars: fenceGrammars(text),
  };
  if (cacheable) {
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
    cache.set(key, rendered);
  }
  return rendered;
}

export interface Heading {
  level: number;
  /** Plain heading text, math shown as written. */
  text: string;
  id: string;
}

/** The headings of a markdown cell, in order, with the ids the rendered cell gives them. */
const headingCache = new Map<string, Heading[]>();

export function markdownHeadings(source: string): Heading[] {
  if (!source.includes('#') && !/\n\s*[=-]+\s*(\n|$)/.test(source)) return [];
  const hit = headingCache.get(source);
  if (hit) return hit;
  const headings = parseHeadings(source);
  if (headingCache.size >= 4 * CACHE_LIMIT)
    headingCache.delete(headingCache.keys().next().value as string);
  headingCache.set(source, headings);
  return headings;
}

function parseHeadings(source: string): Heading[] {
  const { text, math } = removeMath(source);
  const tokens = md.parse(text, { math } satisfies RenderEnv);
  const headings: Heading[] = [];
  for (const [i, token] of tokens.entries()) {
    if (token.type !== 'heading_open') continue;
    const inline = tokens[i + 1];
    const plain = (inline?.children ?? [])
      .filter((child) => child.type === 'text' || child.type === 'code_inline')
      .map((child) => child.content)
      .join('');
    headings.push({
      level: Number(token.tag.slice(1)),
      text: replaceMath(plain, math, (span) => span.source),
      id: String(token.attrGet('id') ?? ''),
    });
  }
  return headings;
}
