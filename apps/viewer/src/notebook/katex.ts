/** Typesets math with KaTeX (loaded lazily, with its stylesheet). */
import type { KatexOptions } from 'katex';
import { lazyModule } from './lazy.ts';
import type { MathSpan } from './math.ts';

export interface Katex {
  renderToString(tex: string, options?: KatexOptions): string;
}

export const katexModule = lazyModule<Katex>(async () => {
  const [katex] = await Promise.all([import('katex'), import('katex/dist/katex.min.css')]);
  return katex.default;
});

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/**
 * KaTeX HTML for one span; errors are shown inline (red, with the message
 * as a tooltip) rather than thrown. Without KaTeX yet, the escaped source.
 */
export function typeset(katex: Katex | null, span: MathSpan): string {
  if (span.literal) return escapeHtml(span.source);
  if (!katex) return `<span class="nes-math-pending">${escapeHtml(span.source)}</span>`;
  return katex.renderToString(span.tex, {
    displayMode: span.display,
    throwOnError: false,
    trust: false,
    strict: 'ignore',
    output: 'htmlAndMathml',
  });
}
