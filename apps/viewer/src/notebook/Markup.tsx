/**
 * The one place the renderer puts markup into the page. Only `CleanHtml`
 * is accepted: strings made by DOMPurify (sanitize.ts) or by libraries that
 * escape their input (highlight.js, ansi_up, KaTeX via the sanitizer).
 * The brand makes the type checker reject any other string.
 */
import { createElement } from 'react';

export type CleanHtml = string & { readonly __clean: true };

/** Marks a string as safe markup; only for output of an escaping library or the sanitizer. */
export function cleanHtml(html: string): CleanHtml {
  return html as CleanHtml;
}

export function Markup({
  as,
  html,
  className,
}: {
  as: 'div' | 'code' | 'span';
  html: CleanHtml;
  className?: string;
}) {
  return createElement(as, { className, dangerouslySetInnerHTML: { __html: html } });
}
