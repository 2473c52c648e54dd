import { expect } from 'bun:test';
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataLayout } from '../../src/shared/paths.ts';
import { openTestHive, tempDir } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('core purge', 'git');

let t: Awaited<ReturnType<typeof openTestHive>>;
let layout: DataLayout;
let outside: string;

beforeAll(async () => {
  t = await openTestHive();
  layout = new DataLayout(t.dir);
  outside = tempDir('hv-outside-');
  writeFileSync(join(outside, 'precious.txt'), 'do not delete');
});
const outsideDirs: string[] = [];
afterAll(async () => {
  await t.close();
  for (const d of [outside, ...outsideDirs]) rmSync(d, { recursive: true, force: true });
});

describe('destroy keeps state; purge removes it and nothing else', () => {
  test('destroy lists the agent as kept; a re-spawn finds its state again', async () => {
    await t.hive.lifecycle.spawn('kim', { start: false });
    writeFileSync(join(layout.agent('kim').state, 'notes.md'), 'kim remembers');
    await t.hive.lifecycle.destroy('kim');
    expect(t.hive.kept.list().map((k) => k.name)).toEqual(['kim']);
    expect(existsSync(layout.agent('kim').socketDir)).toBe(false);
    await t.hive.lifecycle.spawn('kim', { start: false });
    expect(readFileSync(join(layout.agent('kim').state, 'notes.md'), 'utf8')).toBe('kim remembers');
    expect(t.hive.kept.list()).toEqual([]);
  });

  test('purge refuses a registered agent, bad names and path tricks', async () => {
    expect(() => t.hive.kept.purge('kim')).toThrow('destroy it first');
    for (const bad of ['..', 'a/b', '../etc', 'manager', '', 'x'.repeat(10)]) expect(() => t.hive.kept.purge(bad)).toThrow(/agent name/);
    expect(() => t.hive.kept.purge('nobody')).toThrow('nothing is kept');
  });

  test('purge removes links inside the state tree as links, never what they point to', async () => {
    const s = layout.agent('kim').state;
    symlinkSync(join(outside, 'precious.txt'), join(s, 'link-to-file'));
    symlinkSync(outside, join(s, 'link-to-dir'));
    mkdirSync(join(s, 'deep', 'er'), { recursive: true });
    symlinkSync('/', join(s, 'deep', 'er', 'root'));
    await t.hive.lifecycle.destroy('kim');
    t.hive.kept.purge('kim');
    expect(existsSync(layout.agent('kim').root)).toBe(false);
    expect(readFileSync(join(outside, 'precious.txt'), 'utf8')).toBe('do not delete');
    expect(existsSync('/usr/bin')).toBe(true);
    expect(t.hive.kept.list()).toEqual([]);
  });

  test("an agent's directory replaced by a symlink is unlinked, not followed", async () => {
    mkdirSync(layout.agentsDir, { recursive: true });
    symlinkSync(outside, join(layout.agentsDir, 'lee'));
    t.hive.kept.purge('lee');
    expect(() => lstatSync(join(layout.agentsDir, 'lee'))).toThrow();
    expect(readFileSync(join(outside, 'precious.txt'), 'utf8')).toBe('do not delete');
  });

  test('a symlinked directory on the way (logs/ pointing elsewhere) makes purge refuse and delete nothing there', async () => {
    await t.hive.lifecycle.spawn('mia', { start: false });
    await t.hive.lifecycle.destroy('mia');
    const logs = tempDir('hv-logs-');
    outsideDirs.push(logs);
    writeFileSync(join(logs, 'mia.log'), 'not the hive\'s');
    rmSync(layout.logsDir, { recursive: true, force: true });
    symlinkSync(logs, layout.logsDir);
    expect(() => t.hive.kept.purge('mia')).toThrow('does not resolve to');
    expect(readFileSync(join(logs, 'mia.log'), 'utf8')).toBe("not the hive's");
    expect(existsSync(layout.agent('mia').root)).toBe(true); // refused before anything was removed
  });
});
