/**
 * Browse (`/browse/*`): the output store as folders and files, like Commuter. Notebooks open
 * rendered (`/notebook?path=…`); other files download from the API.
 */
import type { BrowseListing, Run } from '@nes/client';
import { Link } from 'wouter';
import { useApi, useLoad, useNow, useTitle } from '../api.tsx';
import { ErrorView, Loading, StatusBadge, Time } from '../components.tsx';
import { formatBytes, formatDate, formatDateZone, notebookName } from '../lib/format.ts';
import { breadcrumbs, browseDirHref, browseHref } from '../lib/links.ts';

export default function BrowsePage(props: { path: string }) {
  const { client } = useApi();
  const path = decodePath(props.path);
  const listing = useLoad<BrowseListing | { file: string }>(`browse:${path}`, async (signal) => {
    // A path without a trailing slash may be a file or a folder; the API answers either.
    const result = await client.browse(path, { signal });
    return result.kind === 'directory' ? result.listing : { file: result.path };
  });
  const crumbs = breadcrumbs(path);
  useTitle(path ? `${path} (store)` : 'Output store');
  return (
    <div className="page browse-page">
      <nav aria-label="Breadcrumb" className="crumbs">
        {crumbs.map((crumb, i) => (
          <span key={crumb.path}>
            {i > 0 ? <span aria-hidden="true"> / </span> : null}
            {i === crumbs.length - 1 ? (
              <span aria-current="page" className="mono">
                {crumb.name}
              </span>
            ) : (
              <Link href={browseDirHref(crumb.path)} className="mono">
                {crumb.name}
              </Link>
            )}
          </span>
        ))}
      </nav>
      <h1>Output store</h1>
      {listing.error ? (
        <ErrorView error={listing.error} what={path || 'the store'} retry={listing.reload} />
      ) : !listing.data ? (
        <Loading what="the listing" />
      ) : 'file' in listing.data ? (
        <p>
          {listing.data.file.endsWith('.ipynb') ? (
            <Link href={browseHref(listing.data.file)}>Open {listing.data.file}</Link>
          ) : (
            <a href={browseHref(listing.data.file)} download>
              Download {listing.data.file}
            </a>
          )}
        </p>
      ) : (
        <Listing listing={listing.data} />
      )}
    </div>
  );
}

function decodePath(raw: string): string {
  try {
    return raw
      .split('/')
      .map((part) => decodeURIComponent(part))
      .join('/');
  } catch {
    return raw;
  }
}

/** A run's folder in the store's per-run layout (`runs/ID/`). */
const RUN_FOLDER = /^runs\/[^/]+\/$/;
/** How many run folders of one listing are looked up (newest first); the rest show bare. */
const RUN_LOOKUPS = 100;

/**
 * The runs behind run folders (`runs/ID/`), by id, so a folder reads as a run: notebook, status,
 * date. A folder whose run the service no longer knows (another service's store) stays bare.
 */
function useFolderRuns(ids: string[]): Map<string, Run> {
  const { client } = useApi();
  const key = ids.length ? `folder-runs:${ids.join(',')}` : null;
  const runs = useLoad<Map<string, Run>>(key, async (signal) => {
    const found = new Map<string, Run>();
    // A few at a time: a folder of hundreds of runs must not open hundreds of requests at once.
    for (let i = 0; i < ids.length; i += 8) {
      const batch = await Promise.all(
        ids.slice(i, i + 8).map((id) => client.getRun(id, { signal }).catch(() => null)),
      );
      for (const run of batch) if (run) found.set(run.id, run);
    }
    return found;
  });
  return runs.data ?? new Map();
}

function Listing(props: { listing: BrowseListing }) {
  const { directories, files } = props.listing;
  const runFolders = directories.filter((dir) => RUN_FOLDER.test(dir.path));
  // Run ids are ULIDs: newest last by name, so newest first is the reverse.
  const runIds = runFolders
    .map((dir) => dir.name.replace(/\/$/, ''))
    .sort()
    .reverse()
    .slice(0, RUN_LOOKUPS);
  const runs = useFolderRuns(runIds);
  const now = useNow(false);
  if (directories.length === 0 && files.length === 0)
    return <div className="empty">This folder is empty.</div>;
  const sortedDirs = [...directories].sort((a, b) =>
    runFolders.length > 0 ? b.name.localeCompare(a.name) : a.name.localeCompare(b.name),
  );
  const sortedFiles = [...files].sort((a, b) => a.name.localeCompare(b.name));
  return (
    <div className="table-wrap">
      <table className="files-table" aria-label="Folder contents">
        <thead>
          <tr>
            <th>Name</th>
            <th className="num col-size">Size</th>
            <th className="col-modified">Modified</th>
          </tr>
        </thead>
        <tbody>
          {sortedDirs.map((dir) => {
            const run = RUN_FOLDER.test(dir.path)
              ? runs.get(dir.name.replace(/\/$/, ''))
              : undefined;
            return (
              <tr key={dir.path}>
                <td>
                  <FileIcon kind="folder" />
                  <Link href={browseDirHref(dir.path)} className="mono">
                    {dir.name}/
                  </Link>
                  {RUN_FOLDER.test(dir.path) ? (
                    <Link
                      href={`/runs/${encodeURIComponent(dir.name.replace(/\/$/, ''))}`}
                      className="side-link small"
                    >
                      run page
                    </Link>
                  ) : null}
                  {run ? (
                    <div className="folder-run small">
                      <StatusBadge status={run.status} />{' '}
                      <strong title={run.notebook}>{notebookName(run.notebook)}</strong>{' '}
                      <span className="mono muted">{run.notebook}</span>
                    </div>
                  ) : null}
                </td>
                <td className="num muted">-</td>
                <td className="small">
                  {run ? (
                    <span title={formatDateZone(run.createdAt)}>
                      <Time iso={run.createdAt} now={now} />
                    </span>
                  ) : (
                    <span className="muted">-</span>
                  )}
                </td>
              </tr>
            );
          })}
          {sortedFiles.map((file) => {
            const notebook = file.name.endsWith('.ipynb');
            return (
              <tr key={file.path}>
                <td>
                  <FileIcon kind={notebook ? 'notebook' : 'file'} />
                  {notebook ? (
                    <Link href={browseHref(file.path)}>{file.name}</Link>
                  ) : (
                    <a href={browseHref(file.path)} download={file.name}>
                      {file.name}
                    </a>
                  )}
                </td>
                <td className="num mono small">{formatBytes(file.size)}</td>
                <td className="small" title={formatDateZone(file.updated)}>
                  {formatDate(file.updated)}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** Octicon-like glyphs (drawn, so they look the same on every system's fonts). */
function FileIcon(props: { kind: 'folder' | 'notebook' | 'file' }) {
  const paths = {
    folder:
      'M1.75 2.5h4l1.5 1.5h7a.75.75 0 0 1 .75.75v8.5a.75.75 0 0 1-.75.75H1.75A.75.75 0 0 1 1 13.25V3.25a.75.75 0 0 1 .75-.75Z',
    notebook:
      'M3 1.75C3 1.34 3.34 1 3.75 1h8.5c.41 0 .75.34.75.75v12.5a.75.75 0 0 1-.75.75h-8.5a.75.75 0 0 1-.75-.75ZM5.5 4h5M5.5 6.5h5M5.5 9h3',
    file: 'M3.75 1h5.5L13 4.75v9.5a.75.75 0 0 1-.75.75h-8.5a.75.75 0 0 1-.75-.75V1.75c0-.41.34-.75.75-.75ZM9 1v4h4',
  };
  return (
    <svg
      className={`file-icon icon-${props.kind}`}
      viewBox="0 0 16 16"
      width="16"
      height="16"
      aria-hidden="true"
    >
      <path
        d={paths[props.kind]}
        fill={props.kind === 'folder' ? 'currentColor' : 'none'}
        stroke="currentColor"
        strokeWidth="1.2"
      />
    </svg>
  );
}
