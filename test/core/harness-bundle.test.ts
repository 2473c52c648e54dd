import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HarnessBundle } from '../../src/core/agents/harness-bundle.ts';
import { CODE_ID, ENTRY, VERSION, selfCommand } from '../../src/shared/version.ts';
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
  test('is built once per code id, runs as this hive, and replaces other code ids', async () => {
    const dir = harnessDir();
    mkdirSync(join(dir, '0123456789ab'), { recursive: true });
    writeFileSync(join(dir, '0123456789ab', 'main.js'), 'stale');
    mkdirSync(join(dir, `${CODE_ID}.tmp-1`));
    const logs: string[] = [];
    const bundle = new HarnessBundle({ dir, log: (l) => logs.push(l) });
    const main = join(dir, CODE_ID, 'main.js');
    expect(await bundle.command()).toEqual([process.execPath, main]);
    expect(readdirSync(dir)).toEqual([CODE_ID]);
    expect(logs).toEqual([expect.stringMatching(new RegExp(`^harness bundle: built ${dir}/${CODE_ID} in \\d+ ms$`))]);
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

  test('under a umask of 0077 (the NixOS service) the bundle is still readable by every user', async () => {
    const dir = harnessDir();
    const before = process.umask(0o077);
    try {
      const [, main] = await new HarnessBundle({ dir, log: () => {} }).command();
      const out = join(dir, CODE_ID);
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
