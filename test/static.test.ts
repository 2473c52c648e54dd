/**
 * Whole-project checks: strict typecheck, the XSS scan over every JSX file, htmx served from the
 * one pinned htmx.org package, and views importing nothing from the core or the agent.
 */
import { describe, expect, test } from 'bun:test';
import { Glob } from 'bun';
import { join, relative } from 'node:path';
import { readdirSync } from 'node:fs';
import { PACKAGE_ROOT } from '../src/shared/version.ts';
import { PACKAGE_STATIC, STATIC_DIR, staticFiles } from '../src/shared/web.ts';
import { requires } from './support/prereq.ts';

/** tsc and xss-scan are node scripts. */
const withNode = requires('static checks: tsc and xss-scan', 'node');

const bin = (name: string) => join(PACKAGE_ROOT, 'node_modules', '.bin', name);

describe('project checks', () => {
  withNode.test('strict typecheck passes', () => {
    const r = Bun.spawnSync([bin('tsc'), '--noEmit', '-p', PACKAGE_ROOT], { cwd: PACKAGE_ROOT });
    expect(r.stdout.toString() + r.stderr.toString()).toBe('');
    expect(r.exitCode).toBe(0);
  }, 120_000);

  withNode.test('xss-scan finds no unescaped dynamic content in any JSX file', () => {
    const files = [...new Glob('{src,views}/**/*.tsx').scanSync(PACKAGE_ROOT)];
    expect(files.length).toBeGreaterThan(5);
    const r = Bun.spawnSync([bin('xss-scan'), ...files], { cwd: PACKAGE_ROOT });
    const out = r.stdout.toString() + r.stderr.toString();
    expect(out).not.toContain('K601');
    expect(out).toContain('No XSS vulnerabilities found');
    expect(r.exitCode).toBe(0);
  }, 120_000);

  test('htmx, its SSE extension, uPlot and xterm.js are served from their pinned packages, with no copy in static/', async () => {
    const pkg = await Bun.file(join(PACKAGE_ROOT, 'package.json')).json();
    const pinned: string = pkg.dependencies['htmx.org'];
    expect(pinned).toMatch(/^4\.\d+\.\d+$/);
    const installed = await Bun.file(Bun.resolveSync('htmx.org/package.json', PACKAGE_ROOT)).json();
    expect(installed.version).toBe(pinned);
    expect(pkg.dependencies.uplot).toMatch(/^1\.6\.\d+$/);
    expect(pkg.dependencies['@xterm/xterm']).toMatch(/^6\.\d+\.\d+$/);
    expect(pkg.dependencies['@xterm/addon-fit']).toMatch(/^\d+\.\d+\.\d+$/);
    for (const dep of ['@xterm/xterm', '@xterm/addon-fit'])
      expect((await Bun.file(Bun.resolveSync(`${dep}/package.json`, PACKAGE_ROOT)).json()).version).toBe(pkg.dependencies[dep]);
    expect(Object.keys(PACKAGE_STATIC).sort()).toEqual(['htmx.min.js', 'hx-sse.min.js', 'uplot.min.css', 'uplot.min.js', 'xterm-addon-fit.js', 'xterm.css', 'xterm.js']);
    expect(readdirSync(STATIC_DIR).filter((f) => /htmx|hx-|uplot|xterm/i.test(f))).toEqual([]);
    const app = staticFiles();
    for (const [name, source, type] of [
      ['htmx.min.js', 'htmx.org/dist/htmx.min.js', 'javascript'],
      ['hx-sse.min.js', 'htmx.org/dist/ext/hx-sse.min.js', 'javascript'],
      ['uplot.min.js', 'uplot/dist/uPlot.iife.min.js', 'javascript'],
      ['uplot.min.css', 'uplot/dist/uPlot.min.css', 'text/css'],
      ['xterm.js', '@xterm/xterm/lib/xterm.js', 'javascript'],
      ['xterm.css', '@xterm/xterm/css/xterm.css', 'text/css'],
      ['xterm-addon-fit.js', '@xterm/addon-fit/lib/addon-fit.js', 'javascript'],
    ] as const) {
      const res = await app.handle(new Request(`http://localhost/static/${name}`));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain(type);
      const served = await res.text();
      expect(served === (await Bun.file(Bun.resolveSync(source, PACKAGE_ROOT)).text())).toBe(true);
    }
  });

  test('views import only views and src/shared (never src/core or src/agent)', async () => {
    const bad: string[] = [];
    for (const file of new Glob('views/**/*.{ts,tsx}').scanSync(PACKAGE_ROOT)) {
      const code = await Bun.file(join(PACKAGE_ROOT, file)).text();
      for (const [, spec] of code.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*['"]([^'"]+)['"]/g)) {
        if (!spec!.startsWith('.')) continue;
        const target = relative(PACKAGE_ROOT, join(PACKAGE_ROOT, file, '..', spec!));
        if (!target.startsWith('views/') && !target.startsWith('src/shared/')) bad.push(`${file}: ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
