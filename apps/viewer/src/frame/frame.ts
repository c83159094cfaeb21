/**
 * The output frame: a page served from the separate output origin and
 * loaded by the viewer in `<iframe sandbox="allow-scripts">`. It depends on
 * nothing from the viewer's origin. It waits for the viewer (its parent) to
 * post `{ type: 'nes:render', id, html }`, writes that HTML into its body
 * with the scripts running in document order (an external script finishes
 * loading before the next script runs, as in a parsed page), and reports
 * its content height as `{ type: 'nes:height', id, height }` whenever the
 * content resizes, so the viewer can size the frame without scrollbars.
 */

export interface RenderMessage {
  type: 'nes:render';
  id: string;
  html: string;
}

export function isRenderMessage(data: unknown): data is RenderMessage {
  const message = data as Partial<RenderMessage> | null;
  return (
    typeof message === 'object' &&
    message !== null &&
    message.type === 'nes:render' &&
    typeof message.id === 'string' &&
    typeof message.html === 'string'
  );
}

/** Makes an inert parsed script (innerHTML scripts never run) into one that runs when inserted. */
function liveScript(doc: Document, inert: HTMLScriptElement): HTMLScriptElement {
  const script = doc.createElement('script');
  for (const attribute of Array.from(inert.attributes))
    script.setAttribute(attribute.name, attribute.value);
  script.text = inert.text;
  if (script.src) script.async = false;
  return script;
}

/** Replaces the body's content with `html` and runs its scripts in order. */
export async function renderHtml(doc: Document, html: string): Promise<void> {
  const template = doc.createElement('template');
  template.innerHTML = html;
  doc.body.replaceChildren(template.content);
  for (const inert of Array.from(doc.body.querySelectorAll('script'))) {
    const script = liveScript(doc, inert);
    const loaded = script.src
      ? new Promise<void>((resolve) => {
          script.addEventListener('load', () => resolve());
          script.addEventListener('error', () => resolve());
        })
      : null;
    inert.replaceWith(script);
    if (loaded) await loaded;
  }
}

/** The height the content needs, without the frame's own height feeding back into it. */
export function contentHeight(doc: Document): number {
  const body = doc.body;
  const root = doc.documentElement;
  const content = Math.max(body.scrollHeight, body.getBoundingClientRect().height);
  // Wide output (a big table) scrolls sideways; the scrollbar takes height from the frame.
  const view = doc.defaultView;
  const scrollbar =
    view && root.scrollWidth > root.clientWidth
      ? Math.max(0, view.innerHeight - root.clientHeight)
      : 0;
  return Math.ceil(content + scrollbar);
}

/** Wires the frame up: render on the parent's message, report heights back to the parent. */
export function startFrame(win: Window & typeof globalThis): void {
  const doc = win.document;
  let currentId: string | null = null;
  let lastHeight = -1;
  const report = () => {
    if (currentId === null) return;
    const height = contentHeight(doc);
    if (height === lastHeight) return;
    lastHeight = height;
    // The parent's origin is unknown to an opaque-origin frame; the message holds only a height.
    win.parent.postMessage({ type: 'nes:height', id: currentId, height }, '*');
  };
  if (typeof win.ResizeObserver === 'function') new win.ResizeObserver(report).observe(doc.body);
  win.addEventListener('load', report);
  win.addEventListener('message', (event: MessageEvent) => {
    if (event.source !== win.parent || !isRenderMessage(event.data)) return;
    currentId = event.data.id;
    lastHeight = -1;
    renderHtml(doc, event.data.html).then(report, report);
    report();
  });
}

if (typeof window !== 'undefined' && window.parent !== window) startFrame(window);
