/**
 * The static HTML export: self-contained, readable, and unable to run anything a notebook put in
 * it. The exported page is loaded into a document and searched for every way to execute.
 */
import { describe, expect, it } from 'vitest';
import { EXPORT_CSP, exportNotebookHtml } from '../../src/notebook/export-html.ts';
import { code, display, md, notebook, result, stream } from './fixtures.tsx';

const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAoAAAAKCAYAAACNMs+9AAAAFklEQVR42mNk+M9Qz0AEYBxVSF+FAAhKDveksOjmAAAAAElFTkSuQmCC';

const hostile = notebook([
  md(
    [
      '# Report $e^{i\\pi}+1=0$',
      '<script>window.pwned = 1</script>',
      '<img src="x" onerror="window.pwned = 2">',
      '[link](javascript:alert(1))',
      '<iframe srcdoc="<script>parent.pwned=3</script>"></iframe>',
      '<img src="https://tracker.example/pixel.png">',
    ].join('\n\n'),
  ),
  code('x = 1', [], { metadata: { tags: ['parameters'] } }),
  code('x = 2', [], { metadata: { tags: ['injected-parameters'] } }),
  code('print("hi")', [stream('hello \u001b[31mred\u001b[0m <b>not bold</b>\n')]),
  code('show()', [
    display({
      'text/html': '<p onclick="pwned=4">table</p><script>pwned=5</script><style>body{}</style>',
      'text/plain': 'fallback',
    }),
    display({ 'application/javascript': 'window.pwned = 6' }),
    display({ 'image/png': PNG }),
    display({
      'image/svg+xml':
        '<svg xmlns="http://www.w3.org/2000/svg" onload="pwned=7"><script>pwned=8</script></svg>',
    }),
    result({ 'text/plain': "{'a': 1}" }),
  ]),
]);

describe('static HTML export', () => {
  it('keeps what a reader needs and nothing that runs', async () => {
    const html = await exportNotebookHtml(hostile, {
      title: 'report.ipynb <script>',
      subtitle: 'run abc, succeeded',
    });
    const doc = new DOMParser().parseFromString(html, 'text/html');
    expect(
      doc.querySelector('meta[http-equiv="Content-Security-Policy"]')?.getAttribute('content'),
    ).toBe(EXPORT_CSP);
    expect(EXPORT_CSP).toContain("default-src 'none'");
    expect(doc.title).toBe('report.ipynb <script>');
    // nothing executable anywhere
    expect(doc.querySelectorAll('script, iframe, object, embed, form, base').length).toBe(0);
    for (const element of doc.querySelectorAll('*')) {
      for (const attribute of element.getAttributeNames()) {
        expect(attribute.startsWith('on'), `${element.tagName} ${attribute}`).toBe(false);
      }
      const href = element.getAttribute('href') ?? '';
      expect(href.toLowerCase().startsWith('javascript:')).toBe(false);
    }
    // self-contained: images only as data: URIs (the tracker pixel is dropped or inert)
    for (const img of doc.querySelectorAll('img')) {
      const src = img.getAttribute('src') ?? '';
      expect(src.startsWith('data:'), src).toBe(true);
    }
    expect(doc.body.textContent).toContain(
      '[image not included: https://tracker.example/pixel.png]',
    );
    expect(doc.querySelector(`img[src="data:image/png;base64,${PNG}"]`)).not.toBeNull();
    expect(doc.querySelector('img[src^="data:image/svg+xml;base64,"]')).not.toBeNull();
    // the reader's content is there
    const text = doc.body.textContent ?? '';
    expect(text).toContain('Report');
    expect(text).toContain('hello red <b>not bold</b>');
    expect(text).toContain('table');
    expect(text).toContain("{'a': 1}");
    expect(text).toContain('A script output: left out of this static copy.');
    // the author's numbering, as in the viewer
    expect([...doc.querySelectorAll('.cell-head')].map((h) => h.textContent)).toEqual([
      'Cell 1Parameters',
      'Injected parameters',
      'Cell 2',
      'Cell 3',
    ]);
    // math is typeset (MathML kept for browsers to draw)
    expect(doc.querySelector('math')).not.toBeNull();
  });
});
