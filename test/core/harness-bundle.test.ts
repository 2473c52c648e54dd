import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { HarnessBundle } from '../../src/core/agents/harness-bundle.ts';
import { CODE_ID, ENTRY, PACKAGE_ROOT, VERSION, selfCommand } from '../../src/shared/version.ts';
import { tempDir } from '../support/hive.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function harnessDir(): string {
  const d = tempDir('hv-harness-');
  dirs.push(d);
  return join(d, 'harness');
}

describe('the harness bundle', () => {
  test('is built once per code id and package, runs as this hive, and replaces other bundles', async () => {
    const dir = harnessDir();
    const logs: string[] = [];
    const bundle = new HarnessBundle({ dir, log: (l) => logs.push(l) });
    const out = bundle.outDir;
    expect(out).toMatch(new RegExp(`^${dir}/${CODE_ID}-[0-9a-f]{8}$`));
    mkdirSync(join(dir, '0123456789ab-00000000'), { recursive: true });
    writeFileSync(join(dir, '0123456789ab-00000000', 'main.js'), 'stale');
    mkdirSync(`${out}.tmp-1`);
    const main = join(out, 'main.js');
    expect(await bundle.command()).toEqual([process.execPath, main]);
    expect(readdirSync(dir)).toEqual([basename(out)]);
    expect(logs).toEqual([expect.stringMatching(new RegExp(`^harness bundle: built ${out} in \\d+ ms$`))]);
    // linked source maps: a harness's stack traces name the source files
    expect(existsSync(`${main}.map`)).toBe(true);
    // its package root is the package's, not the data dir: the code id it hashes is this one
    const run = Bun.spawnSync([process.execPath, main, 'version'], { cwd: '/', stdout: 'pipe', stderr: 'pipe' });
    expect(run.stdout.toString().trim()).toBe(VERSION);
    // the same call again, and a new core on the same data dir, use what is there
    expect(await bundle.command()).toEqual([process.execPath, main]);
    const before = statSync(main);
    const again: string[] = [];
    expect(await new HarnessBundle({ dir, log: (l) => again.push(l) }).command()).toEqual([process.execPath, main]);
    expect(again).toEqual([]);
    expect(statSync(main).mtimeMs).toBe(before.mtimeMs);
    expect(statSync(main).ino).toBe(before.ino);
  });

  test('the same code at another path (a NixOS rebuild moves the package) gets a bundle of its own, naming that path', async () => {
    const dir = harnessDir();
    const moved = join(dirname(dir), 'moved-package');
    symlinkSync(PACKAGE_ROOT, moved);
    const here = new HarnessBundle({ dir, log: () => {} });
    const there = new HarnessBundle({ dir, packageRoot: moved, entry: join(moved, 'src', 'main.ts'), log: () => {} });
    expect(there.outDir).not.toBe(here.outDir);
    expect(basename(there.outDir).startsWith(`${CODE_ID}-`)).toBe(true);
    await here.command();
    const [, main] = await there.command();
    expect(main).toBe(join(there.outDir, 'main.js'));
    const chunks = readdirSync(there.outDir).filter((f) => f.endsWith('.js'));
    const named = chunks.filter((f) => readFileSync(join(there.outDir, f), 'utf8').includes(JSON.stringify(moved)));
    expect(named.length).toBeGreaterThan(0);
    // the other path's bundle replaced this one's
    expect(readdirSync(dir)).toEqual([basename(there.outDir)]);
  });

  test('under a umask of 0077 (the NixOS service) the bundle is still readable by every user', async () => {
    const dir = harnessDir();
    const before = process.umask(0o077);
    try {
      const bundle = new HarnessBundle({ dir, log: () => {} });
      const [, main] = await bundle.command();
      const out = bundle.outDir;
      expect(main).toBe(join(out, 'main.js'));
      expect(statSync(out).mode & 0o777).toBe(0o755);
      const files = readdirSync(out);
      expect(files.length).toBeGreaterThan(2);
      for (const f of files) expect({ f, mode: statSync(join(out, f)).mode & 0o777 }).toEqual({ f, mode: 0o644 });
    } finally {
      process.umask(before);
    }
  });

  test('a build that fails leaves the source tree to run, says why, and leaves nothing behind', async () => {
    const dir = harnessDir();
    const logs: string[] = [];
    const bundle = new HarnessBundle({ dir, entry: join(dir, 'missing.ts'), log: (l) => logs.push(l) });
    expect(await bundle.command()).toEqual(selfCommand());
    expect(selfCommand()).toEqual([process.execPath, ENTRY]);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^WARN harness bundle: bun build exited 1: .*missing\.ts.*; agents run from the source tree$/);
    expect(readdirSync(dir)).toEqual([]);
  });

  test('a bundle that does not report this version is not used', async () => {
    const dir = harnessDir();
    const logs: string[] = [];
    const bundle = new HarnessBundle({ dir, version: '0.0.0+000000000000', log: (l) => logs.push(l) });
    expect(await bundle.command()).toEqual(selfCommand());
    expect(logs).toEqual([`WARN harness bundle: the bundle reports version ${JSON.stringify(VERSION)}, not 0.0.0+000000000000; agents run from the source tree`]);
    expect(readdirSync(dir)).toEqual([]);
  });
});
