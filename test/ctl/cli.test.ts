/**
 * `hive ctl` argument handling, through the real CLI (`bun src/main.ts ctl ...`): help is printed
 * and nothing is sent, unknown or misplaced options and stray arguments are usage errors (exit 2),
 * and `--` ends the options so a message may start with a dash.
 */
import { expect } from 'bun:test';
import { rmSync } from 'node:fs';
import { ENTRY } from '../../src/shared/version.ts';
import { openTestHive, tempDir } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('ctl cli', 'git');

/** Runs `hive ctl <args>` without blocking this process (a core may run in it). */
async function ctl(args: string[], dataDir: string) {
  const p = Bun.spawn([process.execPath, ENTRY, 'ctl', ...args], {
    env: { PATH: process.env.PATH, HOME: dataDir, HIVE_DATA_DIR: dataDir },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

describe('without a core: parsing alone decides', () => {
  // An empty data dir: had ctl tried the core, it would exit 1 (unavailable).
  let dir: string;
  beforeAll(() => {
    dir = tempDir('hv-ctl-');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test.each([[['--help']], [['-h']], [[]]])('hive ctl %j prints the usage and exits 0', async (args) => {
    const r = await ctl(args, dir);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain('usage: hive ctl <command>');
    expect(r.stdout).toContain('purge NAME');
  });

  const commandHelp: string[][] = [
    ['spawn', '--help'],
    ['spawn', '-h'],
    ['--help', 'spawn'],
    ['spawn', 'alice', '--help'],
    ['destroy', '--help'],
    ['destroy', 'alice', '-h'],
    ['purge', '--help'],
    ['send', 'alice', '--help'],
    ['send', '--help', 'alice', 'hello'],
    ['model', 'alice', '--reset', '--help'],
    ['spawn', '--bogus', '--help'],
  ];
  test.each(commandHelp)('hive ctl %s %s … prints that command\'s usage, exits 0 and sends nothing', async (...args) => {
    const r = await ctl(args, dir);
    const command = args.find((a) => !a.startsWith('-'))!;
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain(`usage: hive ctl ${command} `);
    expect(r.stdout).toContain('--data-dir DIR');
  });

  test('hive ctl help for an unknown command is the general usage', async () => {
    const r = await ctl(['frob', '--help'], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('usage: hive ctl <command>');
  });

  const usageErrors: Array<[string[], RegExp]> = [
    [['spawn', 'alice', '--bogus'], /unknown option --bogus/],
    [['spawn', '--bogus=1', 'alice'], /unknown option --bogus/],
    [['spawn', 'alice', '-x'], /unknown option -x/],
    [['spawn', 'alice', '--all'], /spawn does not take --all/],
    [['destroy', '--reason', 'old', 'alice'], /destroy does not take --reason/],
    [['send', 'alice', 'hi', '--limit', '3'], /send does not take --limit/],
    [['status', '--json=yes'], /--json takes no value/],
    [['messages', '--limit'], /--limit needs a value/],
    [['messages', '--limit', '0'], /--limit must be a positive integer/],
    [['retention', '--days', 'x'], /--days must be a whole number/],
    [['costs', '--since', 'yesterday'], /--since yesterday/],
    [['spawn'], /spawn needs an agent NAME/],
    [['spawn', 'alice', 'bob'], /spawn takes 1 argument; unexpected "bob"/],
    [['status', 'now'], /status takes no arguments; unexpected "now"/],
    [['send', 'alice'], /send needs NAME and TEXT/],
    [['model', 'alice'], /model needs NAME and MODEL, or NAME --reset/],
    [['model', 'alice', 'haiku', '--reset'], /model takes NAME and MODEL, or NAME --reset/],
    [['approve', 'seven'], /"seven" is not an id/],
    [['answer', '3', 'yes', '--choice', 'a'], /answer takes TEXT or --choice, not both/],
    [['frob'], /unknown command "frob"/],
    [['--json'], /no command given/],
  ];
  test.each(usageErrors)('hive ctl %j is a usage error: exit 2, naming the fault', async (args, message) => {
    const r = await ctl(args, dir);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('hive ctl');
  });
});

describe('against a core', () => {
  let t: Awaited<ReturnType<typeof openTestHive>>;
  beforeAll(async () => {
    t = await openTestHive();
    await t.hive.lifecycle.spawn('alice', { start: false });
  });
  afterAll(() => t.close());

  /** What the core holds, read back with `hive ctl --json`. */
  const read = async (...args: string[]) => {
    const r = await ctl(['--json', ...args], t.dir);
    if (r.code !== 0) throw new Error(`hive ctl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const messages = async (): Promise<Array<{ id: number; body: string }>> => (await read('messages', '--agent', 'alice', '--limit', '1000')).messages;
  const bodies = async () => (await messages()).map((m) => m.body);

  test('`--` ends the options: the rest is the message, dashes and all', async () => {
    for (const [words, body] of [
      [['--literal', 'body'], '--literal body'],
      [['--help'], '--help'],
      [['-h'], '-h'],
      [['--', '-1', 'apples'], '-- -1 apples'],
    ] as const) {
      const r = await ctl(['--json', 'send', 'alice', '--', ...words], t.dir);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const { id } = JSON.parse(r.stdout) as { id: number };
      expect((await messages()).find((m) => m.id === id)?.body).toBe(body);
    }
  });

  test('options go anywhere before `--`, also as --name=value', async () => {
    const r = await ctl(['send', `--data-dir=${t.dir}`, 'alice', 'hello', 'there', '--json'], t.dir);
    expect(r.code).toBe(0);
    expect(await bodies()).toContain('hello there');
  });

  test('help sends nothing: no message, no agent named --help, alice still there', async () => {
    const before = (await bodies()).length;
    for (const args of [['send', 'alice', 'x', '--help'], ['spawn', '--help'], ['destroy', 'alice', '--help'], ['purge', '-h']]) {
      const r = await ctl(args, t.dir);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`usage: hive ctl ${args[0]} `);
    }
    expect((await bodies()).length).toBe(before);
    expect((await read('list')).agents.map((a: { name: string }) => a.name)).toEqual(['alice']);
  });

  test('a usage error sends nothing', async () => {
    const before = (await bodies()).length;
    const r = await ctl(['send', 'alice', 'hi', '--all'], t.dir);
    expect(r.code).toBe(2);
    expect((await bodies()).length).toBe(before);
  });

  test('a refusal by the core is exit 1, not a usage error', async () => {
    const r = await ctl(['send', 'nobody', 'hi'], t.dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not_found');
  });
});
