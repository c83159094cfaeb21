/**
 * Fixture notebooks of the browser suites, named for what they test. The hostile ones try every
 * way we know for notebook content to run code in the viewer's origin; each attempt would set
 * `window.__nesPwned` (a sentinel the suite reads from the viewer page) or leave a trace on the
 * API. The probe output runs in the output frame, tries to escape it, and writes what it could
 * and could not do into its own visible text.
 */
import { notebookJson } from './harness.ts';

/** Cells that sleep, so a run is seen pending, running and done in the DOM. */
export const SLOW = notebookJson(
  [
    'seconds = 1.5\ntag = "slow"',
    'import time\nprint("step one", tag, flush=True)\ntime.sleep(seconds)',
    'time.sleep(seconds)\nprint("step two", flush=True)',
    'time.sleep(seconds)\nprint("step three", flush=True)',
    'print("finished", tag)',
  ],
  { parameters: true },
);

/** Long enough to cancel while it runs. */
export const SLEEPY = notebookJson(
  [
    'seconds = 60',
    'import time\nprint("sleeping", flush=True)',
    'time.sleep(seconds)',
    'print("woke")',
  ],
  { parameters: true },
);

/** Parameters whose values show in the output (rerun with other values). */
export const GREET = notebookJson(
  ['name = "world"\ncount = 2', 'print(f"hello {name} x{count}")'],
  { parameters: true },
);

/** A failing cell: the failed run's banner. */
export const BROKEN = notebookJson(
  ['x = 1', 'print("before the error")', 'raise ValueError("broken on purpose")', 'print("never")'],
  { parameters: true },
);

/** Rich output: markdown with math, a table, an image, HTML, a long stream, an error. */
export const RICH = notebookJson(
  [
    {
      markdown:
        '# Rich output\n\nInline math $e^{i\\pi} + 1 = 0$ and display math:\n\n$$\\int_0^1 x^2\\,dx = \\frac{1}{3}$$\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- [x] done\n- [ ] open',
    },
    'n = 5',
    'from IPython.display import HTML\nrows = "".join(f"<tr><td>{i}</td><td>{i * i}</td></tr>" for i in range(n))\nHTML(f"<table><thead><tr><th>x</th><th>square</th></tr></thead><tbody>{rows}</tbody></table>")',
    'from IPython.display import SVG, display\ndisplay(SVG(\'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><rect width="120" height="40" fill="#2563eb"/><text x="10" y="25" fill="white">svg output</text></svg>\'))',
    'import base64\nfrom IPython.display import Image\nImage(data=base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAoAAAAKCAYAAACNMs+9AAAAFklEQVR42mNk+M9Qz0AEYBxVSF+FAAhKDveksOjmAAAAAElFTkSuQmCC"))',
    'for i in range(200):\n    print(f"line {i:03d} of a long stream")',
    'print("\\x1b[31mred\\x1b[0m and \\x1b[1;32mbold green\\x1b[0m")',
    '{"json": [1, 2, 3]}',
  ],
  { parameters: true },
);

/** Output keys the spoofing frame guesses (the probe is cell c2's only output). */
export const SPOOFED_IDS = ['c2:0', '2:0', 'c3:0', '3:0', 'c2:1', '2:1'];
export const SPOOFED_HEIGHT = 4321;

const MARK = "window.__nesPwned = (window.__nesPwned || '') + ";

/** Markdown cells with raw HTML: none of it may run in the viewer. */
export const HOSTILE_MARKDOWN = notebookJson([
  {
    markdown: [
      '# Hostile markdown',
      `<script>${MARK}'md-script'</script>`,
      `<img src="x" onerror="${MARK}'md-img-onerror'" alt="broken image">`,
      `<svg onload="${MARK}'md-svg-onload'"><circle r="5"/></svg>`,
      `[hostile markdown link](javascript:${MARK}'md-js-link')`,
      `<a href="javascript:${MARK}'md-html-link'">hostile html link</a>`,
      `<iframe srcdoc="<script>parent.${MARK}'md-iframe'</script>"></iframe>`,
      `<form action="javascript:${MARK}'md-form'"><button>hostile form</button></form>`,
      `<object data="javascript:${MARK}'md-object'"></object>`,
      `<style>body { background: red !important; }</style>`,
      '<meta http-equiv="refresh" content="0;url=https://example.invalid/">',
      `<details open ontoggle="${MARK}'md-ontoggle'"><summary>toggle</summary>x</details>`,
    ].join('\n\n'),
  },
  'x = 1',
]);

/**
 * Code that outputs hostile HTML, SVG, JavaScript and markdown through a real kernel, plus the
 * probe: a script that runs in the output frame and reports what it can reach.
 */
export const HOSTILE_OUTPUTS = notebookJson(
  [
    'api_url = "http://127.0.0.1:1"',
    [
      'from IPython.display import display, HTML, SVG, Javascript, Markdown',
      `display(HTML("""<div>html output</div><script>${MARK}'out-html-script'</script><img src="x" onerror="${MARK}'out-html-img'">"""))`,
      `display(HTML("""<a href="javascript:${MARK}'out-html-link'">hostile output link</a>"""))`,
      `display(SVG("""<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40" onload="${MARK}'out-svg-onload'"><script>${MARK}'out-svg-script'</script><rect width="40" height="40" fill="red"/></svg>"""))`,
      `display(HTML("""<svg onload="${MARK}'out-html-svg-onload'"><rect width="10" height="10"/></svg>"""))`,
      `display(Javascript("""${MARK}'out-javascript'"""))`,
      `display(Markdown("""<img src="x" onerror="${MARK}'out-markdown-img'"> [md link](javascript:${MARK}'out-md-link')"""))`,
      `display({"text/html": "<b>bundle</b><script>${MARK}'out-bundle-html'</script>", "application/javascript": "${MARK}'out-bundle-js'", "text/plain": "bundle"}, raw=True)`,
    ].join('\n'),
    [
      'display(HTML(r"""',
      '<div id="probe" role="status">probe waiting</div>',
      '<script>',
      'const notes = [];',
      'const tryIt = (name, f) => { try { notes.push(name + ":" + f()); } catch (e) { notes.push(name + ":blocked"); } };',
      "window.__nesPwned = 'probe-ran-in-frame';",
      "tryIt('origin', () => self.origin);",
      "tryIt('cookie', () => document.cookie === '' ? 'empty' : document.cookie);",
      "tryIt('storage', () => localStorage.getItem('nes-canary'));",
      "tryIt('session', () => sessionStorage.length);",
      "tryIt('parentdoc', () => parent.document.title);",
      "tryIt('parentwrite', () => { parent.__nesPwned = 'out-parent-write'; return 'done'; });",
      "tryIt('topdoc', () => top.document.cookie);",
      "tryIt('toploc', () => top.location.href);",
      "tryIt('popup', () => window.open('about:blank') === null ? 'null' : 'opened');",
      "tryIt('topnav', () => { top.location = 'https://example.invalid/hijacked'; return 'assigned'; });",
      '// A nested frame spoofs the frame protocol: the viewer must ignore what it posts.',
      "const nested = document.createElement('iframe');",
      `nested.srcdoc = '<script>for (const id of ${JSON.stringify(SPOOFED_IDS)}) top.postMessage({type: "nes:height", id, height: ${SPOOFED_HEIGHT}}, "*");<\\/script>';`,
      'document.body.appendChild(nested);',
      "top.postMessage({type: 'nes:render', id: 'x', html: '<script>parent.__nesPwned = 1<\\/script>'}, '*');",
      'let fetched = "pending";',
      'const report = () => { document.getElementById("probe").textContent = "probe ran: " + notes.join(" ") + " fetch:" + fetched; };',
      'fetch("API_URL/v1/runs", { credentials: "include" }).then((r) => { fetched = "status " + r.status; }, () => { fetched = "blocked"; }).finally(report);',
      'report();',
      '</script>""".replace("API_URL", api_url)))',
    ].join('\n'),
  ],
  { parameters: true },
);

/**
 * A crafted notebook file (opened from the output store, never executed): what no kernel would
 * write but a file can hold. Attribute injection through image data and attachment names, SVG
 * with handlers as an image, <base> and javascript: iframes in HTML, javascript: links in LaTeX
 * and markdown outputs, and HTML in text that must stay text (streams, tracebacks, JSON).
 */
export const HOSTILE_FILE = `${JSON.stringify(
  {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    cells: [
      {
        cell_type: 'markdown',
        id: 'md-attach',
        metadata: {},
        source: '# Crafted file\n\n![attached](attachment:a.png)',
        attachments: { 'a.png': { 'image/png': `AAAA" onerror="${MARK}'file-attachment'` } },
      },
      {
        cell_type: 'code',
        id: 'crafted',
        metadata: {},
        execution_count: 1,
        source: '</script><script>window.__nesPwned = "file-source"</script>',
        outputs: [
          {
            output_type: 'display_data',
            metadata: {},
            data: { 'image/png': `iVBOR" onerror="${MARK}'file-png'` },
          },
          {
            output_type: 'display_data',
            metadata: {},
            data: { 'image/jpeg': `/9j/" onerror="${MARK}'file-jpeg'` },
          },
          {
            output_type: 'display_data',
            metadata: {},
            data: {
              'image/svg+xml': `<svg xmlns="http://www.w3.org/2000/svg" onload="${MARK}'file-svg'"><script>${MARK}'file-svg-script'</script><a href="javascript:${MARK}'file-svg-link'"><text y="20">svg link</text></a></svg>`,
            },
          },
          {
            output_type: 'display_data',
            metadata: {},
            data: {
              'text/html':
                '<base href="https://example.invalid/"><a href="/relative">crafted base link</a>',
            },
          },
          {
            output_type: 'display_data',
            metadata: {},
            data: {
              'text/html': `<iframe src="javascript:parent.${MARK}'file-iframe-js'"></iframe><embed src="javascript:${MARK}'file-embed'">`,
            },
          },
          {
            output_type: 'display_data',
            metadata: {},
            data: { 'text/latex': `$\\href{javascript:${MARK}'file-latex'}{latex link}$` },
          },
          {
            output_type: 'display_data',
            metadata: {},
            data: { 'text/markdown': `[markdown output link](javascript:${MARK}'file-md')` },
          },
          {
            output_type: 'stream',
            name: 'stdout',
            text: `<img src=x onerror="${MARK}'file-stream'">stream text\n`,
          },
          {
            output_type: 'execute_result',
            execution_count: 1,
            metadata: {},
            data: {
              'application/json': { html: `<img src=x onerror="${MARK}'file-json'">` },
              'text/plain': 'json',
            },
          },
          {
            output_type: 'error',
            ename: 'Crafted',
            evalue: `<img src=x onerror="${MARK}'file-evalue'">`,
            traceback: [`\u001b[31m<img src=x onerror="${MARK}'file-traceback'">\u001b[0m`],
          },
        ],
      },
    ],
  },
  null,
  1,
)}\n`;

/**
 * Markdown linking files that a notebook wrote into the output store (a notebook reaches the
 * store: its runner writes there with the store's credentials). Opened from the viewer, those
 * files would run in its origin with its session cookie, unless the API serves them as inert
 * downloads.
 */
export const STORE_LINKS = notebookJson([
  {
    markdown: [
      '# Report links',
      '[the html report](/v1/browse/reports/evil.html)',
      '[the svg chart](/v1/browse/reports/evil.svg)',
    ].join('\n\n'),
  },
  'x = 1',
]);

/**
 * What the linked store files do when a browser runs them: submit a run with the viewer's
 * session cookie (same-origin fetch, the viewer's own Origin), as an attacker's page would.
 */
export function storeAttack(notebook: string): { html: string; svg: string } {
  const script = `fetch('/v1/runs', {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({notebook: ${JSON.stringify(notebook)}, labels: {attack: 'store-link'}})}).then((r) => { document.title = 'submitted ' + r.status; });`;
  return {
    html: `<!doctype html><html><head><title>report</title></head><body><p>report</p><script>${script}</script></body></html>`,
    svg: `<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><rect width="40" height="40" fill="red"/><script>${script}</script></svg>`,
  };
}
