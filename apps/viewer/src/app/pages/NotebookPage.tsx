/** A notebook from the output store (`/notebook?path=runs/ID/output.ipynb`), rendered. */
import { Link, useSearchParams } from 'wouter';
import { useTitle } from '../api.tsx';
import { ErrorView, Loading } from '../components.tsx';
import { ExportHtmlButton } from '../ExportHtmlButton.tsx';
import { breadcrumbs, browseDirHref } from '../lib/links.ts';
import { NotebookPanel } from '../NotebookPanel.tsx';
import { useNotebook } from '../use-notebook.ts';

export default function NotebookPage() {
  const [params] = useSearchParams();
  const path = params.get('path') ?? '';
  const apiPath = `/v1/browse/${path.split('/').filter(Boolean).map(encodeURIComponent).join('/')}`;
  const nb = useNotebook(path ? apiPath : null);
  useTitle(path.slice(path.lastIndexOf('/') + 1) || 'Notebook');
  if (!path) {
    return (
      <div className="error-box" role="alert">
        <h2>No notebook named</h2>
        <p>
          This page shows a notebook of the output store: open one from the{' '}
          <Link href="/browse">store</Link>.
        </p>
      </div>
    );
  }
  const folder = path.includes('/') ? path.slice(0, path.lastIndexOf('/') + 1) : '';
  const crumbs = breadcrumbs(folder);
  const name = path.slice(path.lastIndexOf('/') + 1);
  return (
    <div className="page notebook-page">
      <nav aria-label="Breadcrumb" className="crumbs">
        {crumbs.map((crumb) => (
          <span key={crumb.path}>
            <Link href={browseDirHref(crumb.path)} className="mono">
              {crumb.name}
            </Link>
            <span aria-hidden="true"> / </span>
          </span>
        ))}
        <span aria-current="page" className="mono">
          {name}
        </span>
      </nav>
      {nb.notebook ? (
        <NotebookPanel
          title={name}
          notebook={nb.notebook}
          extra={
            <>
              <a className="btn small" href={apiPath} download={name}>
                Download
              </a>
              <ExportHtmlButton
                notebook={nb.notebook}
                fileName={`${name.replace(/\.ipynb$/, '')}.html`}
                title={name}
                subtitle={`From the output store: ${path}`}
              />
            </>
          }
        />
      ) : nb.error ? (
        <ErrorView error={nb.error} what={path} />
      ) : (
        <Loading what={name} />
      )}
    </div>
  );
}
