import { fireEvent, screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { DISPLAY_PRIORITY } from '../../src/notebook/mime.ts';
import type { Output } from '../../src/notebook/nbformat.ts';
import {
  excerpt,
  LONG_OUTPUT_LINES,
  STREAM_LIMIT,
  TAIL_LINES,
} from '../../src/notebook/outputs/TextOutputs.tsx';
import {
  code,
  display,
  FRAME_ORIGIN,
  md,
  notebook,
  renderNotebook,
  result,
  stream,
} from './fixtures.tsx';

const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

function renderOutputs(outputs: Output[]) {
  const { container } = renderNotebook(notebook([code('x', outputs, { execution_count: 7 })]));
  const area = container.querySelector('.nes-outputs');
  if (!area) throw new Error('no output area rendered');
  return area as HTMLElement;
}

/** Asserts the page's own DOM holds nothing that could run script. */
function expectNothingExecutable(root: HTMLElement) {
  expect(root.querySelector('script, object, embed, svg')).toBeNull();
  for (const element of Array.from(root.querySelectorAll('*'))) {
    if (element.tagName === 'IFRAME') continue; // checked separately: sandboxed, cross-origin
    for (const attribute of Array.from(element.attributes)) {
      expect(attribute.name.startsWith('on'), `${element.tagName} ${attribute.name}`).toBe(false);
      expect(attribute.value).not.toMatch(/^\s*javascript:/i);
    }
  }
}

describe('streams', () => {
  it('merges consecutive outputs of one stream and keeps stderr apart', () => {
    const area = renderOutputs([
      stream('a\n'),
      stream('b\n'),
      stream('oops\n', 'stderr'),
      stream('c\n'),
    ]);
    const streams = Array.from(area.querySelectorAll('pre.nes-output-stream'), (pre) => [
      pre.getAttribute('data-stream'),
      pre.textContent,
    ]);
    expect(streams).toEqual([
      ['stdout', 'a\nb\n'],
      ['stderr', 'oops\n'],
      ['stdout', 'c\n'],
    ]);
  });

  it('shows ANSI colours and escapes HTML', () => {
    const area = renderOutputs([stream('\x1b[31mred\x1b[0m <script>alert(1)</script>\n')]);
    const red = Array.from(area.querySelectorAll('span')).find(
      (span) => span.textContent === 'red',
    );
    expect(red?.getAttribute('style')).toMatch(/color:\s*rgb\(187,\s*0,\s*0\)/);
    expect(area.textContent).toContain('<script>alert(1)</script>');
    expectNothingExecutable(area);
  });

  it('replays tqdm-style carriage returns across merged chunks: only the last state shows', () => {
    const area = renderOutputs([
      stream('  0%|          | 0/3 [00:00<?, ?it/s]', 'stderr'),
      stream('\r 33%|###3      | 1/3 [00:01<00:02,  1.00s/it]', 'stderr'),
      stream('\r100%|##########| 3/3 [00:03<00:00,  1.00s/it]\n', 'stderr'),
      stream('done\r\nnext\n'),
    ]);
    const [bar, out] = Array.from(area.querySelectorAll('pre'), (pre) => pre.textContent);
    expect(bar).toBe('100%|##########| 3/3 [00:03<00:00,  1.00s/it]\n');
    expect(out).toBe('done\nnext\n');
  });

  it('applies backspaces and overwrites like a terminal, colours included', () => {
    const area = renderOutputs([
      stream('abc\b\bX\nlong line\rshort\n\x1b[32mwait\rdone\x1b[0m\n\x1b[31mre\x1b[0m\rok\n'),
    ]);
    expect(area.querySelector('pre')?.textContent).toBe('aXc\nshortline\ndone\nok\n');
    const spans = Array.from(area.querySelectorAll('span'), (span) => [
      span.textContent,
      span.getAttribute('style'),
    ]);
    // "done" was written while green was on; "ok" after the reset, so it has no colour
    expect(spans).toEqual([['done', 'color:rgb(0,187,0)']]);
  });
});

describe('errors and results', () => {
  it('renders a traceback with ANSI colours', () => {
    const area = renderOutputs([
      {
        output_type: 'error',
        ename: 'ZeroDivisionError',
        evalue: 'division by zero',
        traceback: [
          '\x1b[0;31mZeroDivisionError\x1b[0m Traceback',
          '\x1b[0;31mZeroDivisionError\x1b[0m: division by zero',
        ],
      },
    ]);
    const error = area.querySelector('section.nes-output-error');
    expect(error?.getAttribute('aria-label')).toBe('Error: ZeroDivisionError');
    expect(error?.textContent).toBe(
      'ZeroDivisionError Traceback\nZeroDivisionError: division by zero',
    );
    expect(error?.querySelector('span[style*="color"]')).not.toBeNull();
  });

  it('labels an execute_result with Out[n]', () => {
    const area = renderOutputs([stream('log\n'), result({ 'text/plain': '42' }, 7)]);
    const prompts = Array.from(area.querySelectorAll('.nes-output-prompt'), (p) => p.textContent);
    expect(prompts).toEqual(['', 'Out[7]:']);
    expect(area.querySelector('.nes-output-text')?.textContent).toBe('42');
  });
});

describe('display priority', () => {
  const full: Record<string, unknown> = {
    'application/javascript': 'console.log(1)',
    'text/html': '<b>html</b>',
    'image/svg+xml': '<svg xmlns="http://www.w3.org/2000/svg"/>',
    'image/png': PNG,
    'image/jpeg': PNG,
    'image/gif': PNG,
    'text/markdown': '**md**',
    'text/latex': '$x$',
    'application/json': { a: 1 },
    'text/plain': 'plain',
  };

  it.each(DISPLAY_PRIORITY.map((mime, i) => [mime, i]))(
    'chooses %s over everything after it',
    (mime, i) => {
      const data = Object.fromEntries(
        Object.entries(full).filter(([key]) => DISPLAY_PRIORITY.indexOf(key as never) >= i),
      );
      const area = renderOutputs([display(data)]);
      expect(area.querySelector('.nes-output-mime')?.getAttribute('data-mime')).toBe(mime);
    },
  );

  it('shows a widget only through its static fallback, else a note', () => {
    const widget = { model_id: 'abc', version_major: 2, version_minor: 0 };
    const area = renderOutputs([
      display({
        'application/vnd.jupyter.widget-view+json': widget,
        'text/plain': 'IntSlider(value=3)',
      }),
      display({ 'application/vnd.jupyter.widget-view+json': widget }),
    ]);
    const outputs = area.querySelectorAll('.nes-output');
    expect(outputs[0]?.querySelector('.nes-output-text')?.textContent).toBe('IntSlider(value=3)');
    expect(outputs[0]?.querySelector('.nes-output-note')?.textContent).toMatch(/Jupyter widget/);
    expect(outputs[1]?.textContent).toMatch(
      /Jupyter widget: interactive output with no static copy/,
    );
  });

  it('shows recorded results and nes.exit as a line of text, never their payload as markup', () => {
    const area = renderOutputs([
      display({
        'application/scrapbook.scrap.json+json': {
          name: '<img src=x onerror=alert(1)>',
          data: 1,
          encoder: 'json',
          store: 'notebook',
          version: 2,
        },
      }),
      display({ 'application/papermill.record+json': { rows: 3 } }),
      display({ 'application/vnd.nes.exit+json': { value: null, version: 1 } }),
    ]);
    expect(Array.from(area.querySelectorAll('.nes-output-note'), (n) => n.textContent)).toEqual([
      'Result "<img src=x onerror=alert(1)>" recorded (see the run\'s results).',
      'Result "rows" recorded (see the run\'s results).',
      'The run ended here (nes.exit).',
    ]);
    expectNothingExecutable(area);
    expect(area.querySelector('img')).toBeNull();
  });

  it('falls back from Plotly and Vega-Lite JSON to their static images', () => {
    const area = renderOutputs([
      display({ 'application/vnd.plotly.v1+json': { data: [] }, 'image/png': PNG }),
      display({ 'application/vnd.vegalite.v5+json': { mark: 'bar' }, 'image/svg+xml': '<svg/>' }),
      display({ 'application/vnd.plotly.v1+json': { data: [] } }),
    ]);
    const mimes = Array.from(area.querySelectorAll('.nes-output-mime'), (m) =>
      m.getAttribute('data-mime'),
    );
    expect(mimes).toEqual(['image/png', 'image/svg+xml']);
    expect(area.textContent).toMatch(/Plotly figure: interactive output with no static copy/);
  });
});

describe('images', () => {
  it('renders SVG as an <img> with a data: URL, never inline', () => {
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" onload="window.pwned=1"><script>window.pwned=2</script></svg>';
    const area = renderOutputs([display({ 'image/svg+xml': svg })]);
    const img = area.querySelector('img');
    expect(img?.getAttribute('src')).toBe(
      `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`,
    );
    expectNothingExecutable(area);
  });

  it('renders png, jpeg and gif with their metadata sizes', () => {
    const area = renderOutputs([
      display(
        { 'image/png': `${PNG.slice(0, 20)}\n${PNG.slice(20)}` },
        { 'image/png': { width: 320, height: 200 } },
      ),
      display({ 'image/jpeg': PNG }, { width: 100 }),
      display({ 'image/gif': PNG }, { 'image/gif': { unconfined: true } }),
    ]);
    const images = Array.from(area.querySelectorAll('img'), (img) => ({
      src: img.getAttribute('src')?.slice(0, 22),
      width: img.getAttribute('width'),
      height: img.getAttribute('height'),
      unconfined: img.classList.contains('nes-unconfined'),
    }));
    expect(images).toEqual([
      { src: 'data:image/png;base64,', width: '320', height: '200', unconfined: false },
      { src: 'data:image/jpeg;base64', width: '100', height: null, unconfined: false },
      { src: 'data:image/gif;base64,', width: null, height: null, unconfined: true },
    ]);
    expect(area.querySelector('img')?.getAttribute('src')).toBe(`data:image/png;base64,${PNG}`);
  });
});

describe('text formats', () => {
  it('renders text/latex with KaTeX', async () => {
    const area = renderOutputs([
      display({ 'text/latex': '$$\\frac{a}{b}$$' }),
      display({ 'text/latex': '\\alpha^2' }),
    ]);
    await waitFor(() => expect(area.querySelectorAll('.nes-output-latex .katex')).toHaveLength(2));
    const tex = Array.from(area.querySelectorAll('annotation'), (a) => a.textContent);
    expect(tex).toEqual(['\\frac{a}{b}', '\\alpha^2']);
  });

  it('renders text/markdown, sanitized', () => {
    const area = renderOutputs([
      display({ 'text/markdown': '## Result\n\n<img src=x onerror="alert(1)"> **bold**' }),
    ]);
    expect(area.querySelector('.nes-output-markdown h2')?.textContent).toBe('Result');
    expect(area.querySelector('.nes-output-markdown strong')?.textContent).toBe('bold');
    expectNothingExecutable(area);
  });

  it('renders application/json as a collapsible tree', () => {
    const area = renderOutputs([
      display({ 'application/json': { name: 'nes', nested: { deep: [1, 2, 3] } } }),
    ]);
    const tree = area.querySelector('.nes-output-json');
    expect(tree?.textContent).toContain('name');
    expect(tree?.textContent).toContain('"nes"');
    // nested levels start collapsed, behind a button
    expect(tree?.textContent).not.toContain('deep');
    const expand = Array.from(tree?.querySelectorAll('[role="button"], button') ?? []).find(
      (el) => el.getAttribute('aria-expanded') === 'false',
    ) as HTMLElement | undefined;
    expect(expand).toBeDefined();
    expand?.click();
    return waitFor(() => expect(tree?.textContent).toContain('deep'));
  });
});

describe('HTML outputs', () => {
  // pandas' DataFrame repr, as IPython sends it
  const DATAFRAME = [
    '<div>',
    '<style scoped>',
    '    .dataframe tbody tr th:only-of-type {',
    '        vertical-align: middle;',
    '    }',
    '',
    '    .dataframe tbody tr th {',
    '        vertical-align: top;',
    '    }',
    '',
    '    .dataframe thead th {',
    '        text-align: right;',
    '    }',
    '</style>',
    '<table border="1" class="dataframe"><tr><td>1</td></tr></table>',
    '</div>',
  ].join('\n');

  it('renders script-free HTML inline, sanitized, without <style>', () => {
    const area = renderOutputs([
      display({ 'text/html': `${DATAFRAME}<a href="https://x.example">x</a>` }),
    ]);
    const html = area.querySelector('.nes-output-html');
    expect(html?.querySelector('table.dataframe td')?.textContent).toBe('1');
    expect(html?.querySelector('style')).toBeNull();
    expect(html?.querySelector('a')?.getAttribute('rel')).toBe('noopener noreferrer');
    expect(area.querySelector('iframe')).toBeNull();
  });

  it.each([
    [
      'its own styles',
      '<style>body { background: red } #T_1 td { color: blue }</style><table id="T_1"></table>',
    ],
    [
      "styles mixed with the DataFrame's",
      '<style>.dataframe td { color: red } , body { margin: 9em }</style>',
    ],
    ['a script', '<div id="plot"></div><script>Plotly.newPlot("plot")</script>'],
    ['an event handler', '<img src="x" onerror="alert(1)">'],
    ['a javascript: link', '<a href="javascript:alert(1)">x</a>'],
    ['an iframe', '<iframe src="https://example.org"></iframe>'],
    ['an svg onload', '<svg onload="alert(1)"></svg>'],
  ])('sends HTML with %s to the sandboxed frame only', (_, html) => {
    const area = renderOutputs([display({ 'text/html': html })]);
    const frames = area.querySelectorAll('iframe');
    expect(frames).toHaveLength(1);
    expect(frames[0]?.getAttribute('sandbox')).toBe('allow-scripts');
    expect(frames[0]?.getAttribute('src')).toBe(`${FRAME_ORIGIN}/frame.html`);
    expect(area.querySelector('.nes-output-html')).toBeNull();
    expectNothingExecutable(area);
  });

  it('titles each frame with its output and its cell, as the cell is numbered', () => {
    renderNotebook(
      notebook([
        md('intro'),
        code('x', [
          stream('before\n'),
          display({ 'text/html': '<p>static</p>' }),
          display({ 'application/javascript': 'console.log(1)' }),
        ]),
      ]),
    );
    const frames = Array.from(document.querySelectorAll('iframe'), (f) => f.getAttribute('title'));
    // code cells are numbered among code cells, as their author counts them
    expect(frames).toEqual(['Output 3 of cell 1']);
    expect(screen.getByTitle('Output 3 of cell 1').tagName).toBe('IFRAME');
  });

  it('runs application/javascript only in the sandboxed frame', () => {
    const area = renderOutputs([display({ 'application/javascript': 'window.parent.pwned = 1' })]);
    expect(area.querySelector('iframe')?.getAttribute('sandbox')).toBe('allow-scripts');
    expectNothingExecutable(area);
  });
});

describe('long and hidden outputs', () => {
  it('shows the end of a runaway log, and all of it on request', () => {
    const line = `${'x'.repeat(99)}\n`;
    const log = `first line\n${line.repeat(STREAM_LIMIT / 100 + 50)}last line\n`;
    const area = renderOutputs([stream(log)]);
    const pre = () => area.querySelector('pre.nes-output-stream')?.textContent ?? '';
    expect(pre().endsWith('last line\n')).toBe(true);
    expect(pre()).not.toContain('first line');
    expect(pre().length).toBeLessThanOrEqual(STREAM_LIMIT);
    expect(pre().startsWith('x')).toBe(true); // cut at a line start
    fireEvent.click(screen.getByRole('button', { name: 'Show all' }));
    expect(pre()).toBe(log);
  });

  it('boxes a long log and renders only its last lines until asked, then collapses again', () => {
    const log = Array.from({ length: 1400 }, (_, i) => `step ${i}\n`).join('');
    const area = renderOutputs([stream(log)]);
    const pre = () => area.querySelector('pre.nes-output-stream') as HTMLElement;
    expect(pre().classList.contains('nes-output-scroll')).toBe(true);
    const lines = (pre().textContent ?? '').split('\n').filter(Boolean);
    expect(lines).toHaveLength(TAIL_LINES);
    expect(lines[0]).toBe(`step ${1400 - TAIL_LINES}`);
    expect(lines.at(-1)).toBe('step 1399');
    expect(area.querySelector('.nes-output-note')?.textContent).toBe(
      `${(1400 - TAIL_LINES).toLocaleString('en')} earlier lines not shown. Show all`,
    );
    fireEvent.click(screen.getByRole('button', { name: 'Show all' }));
    expect(pre().textContent).toBe(log);
    expect(pre().classList.contains('nes-output-scroll')).toBe(false);
    fireEvent.click(screen.getByRole('button', { name: 'Collapse' }));
    expect(pre().classList.contains('nes-output-scroll')).toBe(true);
    expect((pre().textContent ?? '').startsWith(`step ${1400 - TAIL_LINES}\n`)).toBe(true);
  });

  it('leaves short texts as they are, and boxes a long text/plain result too', () => {
    const short = Array.from({ length: LONG_OUTPUT_LINES }, (_, i) => `${i}`).join('\n');
    const long = Array.from({ length: LONG_OUTPUT_LINES + 1 }, (_, i) => `${i}`).join('\n');
    const area = renderOutputs([stream(`${short}\n`), result({ 'text/plain': long })]);
    const streamPre = area.querySelector('pre.nes-output-stream');
    expect(streamPre?.classList.contains('nes-output-scroll')).toBe(false);
    expect(streamPre?.textContent).toBe(`${short}\n`);
    const text = area.querySelector('pre.nes-output-text');
    expect(text?.classList.contains('nes-output-scroll')).toBe(true);
    expect(text?.textContent).toBe(long); // all of it fits in the tail: boxed, nothing hidden
    expect(area.querySelector('.nes-output-note')?.textContent).toBe(
      `${LONG_OUTPUT_LINES + 1} lines. Show all`,
    );
  });

  it('cuts one endless line by characters', () => {
    const line = `${'a'.repeat(STREAM_LIMIT)}${'b'.repeat(STREAM_LIMIT)}`;
    const part = excerpt(line);
    expect(part).toMatchObject({ long: true, hiddenLines: 0, hiddenChars: STREAM_LIMIT });
    expect(part.shown).toBe('b'.repeat(STREAM_LIMIT));
    const area = renderOutputs([stream(line)]);
    expect(area.querySelector('.nes-output-note')?.textContent).toBe(
      '33 k characters of earlier output not shown. Show all',
    );
  });

  it('cuts a log of progress bars between bars, each bar replayed to its end', () => {
    const bars = Array.from(
      { length: 300 },
      (_, i) => `epoch ${i}:  10%\repoch ${i}:  50%\repoch ${i}: 100%\n`,
    ).join('');
    const area = renderOutputs([stream(bars)]);
    const lines = (area.querySelector('pre.nes-output-stream')?.textContent ?? '')
      .split('\n')
      .filter(Boolean);
    expect(lines).toHaveLength(TAIL_LINES);
    expect(lines[0]).toBe(`epoch ${300 - TAIL_LINES}: 100%`);
    expect(lines.every((l) => /^epoch \d+: 100%$/.test(l))).toBe(true);
  });

  it('collapses outputs the notebook hid, until asked', () => {
    const { container } = renderNotebook(
      notebook([
        code('a', [stream('A\n')], { metadata: { jupyter: { outputs_hidden: true } } }),
        code('b', [stream('B\n'), stream('b\n', 'stderr')], {
          metadata: { tags: ['hide-output'] },
        }),
        code('c', [stream('C\n')]),
      ]),
    );
    const texts = () =>
      Array.from(container.querySelectorAll('.nes-output-stream'), (o) => o.textContent);
    expect(texts()).toEqual(['C\n']);
    expect(
      Array.from(container.querySelectorAll('.nes-outputs-hidden'), (n) => n.textContent),
    ).toEqual(['1 output hidden. Show', '2 outputs hidden. Show']);
    const [first] = screen.getAllByRole('button', { name: 'Show' });
    if (first) fireEvent.click(first);
    expect(texts()).toEqual(['A\n', 'C\n']);
  });
});
