/** @jsxImportSource @kitajs/html */
/**
 * @module dashboard/shared-browser
 * The hive-wide shared directory on the dashboard, read-only: `GET /shared` lists `<data>/shared`,
 * `GET /shared/<path>` lists a directory under it or shows a file (text up to
 * {@link MAX_VIEW_BYTES}, escaped; a binary file only by its size).
 *
 * Agents write this directory, so nothing in it is trusted, links least of all: a link to
 * `/etc/shadow` or to the data dir must not show the operator (or whoever holds the dashboard's
 * token) what it points to. No link is ever followed. Each request's path is split into segments
 * (`.`, `..`, empty segments and ones holding `/` or NUL are refused), the last one is opened with
 * `O_NOFOLLOW`, and the path the kernel actually opened (`/proc/self/fd/N`) must be exactly the one
 * asked for, so a link anywhere on the way (even one swapped in during the request) is refused.
 * Directories are read through that same descriptor. Plain file system calls only: no git, no
 * subprocess.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { AnyElysia } from 'elysia';
import { HiveError } from '../../shared/errors.ts';
import { VERSION } from '../../shared/version.ts';
import { htmlResponse } from '../../shared/web.ts';
import { SharedDirPage, SharedFilePage, type SharedEntry, type SharedFile, type SharedListing } from '../../../views/dashboard/shared.tsx';
import type { Hive } from '../hive.ts';

/** Most bytes of a file the viewer shows. */
export const MAX_VIEW_BYTES = 256 * 1024;
/** Most entries a listing shows. */
export const MAX_LIST_ENTRIES = 1000;
/** How many bytes of a file are looked at to tell text from binary (a NUL byte there: binary). */
const SNIFF_BYTES = 8192;

/**
 * The segments of a request path below `/shared`, decoded.
 * @throws HiveError `bad_request` for a segment that is empty, `.`, `..`, malformed percent-encoding,
 *   or holds `/` or NUL once decoded.
 */
export function sharedSegments(pathname: string): string[] {
  const rest = pathname.replace(/^\/shared\/?/, '');
  if (rest === '') return [];
  return rest.split('/').map((raw) => {
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      throw new HiveError('bad_request', `"${raw}" is not a valid path segment`);
    }
    if (seg === '' || seg === '.' || seg === '..' || seg.includes('/') || seg.includes('\0'))
      throw new HiveError('bad_request', `"${seg}" is not a name in /shared (no ".", "..", "/" or empty names)`);
    return seg;
  });
}

/** What one path under the shared directory is: a listing or a file. */
export type SharedView = { kind: 'dir'; listing: SharedListing } | { kind: 'file'; file: SharedFile };

/**
 * Reads `segments` under `root` (the shared directory) without following any link.
 * @throws HiveError `not_found` when nothing is there; `forbidden` when a link is on the way or is
 *   the target; `bad_request` for something that is neither a file nor a directory.
 */
export function readShared(root: string, segments: string[]): SharedView {
  const base = realpathSync(join(root, '..'));
  const expected = join(base, 'shared', ...segments);
  const shown = `/shared${segments.map((s) => `/${s}`).join('')}`;
  let fd: number;
  try {
    // only a directory or a regular file is opened: opening a device or a FIFO can do things
    const pre = lstatSync(join(root, ...segments));
    if (!pre.isDirectory() && !pre.isFile() && !pre.isSymbolicLink()) throw new HiveError('bad_request', `${shown} is neither a file nor a directory`);
    fd = openSync(join(root, ...segments), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (err instanceof HiveError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new HiveError('forbidden', `${shown} is a link; the dashboard does not follow links`);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new HiveError('not_found', `${shown} does not exist`);
    throw err;
  }
  try {
    if (readlinkSync(`/proc/self/fd/${fd}`) !== expected) throw new HiveError('forbidden', `${shown} is reached through a link; the dashboard does not follow links`);
    const st = fstatSync(fd);
    if (st.isDirectory()) return { kind: 'dir', listing: listDir(`/proc/self/fd/${fd}`, segments) };
    if (!st.isFile()) throw new HiveError('bad_request', `${shown} is neither a file nor a directory`);
    const want = Math.min(st.size, MAX_VIEW_BYTES);
    const buf = Buffer.alloc(want);
    let got = 0;
    while (got < want) {
      const n = readSync(fd, buf, got, want - got, got);
      if (n === 0) break;
      got += n;
    }
    const data = buf.subarray(0, got);
    const binary = data.subarray(0, SNIFF_BYTES).includes(0);
    return {
      kind: 'file',
      file: { path: segments, size: st.size, modified_at: Math.round(st.mtimeMs), text: binary ? null : new TextDecoder().decode(data), shown: got },
    };
  } finally {
    closeSync(fd);
  }
}

/**
 * The entries of the directory open at `dir` (a `/proc/self/fd/N` path), directories first, then
 * by name; at most {@link MAX_LIST_ENTRIES} of them are looked at closer.
 */
function listDir(dir: string, path: string[]): SharedListing {
  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const all = readdirSync(dir, { withFileTypes: true }).sort((a, b) => Number(b.isDirectory()) - Number(a.isDirectory()) || byName(a.name, b.name));
  const entries: SharedEntry[] = [];
  for (const { name } of all.slice(0, MAX_LIST_ENTRIES)) {
    let st;
    try {
      st = lstatSync(join(dir, name));
    } catch {
      // removed since the directory was read: it is simply not listed
      continue;
    }
    const kind: SharedEntry['kind'] = st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
    const entry: SharedEntry = { name, kind, size: kind === 'file' ? st.size : null, modified_at: Math.round(st.mtimeMs) };
    if (kind === 'link') {
      try {
        entry.target = readlinkSync(join(dir, name));
      } catch {
        // replaced since: shown without its target
      }
    }
    entries.push(entry);
  }
  return { path, entries, more: Math.max(0, all.length - MAX_LIST_ENTRIES) };
}

/** The shared directory's routes: `GET /shared` and `GET /shared/<path>`. */
export function sharedRoutes(hive: Hive) {
  const page = (request: Request) => {
    const segments = sharedSegments(new URL(request.url).pathname);
    const view = readShared(hive.layout.sharedDir, segments);
    return htmlResponse(
      String(view.kind === 'dir' ? <SharedDirPage version={VERSION} listing={view.listing} /> : <SharedFilePage version={VERSION} file={view.file} />),
    );
  };
  return (app: AnyElysia) => app.get('/shared', ({ request }) => page(request)).get('/shared/*', ({ request }) => page(request));
}
