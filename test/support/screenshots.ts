/**
 * Where browser tests save their screenshots. `bun run screenshots` (HIVE_SCREENSHOTS=1) writes
 * them over the ones in `docs/screenshots/`, which the docs show; an ordinary test run takes them
 * all the same but keeps them in a temp dir, so tests never rewrite tracked files.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/shared/version.ts';

const dir = process.env.HIVE_SCREENSHOTS === '1' ? join(PACKAGE_ROOT, 'docs', 'screenshots') : mkdtempSync(join(tmpdir(), 'hv-shots-'));

/** The path to save screenshot `name` (e.g. `dashboard.png`) at. */
export function screenshotPath(name: string): string {
  return join(dir, name);
}
