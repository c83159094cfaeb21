import { waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { katexModule } from '../../src/notebook/katex.ts';
import { removeMath } from '../../src/notebook/math.ts';
import { md, notebook, renderNotebook } from './fixtures.tsx';

const PNG_1PX =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

function renderMarkdownCell(source: string, extra = {}) {
  const { container } = renderNotebook(notebook([md(source, extra)]));
  const cell = container.querySelector('.nes-markdown');
  if (!cell) throw new Error('markdown cell not rendered');
  return cell as HTMLElement;
}

/** Waits until KaTeX has typeset the cell, then returns the TeX sources of its math, in order. */
async function typesetMath(
  cell: HTMLElement,
  expected: number,
): Promise<{ tex: string; display: boolean }[]> {
  await waitFor(() =>
    expect(cell.querySelectorAll('.katex').length).toBeGreaterThanOrEqual(expected),
  );
  return Array.from(cell.querySelectorAll('.katex')).map((node) => ({
    tex: node.querySelector('annotation[encoding="application/x-tex"]')?.textContent ?? '',
    display: node.parentElement?.classList.contains('katex-display') ?? false,
  }));
}

describe('GitHub-flavoured markdown', () => {
  it('renders tables, strikethrough, autolinks and task lists', () => {
    const cell = renderMarkdownCell(
      [
        '| a | b |',
        '|---|---|',
        '| 1 | 2 |',
        '',
        '~~gone~~ and https://example.org',
        '',
        '- [x] done',
        '- [ ] open',
      ].join('\n'),
    );
    expect(cell.querySelectorAll('table td')).toHaveLength(2);
    expect(cell.querySelector('s')?.textContent).toBe('gone');
    const link = cell.querySelector('a[href="https://example.org"]');
    expect(link?.getAttribute('rel')).toBe('noopener noreferrer');
    expect(link?.getAttribute('target')).toBe('_blank');
    const boxes = cell.querySelectorAll<HTMLInputElement>(
      'li.task-list-item input[type="checkbox"]',
    );
    expect(Array.from(boxes, (box) => box.checked)).toEqual([true, false]);
    expect(boxes[0]?.disabled).toBe(true);
  });

  it('highlights code fences in their language once highlight.js has loaded', async () => {
    const cell = renderMarkdownCell(
      '```python\ndef f():\n    return 1\n```\n\n```sql\nSELECT 1\n```\n\n```\nplain <b>\n```',
    );
    const blocks = () => Array.from(cell.querySelectorAll('pre code'));
    expect(blocks().map((block) => block.textContent)).toEqual([
      'def f():\n    return 1\n',
      'SELECT 1\n',
      'plain <b>\n',
    ]);
    await waitFor(() =>
      expect(blocks()[0]?.querySelector('.hljs-keyword')?.textContent).toBe('def'),
    );
    expect(blocks()[1]?.querySelector('.hljs-keyword')?.textContent).toBe('SELECT');
    expect(blocks()[2]?.querySelector('span, b')).toBeNull();
    expect(blocks().map((block) => block.textContent)).toEqual([
      'def f():\n    return 1\n',
      'SELECT 1\n',
      'plain <b>\n',
    ]);
  });

  it('gives headings ids like JupyterLab and keeps in-page links in the tab', () => {
    const cell = renderMarkdownCell('# Data Loading\n\n## Step 2: clean\n\n[back](#Data-Loading)');
    expect(cell.querySelector('h1')?.id).toBe('Data-Loading');
    expect(cell.querySelector('h2')?.id).toBe('Step-2:-clean');
    const back = cell.querySelector('a[href="#Data-Loading"]');
    expect(back?.hasAttribute('target')).toBe(false);
  });
});

describe('math', () => {
  it('typesets each delimiter, inline and display', async () => {
    const cell = renderMarkdownCell(
      [
        'Inline $a_1 + b_1$ and \\(c_2\\) and \\\\(d_3\\\\).',
        '',
        '$$\\sum_{i=1}^n i$$',
        '',
        '\\[e^{i\\pi} + 1 = 0\\]',
      ].join('\n'),
    );
    const math = await typesetMath(cell, 5);
    expect(math).toEqual([
      { tex: 'a_1 + b_1', display: false },
      { tex: 'c_2', display: false },
      { tex: 'd_3', display: false },
      { tex: '\\sum_{i=1}^n i', display: true },
      { tex: 'e^{i\\pi} + 1 = 0', display: true },
    ]);
    // markdown never saw the underscores: no emphasis was made of them
    expect(cell.querySelector('em')).toBeNull();
  });

  it('typesets a bare \\begin{align} environment', async () => {
    const cell = renderMarkdownCell(
      'Energy:\n\n\\begin{align}\nE &= mc^2 \\\\\nF &= ma\n\\end{align}',
    );
    const [math] = await typesetMath(cell, 1);
    expect(math?.display).toBe(true);
    expect(math?.tex).toContain('\\begin{align}');
    expect(cell.querySelector('.katex-error')).toBeNull();
  });

  it('leaves $ in code spans and fences, and escaped \\$, alone', async () => {
    const cell = renderMarkdownCell(
      [
        'Costs \\$5 and \\$10, `echo $HOME` and `$PATH`; $x$ is math.',
        '',
        '```bash',
        'echo $USER $SHELL',
        '```',
      ].join('\n'),
    );
    const math = await typesetMath(cell, 1);
    expect(math).toEqual([{ tex: 'x', display: false }]);
    expect(cell.textContent).toContain('Costs $5 and $10');
    expect(Array.from(cell.querySelectorAll('code'), (c) => c.textContent)).toEqual([
      'echo $HOME',
      '$PATH',
      'echo $USER $SHELL\n',
    ]);
  });

  it('shows KaTeX errors inline instead of throwing', async () => {
    const cell = renderMarkdownCell('Broken: $\\frac{1}{$ and fine: $y$');
    await waitFor(() => expect(cell.querySelector('.katex-error')).not.toBeNull());
    expect(cell.querySelector('.katex-error')?.getAttribute('title')).toMatch(/ParseError/);
  });

  it('never lets math span a blank line, and restores text that looks like a placeholder', () => {
    expect(removeMath('a $b\n\nc$ d').math).toHaveLength(0);
    const split = removeMath('literal @@0@@ and $x$');
    expect(split.math.map((m) => m.source)).toEqual(['@@0@@', '$x$']);
  });

  it('loads KaTeX lazily, only for cells with math', async () => {
    // the module is shared across tests; loading twice returns the same instance
    const first = await katexModule.load();
    expect(await katexModule.load()).toBe(first);
  });
});

describe('images', () => {
  it('resolves attachment: images from the cell and keeps data: images', () => {
    const cell = renderMarkdownCell(
      `![plot](attachment:plot.png) <img src="attachment:raw.png" alt="raw"> ![inline](data:image/png;base64,${PNG_1PX}) ![missing](attachment:nope.png)`,
      {
        attachments: { 'plot.png': { 'image/png': PNG_1PX }, 'raw.png': { 'image/png': PNG_1PX } },
      },
    );
    const sources = Array.from(cell.querySelectorAll('img'), (img) => [
      img.alt,
      img.getAttribute('src') ?? '',
    ]);
    expect(sources).toEqual([
      ['plot', `data:image/png;base64,${PNG_1PX}`],
      ['raw', `data:image/png;base64,${PNG_1PX}`],
      ['inline', `data:image/png;base64,${PNG_1PX}`],
      ['missing', ''],
    ]);
  });

  it('keeps external https images (logos, badges) and drops script-bearing sources', () => {
    const cell = renderMarkdownCell(
      '![logo](https://example.org/logo.png) <img src="https://img.shields.io/badge/ok-green.svg" alt="badge"> <img src="javascript:alert(1)" alt="bad">',
    );
    const sources = Array.from(cell.querySelectorAll('img'), (img) => [
      img.alt,
      img.getAttribute('src'),
    ]);
    expect(sources).toEqual([
      ['logo', 'https://example.org/logo.png'],
      ['badge', 'https://img.shields.io/badge/ok-green.svg'],
      ['bad', null],
    ]);
  });
});

describe('sanitization of markdown', () => {
  it('lets nothing executable through', () => {
    const cell = renderMarkdownCell(
      [
        '<script>window.pwned = 1</script>',
        '<img src="x" onerror="window.pwned = 2">',
        '[click](javascript:alert(1)) <a href="javascript:alert(2)">raw</a>',
        '<svg onload="window.pwned = 3"><circle r="4"/></svg>',
        '<iframe src="https://evil.example"></iframe>',
        '<style>body { display: none }</style>',
        '<a href="https://ok.example" onclick="steal()">ok</a>',
        '<form action="/v1/runs/x/cancel" method="post"><input name="a" value="1"><button formaction="/v1">go</button></form>',
        '<meta http-equiv="refresh" content="0;url=https://example.invalid/"><object data="javascript:alert(1)"></object>',
        '<textarea>t</textarea><select><option>o</option></select><input type="checkbox" checked>',
      ].join('\n\n'),
    );
    expect(
      cell.querySelector('script, iframe, style, form, button, textarea, select, meta, object'),
    ).toBeNull();
    const inputs = Array.from(cell.querySelectorAll('input'));
    expect(inputs.map((input) => [input.type, input.disabled])).toEqual([['checkbox', true]]);
    for (const element of Array.from(cell.querySelectorAll('*'))) {
      for (const attribute of Array.from(element.attributes)) {
        expect(attribute.name.startsWith('on'), `${element.tagName} ${attribute.name}`).toBe(false);
        expect(attribute.value).not.toMatch(/^\s*javascript:/i);
      }
    }
    expect(cell.querySelector('a[href="https://ok.example"]')?.textContent).toBe('ok');
    expect((window as { pwned?: number }).pwned).toBeUndefined();
  });
});
