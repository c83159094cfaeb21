/**
 * Markdown rendered at once as plain text, then again when what it needs
 * has loaded: KaTeX for its math, highlight.js grammars for its code fences.
 */
import { useMemo } from 'react';
import { highlighterForAll } from './highlight.ts';
import { katexModule } from './katex.ts';
import { useLoaded } from './lazy.ts';
import type { CleanHtml } from './Markup.tsx';
import { renderMarkdown } from './markdown.ts';
import type { Attachments } from './nbformat.ts';

export function useMarkdown(source: string, attachments?: Attachments): CleanHtml {
  const plain = useMemo(() => renderMarkdown(source, { attachments }), [source, attachments]);
  const katex = useLoaded(katexModule, plain.hasMath);
  const grammarKey = plain.grammars.join(',');
  // biome-ignore lint/correctness/useExhaustiveDependencies: keyed by the grammar names, not the array
  const highlighter = useMemo(() => highlighterForAll(plain.grammars), [grammarKey]);
  const hljs = useLoaded(highlighter, highlighter !== null);
  return useMemo(
    () => (katex || hljs ? renderMarkdown(source, { katex, hljs, attachments }).html : plain.html),
    [source, katex, hljs, attachments, plain],
  );
}
