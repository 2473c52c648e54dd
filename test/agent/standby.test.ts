/**
 * The standby claude's parts without claude: its key, the transcript stamp, the holder
 * (`claude/standby.ts`) with real processes standing in for claude (`cat`, which like a waiting
 * claude reads stdin until it ends), the hand-over of a started process to `runClaude`, and the
 * `--standby-seconds` / `HIVE_STANDBY_SECONDS` settings. The real claude is in
 * test/e2e/standby.e2e.test.ts.
 */
import { describe, expect, test } from 'bun:test';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Standby, standbyKey, transcriptStamp } from '../../src/agent/claude/standby.ts';
import { runClaude, startClaude, userMessageLine } from '../../src/agent/claude/run.ts';
import { buildClaudeArgv } from '../../src/agent/claude/argv.ts';
import { loadAgentEnv } from '../../src/agent/env.ts';
import { loadCoreConfig } from '../../src/core/settings.ts';
import { DEFAULT_STANDBY_SECONDS } from '../../src/shared/wire.ts';
import type { ClaudeEvent } from '../../src/shared/stream-json.ts';
import { processAlive, tempDir, waitFor } from '../support/hive.ts';

const cat = (cwd = '/') => ({ argv: ['cat'], env: { PATH: process.env.PATH! }, cwd });

describe('standbyKey', () => {
  const spec = { argv: ['claude', '-p', '--model', 'haiku'], env: { A: '1', B: '2' }, cwd: '/state' };
  test('is the same for the same command, whatever the order of the environment', () => {
    expect(standbyKey(spec, 'cfg')).toBe(standbyKey({ ...spec, env: { B: '2', A: '1' } }, 'cfg'));
  });
  test('differs when the argv, environment, working dir or named files differ', () => {
    const k = standbyKey(spec, 'cfg');
    expect(standbyKey({ ...spec, argv: ['claude', '-p', '--model', 'sonnet'] }, 'cfg')).not.toBe(k);
    expect(standbyKey({ ...spec, env: { A: '1', B: '3' } }, 'cfg')).not.toBe(k);
    expect(standbyKey({ ...spec, cwd: '/other' }, 'cfg')).not.toBe(k);
    expect(standbyKey(spec, 'cfg2')).not.toBe(k);
  });
});

describe('transcriptStamp', () => {
  test("is the size of the session's transcript, in whichever project holds it, or null", () => {
    const dir = tempDir('hv-sbt-');
    try {
      expect(transcriptStamp(dir, 'abc')).toBeNull(); // no projects yet
      mkdirSync(join(dir, 'projects', '-state'), { recursive: true });
      mkdirSync(join(dir, 'projects', '-other'), { recursive: true });
      writeFileSync(join(dir, 'projects', '-other', 'abc.jsonl'), '{"a":1}\n');
      expect(transcriptStamp(dir, 'abc')).toBe('8');
      expect(transcriptStamp(dir, 'nope')).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Standby', () => {
  test('hands over the process it holds when the key and stamp match, once', () => {
    const s = new Standby();
    expect(s.start(cat(), 'k', '10', 30)).toBe(true);
    const pid = s.pid!;
    const got = s.take('k', '10');
    if (!('proc' in got)) throw new Error(`not taken: ${got.miss}`);
    expect(got.proc.pid).toBe(pid);
    expect(got.waitedMs).toBeGreaterThanOrEqual(0);
    expect(s.take('k', '10')).toEqual({ miss: 'none' });
    expect(s.pid).toBeNull();
    got.proc.kill();
  });

  test('ends the held process instead when the key, the transcript or the process changed', async () => {
    const s = new Standby();
    for (const [key, stamp, miss] of [['other', '10', 'changed'], ['k', '11', 'transcript'], ['k', null, 'transcript']] as const) {
      s.start(cat(), 'k', '10', 30);
      const pid = s.pid!;
      expect(s.take(key, stamp)).toEqual({ miss });
      await waitFor(`the ${miss} standby to end`, () => !processAlive(pid), 10_000);
    }
    s.start({ ...cat(), argv: ['true'] }, 'k', '10', 30);
    const pid = s.pid!;
    await waitFor('the process to exit', () => !processAlive(pid), 10_000);
    expect(s.take('k', '10')).toEqual({ miss: 'exited' });
  });

  test('ends the held process when its time is up, when another starts, and on discard', async () => {
    const s = new Standby();
    s.start(cat(), 'k', null, 0.2);
    const first = s.pid!;
    await waitFor('the standby to expire', () => !processAlive(first), 10_000);
    expect(s.pid).toBeNull();
    s.start(cat(), 'k', null, 30);
    const second = s.pid!;
    s.start(cat(), 'k', null, 30);
    const third = s.pid!;
    await waitFor('the replaced standby to end', () => !processAlive(second), 10_000);
    expect(processAlive(third)).toBe(true);
    s.discard();
    await waitFor('the discarded standby to end', () => !processAlive(third), 10_000);
    expect(s.pid).toBeNull();
  });

  test('a command that cannot start is reported, not thrown', () => {
    const said: string[] = [];
    const s = new Standby((l) => said.push(l));
    expect(s.start({ ...cat(), argv: ['/nonexistent/claude'] }, 'k', null, 30)).toBe(false);
    expect(said[0]).toContain('standby claude did not start');
    expect(s.take('k', null)).toEqual({ miss: 'none' });
  });
});

describe('runClaude with a process started earlier', () => {
  test('writes the prompt to its stdin, closes it, and streams what it prints', async () => {
    const proc = startClaude(cat());
    const events: ClaudeEvent[] = [];
    const exit = await runClaude({ ...cat(), proc, stdin: userMessageLine('hello "there"\nsecond line'), onEvent: (e) => events.push(e) });
    expect(exit).toEqual({ exitCode: 0, signal: null, stderrTail: '' });
    // cat echoes the line: one stream-json user message holding the whole prompt
    expect(events).toEqual([{ type: 'user', message: { role: 'user', content: 'hello "there"\nsecond line' } } as ClaudeEvent]);
  });

  test('a process that already exited reports its end instead of failing on the write', async () => {
    const proc = startClaude({ ...cat(), argv: ['sh', '-c', 'echo gone >&2; exit 3'] });
    await proc.exited;
    const exit = await runClaude({ ...cat(), proc, stdin: userMessageLine('late'), onEvent: () => {} });
    expect(exit.exitCode).toBe(3);
    expect(exit.stderrTail).toBe('gone\n');
  });
});

describe("a turn's argv", () => {
  test('reads the prompt on stdin when there is none to put after --', () => {
    const base = { claudeBin: 'claude', model: 'haiku', systemPrompt: 'sys', mcpConfigPath: '/m.json', allowedTools: ['Read'], session: { id: 'u1', resume: true } };
    const argv = buildClaudeArgv({ ...base, prompt: null });
    expect(argv.slice(0, 4)).toEqual(['claude', '-p', '--input-format', 'stream-json']);
    expect(argv).not.toContain('--');
    expect(argv.slice(-2)).toEqual(['--resume', 'u1']);
    const job = buildClaudeArgv({ ...base, prompt: '/compact' });
    expect(job).not.toContain('--input-format');
    expect(job.slice(-2)).toEqual(['--', '/compact']);
  });
});

describe('--standby-seconds', () => {
  const load = (flags: Record<string, string> = {}, env: Record<string, string> = {}) => loadCoreConfig({ 'data-dir': '/tmp/hv-sbt-settings', runtime: 'process', ...flags }, env);
  test(`defaults to ${DEFAULT_STANDBY_SECONDS}; the flag wins over HIVE_STANDBY_SECONDS; 0 is off`, () => {
    expect(load().standbySeconds).toBe(DEFAULT_STANDBY_SECONDS);
    expect(load({}, { HIVE_STANDBY_SECONDS: '5' }).standbySeconds).toBe(5);
    expect(load({ 'standby-seconds': '0' }, { HIVE_STANDBY_SECONDS: '5' }).standbySeconds).toBe(0);
  });
  test('refuses what is not a whole number of seconds from 0 to 3600, naming the flag', () => {
    for (const bad of ['-1', '1.5', 'soon', '3601', ''])
      expect(() => load({ 'standby-seconds': bad })).toThrow(/--standby-seconds .*expected a whole number of seconds \(0 to 3600/);
  });
  test('reaches the harness as HIVE_STANDBY_SECONDS; a harness without it uses the default, and one with a bad value has none', () => {
    expect(loadAgentEnv({}).standbySeconds).toBe(DEFAULT_STANDBY_SECONDS);
    expect(loadAgentEnv({ HIVE_STANDBY_SECONDS: '12' }).standbySeconds).toBe(12);
    expect(loadAgentEnv({ HIVE_STANDBY_SECONDS: 'x' }).standbySeconds).toBe(0);
  });
});
