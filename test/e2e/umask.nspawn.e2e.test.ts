/**
 * A core started with umask 0077, as the NixOS service runs it, still starts nspawn agents: the
 * harness bundle it builds is readable by the container's root, which has its own user range and
 * so reads the bundle's files only through the permissions for others.
 */
import { expect } from 'bun:test';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { HarnessBundle } from '../../src/core/agents/harness-bundle.ts';
import { ENTRY } from '../../src/shared/version.ts';
import { ctlJson, harnessesUnder, hive, tempDir, waitFor } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('umask 0077 nspawn e2e', 'git', 'nspawn');

let dir: string;
let core: ReturnType<typeof Bun.spawn>;

beforeAll(async () => {
  dir = tempDir('hv-umask-');
  const port = 17000 + Math.floor(Math.random() * 2000);
  const argv = [process.execPath, ENTRY, 'core', 'serve', '--data-dir', dir, '--listen', `127.0.0.1:${port}`, '--runtime', 'nspawn', '--host-root', '--no-manager'];
  core = Bun.spawn(['sh', '-c', 'umask 077 && exec "$@"', 'sh', ...argv], {
    env: { PATH: process.env.PATH!, HOME: dir },
    stdout: Bun.file(join(dir, 'core.out')),
    stderr: Bun.file(join(dir, 'core.err')),
  });
  await waitFor('the core to answer', () => hive(['ctl', 'status', '--data-dir', dir]).code === 0, 20_000);
});

afterAll(async () => {
  core?.kill('SIGTERM');
  await core?.exited;
  rmSync(dir, { recursive: true, force: true });
});

describe('a core with umask 0077 (nspawn runtime)', () => {
  test('builds a bundle every user can read, and its agent comes up running it', async () => {
    expect(ctlJson(dir, 'spawn', 'alice').agent.name).toBe('alice');
    const alice = await waitFor('alice idle', () => (ctlJson(dir, 'list').agents as any[]).find((a) => a.name === 'alice' && a.status === 'idle'), 60_000);
    // what the core made itself under its umask stays private; the bundle does not
    expect(statSync(join(dir, 'run')).mode & 0o777).toBe(0o700);
    const out = new HarnessBundle({ dir: join(dir, 'harness'), log: () => {} }).outDir;
    expect(statSync(out).mode & 0o777).toBe(0o755);
    expect(statSync(join(out, 'main.js')).mode & 0o777).toBe(0o644);
    expect(harnessesUnder(alice.pid).map((h) => h.argv)).toEqual([[process.execPath, '/run/hive-harness/main.js', 'agent', 'serve']]);
  });
});
