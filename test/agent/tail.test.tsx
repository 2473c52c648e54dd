/** @jsxImportSource @kitajs/html */
/**
 * The tail's rendering of history events, from shapes claude 2.1.329 and the harness write: a tool
 * call as its name and a summary of its input, its result folded, system events and unknown kinds
 * as one quiet line, errors with a coloured label and no box, text escaped, and never JSON.
 */
import { describe, expect, test } from 'bun:test';
import { EventLines, gist, HistoryEdge, MAX_BODY_CHARS, readable, toolSummary, type TailEvent } from '../../views/agent/tail.tsx';

const TS = Date.UTC(2026, 10, 21, 5, 32, 14);
let next = 1;
const ev = (kind: string, data: unknown): TailEvent => ({ id: next++, ts: TS, kind, data });
const html = (e: TailEvent) => String(<EventLines ev={e} />);
/** The text a reader sees: tags dropped, entities decoded. */
const text = (h: string) =>
  h
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
const assistant = (...content: unknown[]) => ev('claude', { type: 'assistant', message: { role: 'assistant', content }, session_id: 's', uuid: 'u' });
const user = (...content: unknown[]) => ev('claude', { type: 'user', message: { role: 'user', content }, session_id: 's', uuid: 'u' });
const looksLikeJson = /[{[]\s*"[^"]+"\s*:/;

describe('the tail', () => {
  test('one item per event, with its id, kind and time', () => {
    const e = ev('note', { level: 'info', text: 'hello' });
    const h = html(e);
    expect(h.startsWith(`<li id="ev-${e.id}" class="ev quiet" data-id="${e.id}" data-kind="note">`)).toBe(true);
    expect(text(h)).toBe('05:32:14 UTC note hello');
  });

  test('a tool call is its name and a summary of its input, with the whole input folded as fields', () => {
    const h = html(assistant({ type: 'tool_use', id: 't1', name: 'Bash', input: { command: 'ls -la /etc', description: 'List /etc' } }));
    expect(h).toContain('<details class="row tool"><summary>');
    expect(text(h)).toContain('Bash ls -la /etc');
    expect(h).toContain('<pre class="fold">command: ls -la /etc\ndescription: List /etc</pre>');
    expect(toolSummary('Read', { file_path: '/state/notes.md', limit: 20 })).toBe('/state/notes.md');
    expect(toolSummary('Grep', { pattern: 'TODO', path: 'src' })).toBe('TODO  in src');
    expect(toolSummary('mcp__hyperhive__send', { to: 'manager', body: 'done\nwith it' })).toBe('→ hm1nd: done…');
    expect(toolSummary('SomeNewTool', { query: 'x', count: 3, nested: { a: 1 } })).toBe('query x · count 3');
    const mcp = html(assistant({ type: 'tool_use', id: 't2', name: 'mcp__hyperhive__recv', input: {} }));
    expect(text(mcp)).toContain('hyperhive.recv');
    expect(mcp).not.toContain('<details');
  });

  test('a tool result folds under its first line; an error result has a red label and no box', () => {
    const h = html(user({ type: 'tool_result', tool_use_id: 't1', content: 'one\ntwo\nthree', is_error: false }));
    expect(h).toContain('<details class="row quiet">');
    expect(text(h)).toContain('output one… (3 lines)');
    expect(h).toContain('<pre class="fold">one\ntwo\nthree</pre>');
    const short = html(user({ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'sent as #4' }] }));
    expect(short).not.toContain('<details');
    expect(text(short)).toContain('output sent as #4');
    const bad = html(user({ type: 'tool_result', tool_use_id: 't1', content: 'File does not exist.', is_error: true }));
    expect(bad).toContain('<span class="k bad">tool error</span>');
    expect(bad).not.toContain('error"');
    expect(bad).not.toContain('class="error');
  });

  test('a long result is cut, saying how much was left out', () => {
    const h = html(user({ type: 'tool_result', tool_use_id: 't1', content: 'x'.repeat(MAX_BODY_CHARS + 123) }));
    expect(h).toContain(`… 123 more characters`);
  });

  test('system events and kinds this file does not know are one quiet line, never JSON', () => {
    const cases: Array<[TailEvent, string]> = [
      [ev('claude', { type: 'system', subtype: 'init', session_id: '3153692a-9886', model: 'claude-haiku-5-5', mcp_servers: [{ name: 'hyperhive', status: 'connected' }] }), 'session claude-haiku-5-5 · mcp: hyperhive connected · session 3153692a'],
      [ev('claude', { type: 'system', subtype: 'task_started', task_id: 'a1', description: 'Explore the repo', uuid: 'u', session_id: 's' }), 'task started Explore the repo'],
      [ev('claude', { type: 'system', subtype: 'task_notification', task_id: 'a1', status: 'completed', summary: 'found 3 files' }), 'task notification found 3 files'],
      [ev('claude', { type: 'system', subtype: 'compact_boundary', compact_metadata: { trigger: 'manual', pre_tokens: 1234 } }), 'compact boundary compact metadata trigger manual · compact metadata pre tokens 1234'],
      [ev('claude', { type: 'rate_limit_event', rate_limit_info: { status: 'allowed' } }), 'rate limit event rate limit info status allowed'],
      [ev('compaction_run', { phase: 'start', target: 'notes.md', detail: { bytes: 9000 } }), 'compaction run phase start · target notes.md'],
      [ev('something_new', [1, 2, 3]), 'something new 3 items'],
    ];
    for (const [e, want] of cases) {
      const h = html(e);
      expect(h).toContain('class="ev quiet"');
      expect(text(h)).toBe(`05:32:14 UTC ${want}`);
      expect(text(h)).not.toMatch(looksLikeJson);
    }
  });

  test('the harness’s own kinds: wake, note, raw output, turn end, command, session boundary, job', () => {
    const wake = html(ev('wake', { id: 7, from: 'manager', to: 'alice', body: 'look at <this>\nand that' }));
    expect(text(wake)).toContain('wake #7 from hm1nd: look at <this>… (2 lines)');
    expect(wake).toContain('look at &lt;this&gt;');
    expect(text(html(ev('note', { level: 'error', text: 'the hyperhive MCP server is failed' })))).toContain('note the hyperhive MCP server is failed');
    expect(html(ev('note', { level: 'error', text: 'x' }))).toContain('<span class="k bad">note</span>');
    expect(html(ev('raw', { stream: 'stderr', line: 'warning: something' }))).toContain('<span class="k warn">stderr</span>');
    const end = html(ev('turn_end', { status: 'ok', duration_ms: 1017, cost_usd: 0.0069, tools: ['Bash', 'Read', 'Read', 'mcp__hyperhive__send'] }));
    expect(text(end)).toContain('turn end ok in 1.0 s · $0.0069 · Bash, Read, hyperhive.send');
    const failed = html(ev('turn_end', { status: 'error', duration_ms: 200, cost_usd: null, result: 'Failed to authenticate' }));
    expect(text(failed)).toContain('turn end error in 0.2 s · —: Failed to authenticate');
    expect(failed).toContain('<span class="k bad">turn end</span>');
    expect(text(html(ev('command', { input: '/help', ok: true, text: 'the commands:\n/help' })))).toContain('/help the commands:\n/help');
    const boundary = html(ev('session', { action: 'cleared', session_id: 'abc', text: 'session cleared' }));
    expect(boundary).toContain('class="ev boundary"');
    expect(text(boundary)).toContain('new session ── session cleared ──');
    expect(text(html(ev('job', { job: 'notes', phase: 'end', ok: false, text: 'notes compaction failed' })))).toContain('notes notes compaction failed');
  });

  test('assistant text is shown whole, escaped; thinking is quiet and folded', () => {
    const h = html(assistant({ type: 'text', text: 'I will <b>not</b> run "rm -rf"' }));
    expect(h).toContain('<span class="k text">says</span>');
    expect(h).toContain('I will &lt;b&gt;not&lt;/b&gt; run &quot;rm -rf&quot;');
    const thinking = html(assistant({ type: 'thinking', thinking: 'first\nthen' }));
    expect(thinking).toContain('<details class="row quiet">');
    expect(text(html(assistant()))).toContain('says (nothing)');
  });

  test('readable values and gists', () => {
    expect(readable({ a: 1, b: ['x', { c: null }], d: 'two\nlines' })).toBe('\na: 1\nb: \n  - x\n  - \n    c: none\nd: two\n  lines');
    expect(gist({ uuid: 'u', session_id: 's', status: 'compacting' })).toBe('compacting');
    expect(gist({})).toBe('');
    expect(gist(null)).toBe('');
  });

  test('the edge above the loaded events: older ones to ask for, the start, or nothing yet', () => {
    expect(String(<HistoryEdge oldest={51} more={true} />)).toBe('<li class="edge more" data-before="51">older events: scroll up or click to load them</li>');
    expect(String(<HistoryEdge oldest={1} more={false} />)).toBe('<li class="edge start">start of history</li>');
    expect(String(<HistoryEdge oldest={null} more={false} />)).toBe('<li class="edge start empty">no events yet</li>');
  });
});
