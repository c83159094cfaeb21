import { act, render } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { renderHtml, startFrame } from '../../src/frame/frame.ts';
import { frameHeights, SandboxedFrame } from '../../src/notebook/outputs/SandboxedFrame.tsx';
import { FRAME_ORIGIN } from './fixtures.tsx';

function mountFrame(outputKey = 'cell-a:0', html = '<script>draw()</script>') {
  const view = render(
    <SandboxedFrame
      outputKey={outputKey}
      title="Output 1 of cell 1"
      html={html}
      frameOrigin={FRAME_ORIGIN}
    />,
  );
  const iframe = view.container.querySelector('iframe');
  if (!iframe?.contentWindow) throw new Error('no frame window');
  return { ...view, iframe, frameWindow: iframe.contentWindow };
}

function messageFrom(source: Window | null, data: unknown) {
  act(() => {
    window.dispatchEvent(new MessageEvent('message', { data, source, origin: 'null' }));
  });
}

afterEach(() => frameHeights.clear());

describe('the parent side of the output frame', () => {
  it('is sandboxed with scripts only, loaded from the frame origin', () => {
    const { iframe } = mountFrame();
    expect(iframe.getAttribute('sandbox')).toBe('allow-scripts');
    expect(iframe.getAttribute('src')).toBe(`${FRAME_ORIGIN}/frame.html`);
    expect(iframe.getAttribute('referrerpolicy')).toBe('no-referrer');
  });

  it('posts the output HTML once the frame has loaded; changed HTML gets a fresh frame', () => {
    const { iframe, frameWindow, rerender, container } = mountFrame('cell-a:0', '<p>one</p>');
    const post = vi.spyOn(frameWindow, 'postMessage').mockImplementation(() => {});
    expect(post).not.toHaveBeenCalled();
    act(() => {
      iframe.dispatchEvent(new Event('load'));
    });
    expect(post).toHaveBeenCalledWith(
      { type: 'nes:render', id: 'cell-a:0', html: '<p>one</p>' },
      '*',
    );

    rerender(
      <SandboxedFrame
        outputKey="cell-a:0"
        title="Output 1 of cell 1"
        html="<p>one</p>"
        frameOrigin={FRAME_ORIGIN}
      />,
    );
    expect(container.querySelector('iframe')).toBe(iframe);

    rerender(
      <SandboxedFrame
        outputKey="cell-a:0"
        title="Output 1 of cell 1"
        html="<p>two</p>"
        frameOrigin={FRAME_ORIGIN}
      />,
    );
    const fresh = container.querySelector('iframe');
    expect(fresh).not.toBe(iframe);
    expect(container.querySelectorAll('iframe')).toHaveLength(1);
    const freshWindow = fresh?.contentWindow;
    if (!fresh || !freshWindow) throw new Error('no fresh frame');
    const freshPost = vi.spyOn(freshWindow, 'postMessage').mockImplementation(() => {});
    act(() => {
      fresh.dispatchEvent(new Event('load'));
    });
    expect(freshPost).toHaveBeenCalledWith(
      { type: 'nes:render', id: 'cell-a:0', html: '<p>two</p>' },
      '*',
    );
  });

  it('takes its height only from messages whose source is its own frame, clamped', () => {
    const { iframe, frameWindow } = mountFrame();
    messageFrom(frameWindow, { type: 'nes:height', id: 'cell-a:0', height: 321.2 });
    expect(iframe.style.height).toBe('322px');

    // another window (the page itself, or another frame) is ignored, whatever it claims
    messageFrom(window, { type: 'nes:height', id: 'cell-a:0', height: 999 });
    const other = document.body.appendChild(document.createElement('iframe'));
    messageFrom(other.contentWindow, { type: 'nes:height', id: 'cell-a:0', height: 999 });
    messageFrom(null, { type: 'nes:height', id: 'cell-a:0', height: 999 });
    expect(iframe.style.height).toBe('322px');

    // wrong id, wrong type or junk from the right source changes nothing either
    messageFrom(frameWindow, { type: 'nes:height', id: 'cell-b:0', height: 50 });
    messageFrom(frameWindow, { type: 'nes:other', id: 'cell-a:0', height: 50 });
    messageFrom(frameWindow, { type: 'nes:height', id: 'cell-a:0', height: 'tall' });
    messageFrom(frameWindow, 'nes:height');
    expect(iframe.style.height).toBe('322px');

    messageFrom(frameWindow, { type: 'nes:height', id: 'cell-a:0', height: 1e9 });
    expect(iframe.style.height).toBe('20000px');
    messageFrom(frameWindow, { type: 'nes:height', id: 'cell-a:0', height: -5 });
    expect(iframe.style.height).toBe('0px');
    other.remove();
  });

  it('remembers heights per output so a re-mounted frame does not jump', () => {
    const first = mountFrame('cell-z:3');
    messageFrom(first.frameWindow, { type: 'nes:height', id: 'cell-z:3', height: 480 });
    first.unmount();
    const again = mountFrame('cell-z:3');
    expect(again.iframe.style.height).toBe('480px');
    expect(frameHeights.get('cell-z:3')).toBe(480);
  });
});

describe('the frame page', () => {
  it('runs the scripts of the HTML it is given, in order', async () => {
    const iframe = document.body.appendChild(document.createElement('iframe'));
    const doc = iframe.contentDocument as Document;
    await renderHtml(
      doc,
      '<p id="a">x</p><script>window.order = [document.getElementById("a").textContent]</script><script>window.order.push(2)</script>',
    );
    expect((iframe.contentWindow as unknown as { order: unknown[] }).order).toEqual(['x', 2]);
    expect(doc.body.querySelectorAll('script')).toHaveLength(2);
    iframe.remove();
  });

  it('renders only what its parent sends and reports its height to the parent', async () => {
    const iframe = document.body.appendChild(document.createElement('iframe'));
    const frameWindow = iframe.contentWindow as Window & typeof globalThis;
    // (under vitest the test's `window` is Node's global; the frame's parent is jsdom's window)
    const parent = frameWindow.parent;
    startFrame(frameWindow);
    const toParent = vi.spyOn(parent, 'postMessage').mockImplementation(() => {});
    vi.spyOn(frameWindow.document.body, 'getBoundingClientRect').mockReturnValue({
      height: 240,
    } as DOMRect);

    // from a window that is not the parent: ignored
    frameWindow.dispatchEvent(
      new MessageEvent('message', {
        data: { type: 'nes:render', id: 'k', html: '<b>evil</b>' },
        source: frameWindow,
      }),
    );
    expect(frameWindow.document.body.innerHTML).toBe('');

    frameWindow.dispatchEvent(
      new MessageEvent('message', {
        data: { type: 'nes:render', id: 'k:1', html: '<b>plot</b>' },
        source: parent,
      }),
    );
    await vi.waitFor(() =>
      expect(toParent).toHaveBeenCalledWith({ type: 'nes:height', id: 'k:1', height: 240 }, '*'),
    );
    expect(frameWindow.document.body.innerHTML).toBe('<b>plot</b>');
    toParent.mockRestore();
    iframe.remove();
  });
});
