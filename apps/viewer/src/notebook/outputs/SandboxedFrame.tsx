/**
 * HTML that needs JavaScript, shown in a sandboxed frame served from a
 * separate origin. The frame gets `sandbox="allow-scripts"` only: without
 * allow-same-origin its origin is opaque, so its scripts cannot reach the
 * viewer, its cookies or its storage, whatever origin serves it.
 *
 * Protocol (see src/frame/frame.ts): once the frame has loaded, we post
 * `{ type: 'nes:render', id, html }`; it answers `{ type: 'nes:height', id,
 * height }` whenever its content resizes. A message is believed only if it
 * comes from this frame's window (`event.source`); the origin of a sandboxed
 * frame is "null" and proves nothing.
 */
import { useEffect, useRef, useState } from 'react';

const FRAME_SANDBOX = 'allow-scripts';
const MAX_FRAME_HEIGHT = 20000;
const DEFAULT_FRAME_HEIGHT = 150;

/** Heights by output key, kept across re-renders and virtualization so frames do not jump. */
export const frameHeights = new Map<string, number>();

function clampHeight(value: unknown): number | null {
  if (typeof value !== 'number' || !Number.isFinite(value)) return null;
  return Math.min(MAX_FRAME_HEIGHT, Math.max(0, Math.ceil(value)));
}

export interface SandboxedFrameProps {
  /** Stable key of the output (cell id or index, and output index). */
  outputKey: string;
  /** The frame's accessible name, e.g. "Output 1 of cell 4". */
  title: string;
  html: string;
  frameOrigin: string;
}

export function SandboxedFrame({ outputKey, title, html, frameOrigin }: SandboxedFrameProps) {
  const frameRef = useRef<HTMLIFrameElement>(null);
  const [height, setHeight] = useState(() => frameHeights.get(outputKey) ?? DEFAULT_FRAME_HEIGHT);
  // Changed content (a display updated during a live run) gets a fresh frame: running new
  // scripts over the old ones' globals would fail. The remembered height avoids a jump.
  const [shown, setShown] = useState({ html, generation: 0 });
  if (shown.html !== html) setShown({ html, generation: shown.generation + 1 });

  const post = () => {
    // The frame's origin is opaque, so '*' is the only target origin that reaches it;
    // the message carries nothing but this output's own HTML.
    frameRef.current?.contentWindow?.postMessage({ type: 'nes:render', id: outputKey, html }, '*');
  };

  useEffect(() => {
    const onMessage = (event: MessageEvent) => {
      const frameWindow = frameRef.current?.contentWindow;
      if (!frameWindow || event.source !== frameWindow) return;
      const data = event.data as { type?: unknown; id?: unknown; height?: unknown } | null;
      if (data?.type !== 'nes:height' || data.id !== outputKey) return;
      const next = clampHeight(data.height);
      if (next === null) return;
      frameHeights.set(outputKey, next);
      setHeight(next);
    };
    window.addEventListener('message', onMessage);
    return () => window.removeEventListener('message', onMessage);
  }, [outputKey]);

  return (
    <iframe
      key={shown.generation}
      ref={frameRef}
      className="nes-output-frame"
      title={title}
      src={`${frameOrigin}/frame.html`}
      sandbox={FRAME_SANDBOX}
      referrerPolicy="no-referrer"
      style={{ height }}
      onLoad={post}
    />
  );
}
