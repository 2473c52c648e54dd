/**
 * Whole-project checks: strict typecheck, the XSS scan over every JSX file, and the vendored
 * htmx files being one consistent version from the pinned htmx.org package.
 */
import { describe, expect, test } from 'bun:test';
import { Glob } from 'bun';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../src/shared/version.ts';

const bin = (name: string) => join(PACKAGE_ROOT, 'node_modules', '.bin', name);

describe('project checks', () => {
  test('strict typecheck passes', () => {
    const r = Bun.spawnSync([bin('tsc'), '--noEmit', '-p', PACKAGE_ROOT], { cwd: PACKAGE_ROOT });
    expect(r.stdout.toString() + r.stderr.toString()).toBe('');
    expect(r.exitCode).toBe(0);
  }, 120_000);

  test('xss-scan finds no unescaped dynamic content in any JSX file', () => {
    const files = [...new Glob('{src,views}/**/*.tsx').scanSync(PACKAGE_ROOT)];
    expect(files.length).toBeGreaterThan(5);
    const r = Bun.spawnSync([bin('xss-scan'), ...files], { cwd: PACKAGE_ROOT });
    const out = r.stdout.toString() + r.stderr.toString();
    expect(out).not.toContain('K601');
    expect(out).toContain('No XSS vulnerabilities found');
    expect(r.exitCode).toBe(0);
  }, 120_000);

  test('vendored htmx and its SSE extension are byte-identical to the pinned htmx.org', async () => {
    const dist = join(PACKAGE_ROOT, 'node_modules', 'htmx.org', 'dist');
    for (const [vendored, source] of <Array<[string, string]>>[
      ['htmx.min.js', 'htmx.min.js'],
      ['hx-sse.min.js', 'ext/hx-sse.min.js'],
    ]) {
      const a = await Bun.file(join(PACKAGE_ROOT, 'static', vendored)).text();
      const b = await Bun.file(join(dist, source)).text();
      expect(a === b).toBe(true);
    }
    const pkg = await Bun.file(join(PACKAGE_ROOT, 'package.json')).json();
    expect(pkg.dependencies['htmx.org']).toMatch(/^4\./);
  });
});
