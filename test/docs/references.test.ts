/**
 * What the docs and messages name must exist: every `hive ctl <command>` in docs/*.md, README.md
 * and the sources (string literals, comments, JSX) is a ctl command; every repository path in
 * docs/*.md and README.md (src/…, test/…, prompts/…, views/…, static/…, bench/…) exists; every
 * `{{variable}}` the docs name is one the prompt templates use. Also: ctl's help and its dispatch
 * agree with its command table.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CTL_COMMANDS, CTL_HELP, ctlCommandHelp, runCtl } from '../../src/ctl/ctl.ts';
import { PACKAGE_ROOT } from '../../src/shared/version.ts';
import { tempDir } from '../support/hive.ts';

const root = (...p: string[]) => join(PACKAGE_ROOT, ...p);

/** Files under `dir` (relative to the repository) whose names end with one of `exts`. */
function filesUnder(dir: string, exts: string[]): string[] {
  return readdirSync(root(dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && exts.some((x) => e.name.endsWith(x)))
    .map((e) => relative(PACKAGE_ROOT, join(e.parentPath, e.name)))
    .sort();
}

const docs = ['README.md', ...filesUnder('docs', ['.md'])];
const sources = filesUnder('src', ['.ts', '.tsx']);

/** Every match of `re` in `files`, with where it is (`file:line`). */
function occurrences(files: string[], re: RegExp): Array<{ at: string; match: RegExpExecArray }> {
  return files.flatMap((f) => {
    const text = readFileSync(root(f), 'utf8');
    return [...text.matchAll(re)].map((match) => ({ at: `${f}:${text.slice(0, match.index).split('\n').length}`, match }));
  });
}

describe('hive ctl commands named anywhere exist', () => {
  // `hive ctl` then the command, also across a line break in Markdown (but not a path: `hive ctl\nsrc/`).
  const MENTION = /\bhive ctl\s+([a-z][a-z0-9_-]*)\b(?!\/)/g;

  test.each([
    ['docs/*.md and README.md', docs],
    ['src/', sources],
  ])('in %s', (_label, files) => {
    const found = occurrences(files, MENTION);
    const unknown = found.filter((o) => !Object.hasOwn(CTL_COMMANDS, o.match[1]!)).map((o) => `${o.at}: hive ctl ${o.match[1]}`);
    expect(unknown).toEqual([]);
    expect(found.length).toBeGreaterThan(0);
  });

  test('the check finds a mention wrapped across lines', () => {
    expect([...'see `hive ctl\nstatus` and hive ctl tags NAME'.matchAll(MENTION)].map((m) => m[1])).toEqual(['status', 'tags']);
    expect([...'src/ctl/   hive ctl\nsrc/shared/'.matchAll(MENTION)]).toEqual([]);
  });
});

describe('repository paths named in docs/*.md and README.md exist', () => {
  const PATH = /(?<![\w.\/<>@-])(?:\.\.\/)?((?:src|test|prompts|views|static|bench)\/[\w.\/-]*[\w\/])/g;

  test('each one', () => {
    const found = occurrences(docs, PATH);
    const missing = found.filter((o) => !existsSync(root(o.match[1]!))).map((o) => `${o.at}: ${o.match[1]}`);
    expect(missing).toEqual([]);
    expect(found.some((o) => o.match[1]!.startsWith('src/'))).toBe(true);
  });
});

describe('prompt variables named in the docs exist', () => {
  test('each {{variable}} is used by a template in prompts/', () => {
    const used = new Set(
      filesUnder('prompts', ['.md']).flatMap((f) => [...readFileSync(root(f), 'utf8').matchAll(/\{\{\s*([a-zA-Z_]\w*)\s*\}\}/g)].map((m) => m[1]!)),
    );
    const named = occurrences(docs, /\{\{\s*([a-zA-Z_]\w*)\s*\}\}/g);
    expect(named.filter((o) => !used.has(o.match[1]!)).map((o) => `${o.at}: {{${o.match[1]}}}`)).toEqual([]);
  });
});

describe("ctl's command table, help and dispatch agree", () => {
  const names = Object.keys(CTL_COMMANDS);
  // An empty data dir: a command that is carried out fails to reach the core there.
  const dir = tempDir('hv-ctl-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('the help lists every form of every command', () => {
    for (const c of Object.values(CTL_COMMANDS)) for (const [synopsis] of c.forms) expect(CTL_HELP).toContain(`  ${synopsis}`);
  });

  test.each(names)('%s has its own help and is carried out (it reaches for the core)', async (name) => {
    expect(ctlCommandHelp(name)).toContain(`usage: hive ctl ${name}`);
    const c = CTL_COMMANDS[name]!;
    const sample: Record<string, string> = { NAME: 'alice', ID: '1', TEXT: 'hi', MODEL: 'haiku', SHA: 'abcdef1', TO: '1' };
    const positionals = c.forms[0]![0]
      .split(' ')
      .slice(1)
      .map((w) => w.replace(/\.\.\.$/, ''))
      .filter((w) => w in sample)
      .map((w) => sample[w]!);
    expect(positionals.length).toBeGreaterThanOrEqual(c.min);
    let out = '';
    const code = await runCtl({ command: name, positionals, json: true, dataDir: dir }, (s) => (out += s), () => {});
    expect(code).toBe(1);
    expect(JSON.parse(out).error.code).toBe('unavailable');
  });
});
