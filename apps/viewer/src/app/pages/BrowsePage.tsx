/**
 * Browse (`/browse/*`): the output store as folders and files, like Commuter. Notebooks open
 * rendered (`/notebook?path=…`); other files download from the API.
 */
import type { BrowseListing } from '@nes/client';
import { Link } from 'wouter';
import { useApi, useLoad } from '../api.tsx';
import { ErrorView, Loading } from '../components.tsx';
import { formatBytes, formatDate } from '../lib/format.ts';
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

function Listing(props: { listing: BrowseListing }) {
  const { directories, files } = props.listing;
  if (directories.length === 0 && files.length === 0)
    return <div className="empty">This folder is empty.</div>;
  const sortedDirs = [...directories].sort((a, b) => a.name.localeCompare(b.name));
  const sortedFiles = [...files].sort((a, b) => a.name.localeCompare(b.name));
  return (
    <div className="table-wrap">
      <table className="files-table" aria-label="Folder contents">
        <thead>
          <tr>
            <th>Name</th>
            <th className="num">Size</th>
            <th>Modified</th>
          </tr>
        </thead>
        <tbody>
          {sortedDirs.map((dir) => (
            <tr key={dir.path}>
              <td>
                <span className="file-icon" aria-hidden="true">
                  📁
                </span>
                <Link href={browseDirHref(dir.path)}>{dir.name}/</Link>
              </td>
              <td className="num muted">-</td>
              <td className="muted">-</td>
            </tr>
          ))}
          {sortedFiles.map((file) => {
            const notebook = file.name.endsWith('.ipynb');
            return (
              <tr key={file.path}>
                <td>
                  <span className="file-icon" aria-hidden="true">
                    {notebook ? '📓' : '📄'}
                  </span>
                  {notebook ? (
                    <Link href={browseHref(file.path)}>{file.name}</Link>
                  ) : (
                    <a href={browseHref(file.path)} download={file.name}>
                      {file.name}
                    </a>
                  )}
                </td>
                <td className="num mono small">{formatBytes(file.size)}</td>
                <td className="small">{formatDate(file.updated)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
