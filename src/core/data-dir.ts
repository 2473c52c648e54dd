/**
 * @module core/data-dir
 * Removing things under the data dir without being led outside it. Agent names are validated, but
 * a directory on the way (`agents/`, `logs/`, an agent's own dir) may have been replaced by a
 * symlink by whoever can write there; these helpers never follow one.
 */
import { lstatSync, realpathSync, rmSync, unlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { HiveError } from '../shared/errors.ts';

/** True when `path` exists, without following a final symlink. */
export function lexists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    // lstat fails only when there is nothing at `path` (or a parent is not a directory): absent
    return false;
  }
}

/**
 * Checks that `target`, a path under `dataDir` built from a validated name, is really where it
 * appears to be: no directory on the way is a symlink leading elsewhere. A target that does not
 * exist passes (there is nothing to remove).
 * @throws HiveError `internal` when `target`'s parent does not resolve to its place in the data dir.
 */
export function assertInside(dataDir: string, target: string): void {
  if (!lexists(target)) return;
  const parent = dirname(target);
  const expected = join(realpathSync(dataDir), relative(dataDir, parent));
  if (relative(dataDir, parent).startsWith('..') || realpathSync(parent) !== expected)
    throw new HiveError('internal', `refusing to remove ${target}: ${parent} does not resolve to ${expected}`);
}

/**
 * Removes `target` without following links: a symlink in its place is unlinked; a directory is
 * removed with its contents, where `rmSync` unlinks links instead of descending into them.
 */
export function removeNoFollow(target: string): void {
  if (!lexists(target)) return;
  const st = lstatSync(target);
  if (st.isSymbolicLink() || !st.isDirectory()) unlinkSync(target);
  else rmSync(target, { recursive: true, force: true });
}
