/** @jsxImportSource @kitajs/html */
/**
 * @module views/dashboard/shared
 * The hive-wide shared directory on the dashboard (`/shared`, every agent's `/shared`): a listing
 * of one directory (names, kinds, sizes, modification times; links shown with their target, never
 * followed) and a read-only view of one text file. Everything shown came from agents, so every
 * name, target and line goes through `safe`.
 */
import { Layout, Panel } from '../layout.tsx';
import { clock } from '../format.ts';

/** One entry of a listed directory. */
export interface SharedEntry {
  name: string;
  kind: 'dir' | 'file' | 'link' | 'other';
  /** Bytes, for a file; null otherwise. */
  size: number | null;
  /** Epoch ms. */
  modified_at: number;
  /** Where a link points, as written in it (not followed). */
  target?: string;
}

/** A directory of `/shared`: `path` are its segments below it (empty for the top). */
export interface SharedListing {
  path: string[];
  entries: SharedEntry[];
  /** Entries not shown because the listing is capped. */
  more: number;
}

/** A file of `/shared`, as much of it as is shown. */
export interface SharedFile {
  path: string[];
  size: number;
  modified_at: number;
  /** The text shown (the first `shown` bytes, as UTF-8), or null for a binary file. */
  text: string | null;
  /** Bytes shown; less than `size` when the view is capped. */
  shown: number;
}

/** The dashboard URL of a path under `/shared`. */
export function sharedHref(path: string[]): string {
  return `/shared${path.map((s) => `/${encodeURIComponent(s)}`).join('')}`;
}

/** `12 B`, `3.4 KiB`, `5.0 MiB`. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(1)} GiB`;
}

function Chrome({ version }: { version: string }): JSX.Element {
  return (
    <>
      <span safe>{`v${version}`}</span>
      <a href="/">← dashboard</a>
    </>
  );
}

/** `/shared / a / b` with each step a link. */
function Crumbs({ path }: { path: string[] }): JSX.Element {
  return (
    <p class="crumbs">
      <a href="/shared">/shared</a>
      {path.map((seg, i) => (
        <>
          {' / '}
          <a href={sharedHref(path.slice(0, i + 1))} safe>
            {seg}
          </a>
        </>
      ))}
    </p>
  );
}

/** One directory of the shared directory. */
export function SharedDirPage({ version, listing }: { version: string; listing: SharedListing }): JSX.Element {
  const where = `/shared${listing.path.map((s) => `/${s}`).join('')}`;
  return (
    <Layout title={`${where} · hyperhive`} chrome={<Chrome version={version} />} live={false}>
      <main>
        <Panel id="shared" glyph="◈" name="SH4R3D" sub="the directory every agent sees at /shared, read-only here" wide>
          <Crumbs path={listing.path} />
          {listing.entries.length === 0 ? <p class="dim empty">empty</p> : ''}
          {listing.entries.length ? (
            <table class="shared-list">
              <thead>
                <tr>
                  <th>name</th>
                  <th>size</th>
                  <th>modified (UTC)</th>
                </tr>
              </thead>
              <tbody>
                {listing.entries.map((e) => (
                  <tr data-kind={e.kind}>
                    <td>
                      {e.kind === 'dir' || e.kind === 'file' ? (
                        <a href={sharedHref([...listing.path, e.name])} safe>
                          {e.kind === 'dir' ? `${e.name}/` : e.name}
                        </a>
                      ) : (
                        <span safe>{e.name}</span>
                      )}
                      {e.kind === 'link' ? <span class="dim" safe>{` → ${e.target ?? '?'} (a link, not followed)`}</span> : ''}
                      {e.kind === 'other' ? <span class="dim"> (not a file or directory)</span> : ''}
                    </td>
                    <td class="dim">
                      {e.kind === 'file' && e.size !== null ? bytes(e.size) : e.kind === 'dir' ? 'dir' : '—'}
                    </td>
                    <td class="dim" safe>
                      {clock(e.modified_at)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            ''
          )}
          {listing.more > 0 ? <p class="dim" safe>{`… and ${listing.more} more, not listed`}</p> : ''}
        </Panel>
      </main>
    </Layout>
  );
}

/** One file of the shared directory, read-only. */
export function SharedFilePage({ version, file }: { version: string; file: SharedFile }): JSX.Element {
  const name = file.path.at(-1) ?? '';
  return (
    <Layout title={`${name} · /shared · hyperhive`} chrome={<Chrome version={version} />} live={false}>
      <main>
        <Panel id="shared-file" glyph="◈" name="SH4R3D" sub={`${bytes(file.size)}, modified ${clock(file.modified_at)} UTC`} wide>
          <Crumbs path={file.path} />
          {file.text === null ? (
            <p class="dim" safe>{`a binary file of ${bytes(file.size)}: not shown`}</p>
          ) : (
            <>
              <pre class="body shared-text" safe>
                {file.text}
              </pre>
              {file.shown < file.size ? <p class="dim" safe>{`showing the first ${bytes(file.shown)} of ${bytes(file.size)}`}</p> : ''}
            </>
          )}
        </Panel>
      </main>
    </Layout>
  );
}
