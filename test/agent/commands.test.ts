/**
 * The pure parts of the agent page's slash commands and of the two compactions: telling a command
 * from a message, the answer to an unknown command, reading a `/compact` run's outcome from the
 * stream-json events Claude Code 2.1.329 prints (shapes as recorded from it), and taking the
 * rewritten notes out of an answer. The runs themselves are covered end to end in
 * `test/e2e/commands.e2e.test.ts` and `test/e2e/notes.e2e.test.ts`.
 */
import { describe, expect, test } from 'bun:test';
import { COMMANDS, findCommand, helpText, parseInput } from '../../src/agent/commands.ts';
import { readCompaction } from '../../src/agent/session.ts';
import { extractNotes } from '../../src/agent/notes.ts';
import { parseAgentConfig } from '../../src/shared/agent-config.ts';
import { COMMAND_BUTTONS } from '../../views/agent/commands.tsx';

describe('telling a command from a message', () => {
  test.each([
    ['/help', { kind: 'command', name: 'help', arg: '' }],
    ['  /compact   keep the plan\nand the list ', { kind: 'command', name: 'compact', arg: 'keep the plan\nand the list' }],
    ['/Model sonnet', { kind: 'command', name: 'model', arg: 'sonnet' }],
    ['/compact-notes', { kind: 'command', name: 'compact-notes', arg: '' }],
    ['hello /help', { kind: 'message', body: 'hello /help' }],
    ['/state/notes.md is stale', { kind: 'message', body: '/state/notes.md is stale' }],
    ['/ spaced', { kind: 'message', body: '/ spaced' }],
    ['//help is a word', { kind: 'message', body: '/help is a word' }],
  ])('%j', (text, parsed) => {
    expect(parseInput(text)).toEqual(parsed as ReturnType<typeof parseInput>);
  });

  test('an unknown command is refused with every known one and the way to send a message starting with /', () => {
    expect(() => findCommand('frob')).toThrow(
      'unknown command /frob; the commands are /help, /cancel, /clear, /compact, /model, /compact-notes (/help says what each does; start with // to send a message that begins with /)',
    );
  });

  test('/help names each command with its arguments; every button is a command', () => {
    const help = helpText();
    for (const c of COMMANDS) expect(help).toContain(`/${c.name}${c.args ? ` ${c.args}` : ''}: ${c.summary}`);
    for (const b of COMMAND_BUTTONS) expect(findCommand(b.command).name).toBe(b.command);
  });
});

describe("reading a /compact run's outcome", () => {
  const sid = '7734d87c-133b-4ffc-94de-9b61d00d126f';
  const result = { type: 'result', subtype: 'success', is_error: false, num_turns: 0, result: '', session_id: sid };

  test('a compact_boundary event: compacted, with the token counts', () => {
    const events = [
      { type: 'system', subtype: 'status', status: 'compacting', session_id: sid },
      { type: 'system', subtype: 'status', status: null, compact_result: 'success', session_id: sid },
      { type: 'system', subtype: 'init', session_id: sid },
      { type: 'system', subtype: 'compact_boundary', session_id: sid, compact_metadata: { trigger: 'manual', pre_tokens: 19928, post_tokens: 2504 } },
      { type: 'user', message: { role: 'user', content: '<local-command-stdout>Compacted </local-command-stdout>' } },
      result,
    ];
    expect(readCompaction(events)).toEqual({ ok: true, preTokens: 19928, postTokens: 2504 });
  });

  test('a failed status: its compact_error, though the result is no error', () => {
    const events = [
      { type: 'system', subtype: 'status', status: 'compacting', session_id: sid },
      { type: 'system', subtype: 'status', status: null, compact_result: 'failed', compact_error: 'Not enough messages to compact.', session_id: sid },
      { type: 'assistant', message: { role: 'assistant', model: '<synthetic>', content: [{ type: 'text', text: 'Not enough messages to compact.' }] } },
      result,
    ];
    expect(readCompaction(events)).toEqual({ ok: false, why: 'Not enough messages to compact.' });
  });

  test('no status at all: what claude answered', () => {
    const events = [{ type: 'assistant', message: { role: 'assistant', model: '<synthetic>', content: [{ type: 'text', text: 'Error: No messages to compact' }] } }, result];
    expect(readCompaction(events)).toEqual({ ok: false, why: 'Error: No messages to compact' });
    expect(readCompaction([])).toEqual({ ok: false, why: 'claude reported no compaction' });
  });
});

describe('notes', () => {
  test('the rewrite is what lies between the first <notes> and the last </notes>', () => {
    expect(extractNotes('here:\n<notes>\n# a\n- b </notes> in code\n</notes>\nbye')).toBe('# a\n- b </notes> in code');
    expect(extractNotes('<notes></notes>')).toBe('');
    expect(extractNotes('no tags')).toBeNull();
    expect(extractNotes('</notes> backwards <notes>')).toBeNull();
  });

  test('[notes] in agent.toml: defaults, and refusals naming the field', () => {
    expect(parseAgentConfig('').config.notes).toEqual({ compactAt: null, keep: 5 });
    expect(parseAgentConfig('[notes]\ncompactAt = 65536\nkeep = 3\n').config.notes).toEqual({ compactAt: 65536, keep: 3 });
    expect(() => parseAgentConfig('[notes]\ncompactAt = "64k"\n')).toThrow('agent.toml: notes.compactAt: must be a size in bytes, from 1024 to 1048576');
    expect(() => parseAgentConfig('[notes]\ncompactAt = 2000000\n')).toThrow('agent.toml: notes.compactAt: must be a size in bytes, from 1024 to 1048576');
    expect(() => parseAgentConfig('[notes]\nkeep = 0\n')).toThrow('agent.toml: notes.keep: must be a count from 1 to 100');
    expect(() => parseAgentConfig('[notes]\nsize = 1\n')).toThrow('agent.toml: notes.size: is not a known option');
  });
});
