/**
 * "Export HTML": the notebook as one static, self-contained file to share (src/notebook/
 * export-html.ts says why it cannot run anything). Built in the page, from the notebook it shows.
 */
import { useState } from 'react';
import type { NotebookJson } from '../notebook/index.ts';

export function ExportHtmlButton(props: {
  notebook: NotebookJson;
  fileName: string;
  title: string;
  subtitle?: string;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const exportHtml = async () => {
    setBusy(true);
    setError(null);
    try {
      const { exportNotebookHtml } = await import('../notebook/export-html.ts');
      const html = await exportNotebookHtml(props.notebook, {
        title: props.title,
        ...(props.subtitle ? { subtitle: props.subtitle } : {}),
      });
      const url = URL.createObjectURL(new Blob([html], { type: 'text/html' }));
      const link = document.createElement('a');
      link.href = url;
      link.download = props.fileName;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button
        type="button"
        className="btn small"
        onClick={exportHtml}
        disabled={busy}
        title="A static, self-contained HTML copy to share: nothing in it runs"
      >
        {busy ? 'Exporting…' : 'Export HTML'}
      </button>
      {error ? (
        <span className="field-error" role="alert">
          {error}
        </span>
      ) : null}
    </>
  );
}
