/**
 * One display_data / execute_result output: picks the representation by
 * Jupyter's priority (mime.ts) and renders it. Scripted HTML and JavaScript
 * go to the sandboxed frame; everything else is rendered here, sanitized.
 */
import { useMemo } from 'react';
import { collapseAllNested, defaultStyles, JsonView } from 'react-json-view-lite';
import 'react-json-view-lite/dist/index.css';
import { escapeHtml, katexModule, typeset } from '../katex.ts';
import { useLoaded } from '../lazy.ts';
import { Markup } from '../Markup.tsx';
import { removeMath, replaceMath } from '../math.ts';
import { chooseMime, htmlNeedsFrame, interactiveKind } from '../mime.ts';
import type { JsonObject, JsonValue, MimeBundle } from '../nbformat.ts';
import { joinText } from '../nbformat.ts';
import { sanitizeHtml, sanitizeOutputHtml } from '../sanitize.ts';
import { useMarkdown } from '../useMarkdown.ts';
import { SandboxedFrame } from './SandboxedFrame.tsx';
import { PlainText } from './TextOutputs.tsx';

export interface MimeOutputProps {
  data: MimeBundle;
  metadata?: JsonObject;
  outputKey: string;
  /** Names the output ("Output 1 of cell 4"), for a frame's title. */
  title: string;
  frameOrigin: string;
}

export function MimeOutput({ data, metadata, outputKey, title, frameOrigin }: MimeOutputProps) {
  const choice = chooseMime(data);
  if (choice.kind === 'unsupported') return <p className="nes-output-note">{choice.note}</p>;
  const { mime } = choice;
  const value = data[mime];
  const interactive = Object.keys(data)
    .map(interactiveKind)
    .find((kind) => kind !== null);
  const body = (() => {
    switch (mime) {
      case 'application/javascript':
        return (
          <SandboxedFrame
            outputKey={outputKey}
            title={title}
            frameOrigin={frameOrigin}
            html={scriptTag(joinText(value))}
          />
        );
      case 'text/html':
        return (
          <HtmlOutput
            html={joinText(value)}
            outputKey={outputKey}
            title={title}
            frameOrigin={frameOrigin}
          />
        );
      case 'image/svg+xml':
        return (
          <ImageOutput
            src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(joinText(value))}`}
            size={imageSize(metadata, mime)}
          />
        );
      case 'image/png':
      case 'image/jpeg':
      case 'image/gif':
        return (
          <ImageOutput
            src={`data:${mime};base64,${joinText(value).replace(/\s+/g, '')}`}
            size={imageSize(metadata, mime)}
          />
        );
      case 'text/markdown':
        return <MarkdownOutput source={joinText(value)} />;
      case 'text/latex':
        return <LatexOutput source={joinText(value)} />;
      case 'application/json':
        return <JsonOutput value={value as JsonValue} />;
      case 'text/plain':
        return <PlainText text={joinText(value)} />;
    }
  })();
  return (
    <div className="nes-output-mime" data-mime={mime}>
      {body}
      {interactive && mime === 'text/plain' && (
        <p className="nes-output-note">
          {interactive}: interactive output; showing the text saved with it.
        </p>
      )}
    </div>
  );
}

/** A JavaScript output as a script the frame runs; `</script` inside it must not end the tag. */
function scriptTag(code: string): string {
  return `<script>${code.replace(/<\/(script)/gi, '<\\/$1')}</script>`;
}

function HtmlOutput({
  html,
  outputKey,
  title,
  frameOrigin,
}: {
  html: string;
  outputKey: string;
  title: string;
  frameOrigin: string;
}) {
  const needsFrame = useMemo(() => htmlNeedsFrame(html), [html]);
  const clean = useMemo(() => (needsFrame ? null : sanitizeOutputHtml(html)), [html, needsFrame]);
  if (clean === null)
    return (
      <SandboxedFrame outputKey={outputKey} title={title} frameOrigin={frameOrigin} html={html} />
    );
  return <Markup as="div" className="nes-output-html" html={clean} />;
}

interface ImageSize {
  width?: number;
  height?: number;
  unconfined: boolean;
}

function positive(value: JsonValue | undefined): number | undefined {
  return typeof value === 'number' && value > 0 ? value : undefined;
}

function imageSize(metadata: JsonObject | undefined, mime: string): ImageSize {
  const own = metadata?.[mime];
  const meta =
    typeof own === 'object' && own !== null && !Array.isArray(own) ? own : (metadata ?? {});
  return {
    width: positive(meta.width),
    height: positive(meta.height),
    unconfined: meta.unconfined === true,
  };
}

function ImageOutput({ src, size }: { src: string; size: ImageSize }) {
  return (
    <img
      className={size.unconfined ? 'nes-output-image nes-unconfined' : 'nes-output-image'}
      src={src}
      width={size.width}
      height={size.height}
      alt="Output"
    />
  );
}

function MarkdownOutput({ source }: { source: string }) {
  const html = useMarkdown(source);
  return <Markup as="div" className="nes-markdown nes-output-markdown" html={html} />;
}

/** text/latex: usually one display equation, sometimes math inside plain text. */
function LatexOutput({ source }: { source: string }) {
  const katex = useLoaded(katexModule, true);
  const html = useMemo(() => {
    const { text, math } = removeMath(source);
    if (math.length === 0) return typeset(katex, { tex: source, display: true, source });
    return replaceMath(escapeHtml(text), math, (span) => typeset(katex, span));
  }, [source, katex]);
  const clean = useMemo(() => sanitizeHtml(html), [html]);
  return <Markup as="div" className="nes-output-latex" html={clean} />;
}

function JsonOutput({ value }: { value: JsonValue }) {
  if (typeof value !== 'object' || value === null)
    return <PlainText text={JSON.stringify(value)} />;
  return (
    <div className="nes-output-json">
      <JsonView data={value} shouldExpandNode={collapseAllNested} style={defaultStyles} />
    </div>
  );
}
