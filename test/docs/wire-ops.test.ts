/**
 * docs/wire.md documents every socket op as the schemas in src/shared/wire.ts define it: the op
 * tables list exactly the ops of `AgentOps` and `HostOps`, each with its arguments (optional ones
 * marked `?`) and the top-level keys of its result.
 */
import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TObject } from '@sinclair/typebox';
import { PACKAGE_ROOT } from '../../src/shared/version.ts';
import { AgentOps, HostOps, type OpTable } from '../../src/shared/wire.ts';

const wire = readFileSync(join(PACKAGE_ROOT, 'docs', 'wire.md'), 'utf8');

/** What one table row says about an op. */
interface DocOp {
  args: string[];
  result: string[];
  row: string;
}

/** Splits `text` at the commas that are not inside brackets, braces or parentheses. */
function splitTop(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if ('([{'.includes(ch)) depth++;
    if (')]}'.includes(ch)) depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) parts.push(cur.trim());
  return parts;
}

/**
 * The ops of the first table after the heading that starts with `heading`: op cell, args cell
 * (`—` or backticked names, each optionally followed by a note in parentheses), and a result
 * cell that starts with the result's shape in backticks, e.g. `` `{agent}` ``.
 */
function docTable(heading: string): Map<string, DocOp> {
  const from = wire.indexOf(`\n${heading}`);
  if (from < 0) throw new Error(`docs/wire.md has no heading "${heading}"`);
  const lines = wire.slice(from).split('\n').slice(1);
  const start = lines.findIndex((l) => l.startsWith('|'));
  const rows = lines.slice(start, lines.findIndex((l, i) => i > start && !l.startsWith('|'))).slice(2);
  const ops = new Map<string, DocOp>();
  for (const row of rows) {
    const [opCell, argsCell, resultCell] = row.split(' | ').map((c) => c.replace(/^\| ?/, '').trim());
    const args =
      argsCell === '—'
        ? []
        : splitTop(argsCell!).map((item) => {
            const m = /^`([a-z_]+\??)`/.exec(item);
            if (!m) throw new Error(`docs/wire.md: cannot read the argument "${item}" in: ${row}`);
            return m[1]!;
          });
    const shape = /^`\{(.*)\}`/.exec(resultCell ?? '');
    if (!shape) throw new Error(`docs/wire.md: the result cell does not start with \`{...}\` in: ${row}`);
    const result = splitTop(shape[1]!).map((k) => k.split(':')[0]!.trim());
    for (const name of opCell!.split(' / ')) ops.set(name.replace(/`/g, '').trim(), { args, result, row });
  }
  return ops;
}

/** What the schema says about an op, in the doc's notation. */
function schemaOp(table: OpTable, name: string): { args: string[]; result: string[] } {
  const { args, result } = table[name]!;
  const required = new Set(args.required ?? []);
  return {
    args: Object.keys(args.properties).map((k) => (required.has(k) ? k : `${k}?`)),
    result: Object.keys((result as TObject).properties ?? {}),
  };
}

describe.each([
  ['## Agent socket ops', 'AgentOps', AgentOps],
  ['## Host socket ops', 'HostOps', HostOps],
] as const)('%s', (heading, label, table) => {
  const doc = docTable(heading);

  test(`lists exactly the ops of ${label}`, () => {
    expect([...doc.keys()].sort()).toEqual(Object.keys(table).sort());
  });

  test.each(Object.keys(table))(`%s: arguments and result keys as in ${label}`, (name) => {
    const d = doc.get(name);
    if (!d) throw new Error(`docs/wire.md does not document ${name}`);
    const s = schemaOp(table, name);
    expect({ op: name, args: [...d.args].sort(), result: [...d.result].sort() }).toEqual({ op: name, args: [...s.args].sort(), result: [...s.result].sort() });
  });
});
