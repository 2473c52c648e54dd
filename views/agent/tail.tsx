/** @jsxImportSource @kitajs/html */
/**
 * @module views/agent/tail
 * One history event of an agent as one item of the tail on its page, `<li id="ev-<id>"
 * data-id="<id>">` holding a row per thing it says. Everything is text a person reads, never JSON:
 * a tool call is its name and a short summary of its input (the whole input folded below it), a
 * tool result is folded (`<details>`) under its first line, system events and anything this file
 * does not know (new history kinds, new stream-json types) are one quiet line of their most telling
 * fields, and errors have a coloured label rather than a box. Long texts are cut at
 * {@link MAX_BODY_CHARS}.
 */
import { blocksOf, isInit, isMessage, isResult, type ClaudeEvent, type ContentBlock } from '../../src/shared/stream-json.ts';
import { label, preview, usd } from '../format.ts';
import { Clock } from '../time.tsx';

/**
 * One history event as the tail renders it: the shape of the agent's history rows. `kind` is
 * `wake`, `claude` (a stream-json event), `raw`, `note`, `turn_end`, `command` (a slash command's
 * answer), `session` (cleared, compacted, or renewed because the system prompt changed) or `job` (a compaction's start and end); `data` is
 * that kind's payload. Any other kind is shown as one quiet line.
 */
export interface TailEvent {
  id: number;
  ts: number;
  kind: string;
  data: unknown;
}

/** The most of one text (a tool result, a message) the tail holds, characters. */
export const MAX_BODY_CHARS = 20_000;

/** Characters of a one-line summary (a tool's input, a result's first line). */
const SUMMARY_CHARS = 160;

/**
 * How a row's label looks: `quiet` rows are dim (system events, bookkeeping), `bad` marks an error
 * (a red label, not a box), `warn` a warning.
 */
type Tone = 'quiet' | 'wake' | 'tool' | 'text' | 'ok' | 'warn' | 'bad';

/** One row of an event: a label, a line of text, and optionally more folded under it. */
interface Row {
  label: string;
  tone: Tone;
  text: string;
  /** Shown when the row is unfolded; none: the row does not fold. */
  body?: string;
}

/** Fields of a stream-json event that say nothing to a reader. */
const NOISE = new Set(['type', 'subtype', 'session_id', 'uuid', 'parent_tool_use_id', 'timestamp', 'request_id', 'id']);

/** Fields that best say what a system event or an unknown record is about, most telling first. */
const TELLING = ['text', 'message', 'summary', 'description', 'result', 'status', 'title', 'name', 'body', 'error', 'reason'];

/** `text` cut to {@link MAX_BODY_CHARS}, saying how much was left out. */
function clip(text: string): string {
  if (text.length <= MAX_BODY_CHARS) return text;
  return `${text.slice(0, MAX_BODY_CHARS)}\n… ${text.length - MAX_BODY_CHARS} more characters`;
}

/** `task_started` → `task started`. */
const words = (name: string) => name.replace(/[_-]+/g, ' ').trim();

/** A scalar as text, or null for objects and arrays. */
function scalar(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return null;
}

/**
 * Any value as indented `key: value` lines (lists as `- item`), the way a person would write it
 * down; used for the folded input of a tool call and for values this file knows nothing about.
 */
export function readable(v: unknown, indent = ''): string {
  if (v === null || v === undefined) return 'none';
  const s = scalar(v);
  if (s !== null) return s.split('\n').join('\n' + indent);
  if (Array.isArray(v)) {
    if (v.length === 0) return 'none';
    return v.map((x) => `\n${indent}- ${readable(x, indent + '  ')}`).join('');
  }
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length === 0) return 'none';
  return entries.map(([k, x]) => `\n${indent}${k}: ${readable(x, indent + '  ')}`).join('');
}

/** {@link readable} without the leading line break. */
const readableBlock = (v: unknown) => readable(v).replace(/^\n/, '');

/**
 * The gist of a record in one line: its most telling text field if it has one, else up to four of
 * its scalar fields as `key value`, looking one level into nested records when it has none.
 */
export function gist(v: unknown, max = SUMMARY_CHARS): string {
  const s = scalar(v);
  if (s !== null) return preview(s, max);
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.length === 0 ? 'none' : `${v.length} items`;
  const o = v as Record<string, unknown>;
  for (const k of TELLING) {
    const t = scalar(o[k]);
    if (t) return preview(t, max);
  }
  const fields = (rec: Record<string, unknown>, prefix: string) =>
    Object.entries(rec)
      .filter(([k, x]) => !NOISE.has(k) && scalar(x) !== null && scalar(x) !== '')
      .map(([k, x]) => `${prefix}${words(k)} ${preview(scalar(x)!, 60)}`);
  let parts = fields(o, '');
  if (parts.length === 0)
    for (const [k, x] of Object.entries(o))
      if (!NOISE.has(k) && x && typeof x === 'object' && !Array.isArray(x)) parts.push(...fields(x as Record<string, unknown>, `${words(k)} `));
  parts = parts.slice(0, 4);
  return preview(parts.join(' · '), max);
}

/** A tool's name as shown: built-ins as they are, MCP tools as `server.tool` (`hyperhive.send`). */
export function toolLabel(name: string): string {
  const m = /^mcp__(.+?)__(.+)$/.exec(name);
  return m ? `${m[1]}.${m[2]}` : name;
}

/** The input fields that say what each built-in tool call does, in order. */
const TOOL_FIELDS: Record<string, string[]> = {
  Bash: ['command'],
  Read: ['file_path'],
  Write: ['file_path'],
  Edit: ['file_path'],
  MultiEdit: ['file_path'],
  NotebookEdit: ['notebook_path'],
  Glob: ['pattern', 'path'],
  Grep: ['pattern', 'path', 'glob'],
  WebFetch: ['url'],
  WebSearch: ['query'],
  Task: ['description'],
  Agent: ['description'],
};

/** A short summary of a tool call's input: what a person needs to know the call apart from others. */
export function toolSummary(name: string, input: unknown): string {
  const o = input && typeof input === 'object' && !Array.isArray(input) ? (input as Record<string, unknown>) : {};
  const tool = toolLabel(name);
  if ((tool === 'hyperhive.send' || tool === 'hyperhive.ask') && typeof o.to === 'string')
    return preview(`→ ${label(o.to)}: ${scalar(o.body) ?? scalar(o.question) ?? ''}`, SUMMARY_CHARS);
  const fields = TOOL_FIELDS[name];
  if (fields) {
    const vals = fields.map((f) => scalar(o[f])).filter((x): x is string => !!x);
    if (vals.length) return preview(vals.join('  in '), SUMMARY_CHARS);
  }
  return gist(o);
}

/** The text of a tool result's or message's content: text blocks joined, other blocks named. */
function contentText(c: unknown): string {
  if (typeof c === 'string') return c;
  if (Array.isArray(c))
    return c
      .map((b) => {
        if (b && typeof b === 'object') {
          const block = b as ContentBlock;
          if (block.type === 'text') return block.text ?? '';
          if (block.type === 'image') return '[an image]';
          return `[${words(String(block.type ?? 'block'))}] ${gist(block)}`;
        }
        return scalar(b) ?? '';
      })
      .join('\n');
  return c === undefined || c === null ? '' : readableBlock(c);
}

/** A row whose text folds when it is longer than its first line. */
function folding(labelText: string, tone: Tone, full: string, max = SUMMARY_CHARS): Row {
  const text = full.trim();
  const first = preview(text, max);
  if (first === text) return { label: labelText, tone, text };
  const lines = text.split('\n').length;
  return { label: labelText, tone, text: lines > 1 ? `${first} (${lines} lines)` : first, body: clip(text) };
}

/** The rows of one content block of an assistant or user message. */
function blockRows(b: ContentBlock, role: string): Row[] {
  switch (b.type) {
    case 'text': {
      const text = (b.text ?? '').trim();
      if (!text) return [];
      if (role !== 'assistant') return [folding('user', 'quiet', text)];
      return [text.length > 4000 ? folding('says', 'text', text) : { label: 'says', tone: 'text', text }];
    }
    case 'tool_use': {
      const name = String(b.name ?? 'tool');
      const input = b.input ?? {};
      const hasInput = !!input && typeof input === 'object' && Object.keys(input).length > 0;
      return [{ label: toolLabel(name), tone: 'tool', text: toolSummary(name, input), ...(hasInput ? { body: clip(readableBlock(input)) } : {}) }];
    }
    case 'tool_result': {
      const text = contentText(b.content).trim();
      const bad = b.is_error === true;
      if (!text) return [{ label: bad ? 'tool error' : 'output', tone: bad ? 'bad' : 'quiet', text: '(nothing)' }];
      return [folding(bad ? 'tool error' : 'output', bad ? 'bad' : 'quiet', text)];
    }
    case 'thinking':
      return [folding('thinks', 'quiet', String((b as { thinking?: unknown }).thinking ?? ''))];
    case 'redacted_thinking':
      return [{ label: 'thinks', tone: 'quiet', text: '(redacted)' }];
    default:
      return [{ label: words(String(b.type ?? 'block')), tone: 'quiet', text: gist(b) }];
  }
}

/** The rows of one claude stream-json event. */
function claudeRows(e: ClaudeEvent): Row[] {
  if (isInit(e)) {
    const mcp = (e.mcp_servers ?? []).map((s) => `${s.name} ${s.status}`).join(', ');
    return [{ label: 'session', tone: 'quiet', text: `${e.model ?? 'model unknown'} · mcp: ${mcp || 'none'} · session ${String(e.session_id ?? '').slice(0, 8)}` }];
  }
  if (isResult(e)) {
    const text = String(e.result ?? '').trim() || words(e.subtype ?? 'done');
    return [folding(e.is_error ? 'failed' : 'result', e.is_error ? 'bad' : 'quiet', text)];
  }
  if (isMessage(e)) {
    const rows = blocksOf(e).flatMap((b) => blockRows(b, e.type));
    return rows.length ? rows : [{ label: e.type === 'assistant' ? 'says' : 'user', tone: 'quiet', text: '(nothing)' }];
  }
  if (e.type === 'system') return [{ label: words(String(e.subtype ?? 'system')), tone: 'quiet', text: gist(e) }];
  return [{ label: words(String(e.type ?? 'event')), tone: 'quiet', text: gist(e) }];
}

/** Seconds with one decimal from ms. */
const seconds = (ms: unknown) => `${((Number(ms) || 0) / 1000).toFixed(1)} s`;

/** The rows of one history event. */
export function eventRows(ev: TailEvent): Row[] {
  const d = (ev.data && typeof ev.data === 'object' ? ev.data : {}) as Record<string, unknown>;
  switch (ev.kind) {
    case 'wake': {
      const head = `#${scalar(d.id) ?? '?'} from ${label(String(d.from ?? '?'))}: `;
      const row = folding('wake', 'wake', String(d.body ?? ''), 200);
      return [{ ...row, text: head + row.text }];
    }
    case 'note':
      return [{ label: 'note', tone: d.level === 'error' ? 'bad' : d.level === 'warn' ? 'warn' : 'quiet', text: String(d.text ?? '') }];
    case 'command':
      return [{ label: preview(String(d.input ?? 'command'), 60), tone: d.ok === false ? 'bad' : 'wake', text: String(d.text ?? '') }];
    case 'session':
      return [{ label: d.action === 'cleared' || d.action === 'renewed' ? 'new session' : d.action === 'compacted' ? 'compacted' : 'session', tone: 'wake', text: `── ${gist(d, 400)} ──` }];
    case 'job':
      return [{ label: d.job === 'notes' ? 'notes' : d.job === 'compact' ? 'compact' : words(String(d.job ?? 'job')), tone: d.phase === 'end' ? (d.ok === false ? 'bad' : 'ok') : 'quiet', text: gist(d, 400) }];
    case 'raw':
      return [{ label: String(d.stream ?? 'output'), tone: d.stream === 'stderr' ? 'warn' : 'quiet', text: String(d.line ?? '') }];
    case 'turn_end': {
      const ok = d.status === 'ok';
      const tools = Array.isArray(d.tools) && d.tools.length ? ` · ${[...new Set(d.tools.map(String))].map(toolLabel).join(', ')}` : '';
      const head = `${String(d.status ?? '?')} in ${seconds(d.duration_ms)} · ${usd(typeof d.cost_usd === 'number' ? d.cost_usd : null)}`;
      return [{ label: 'turn end', tone: ok ? 'ok' : 'bad', text: ok ? head + tools : `${head}: ${preview(String(d.result ?? ''), SUMMARY_CHARS)}` }];
    }
    case 'claude':
      return claudeRows((ev.data ?? { type: 'event' }) as ClaudeEvent);
    default:
      return [{ label: words(ev.kind), tone: 'quiet', text: gist(ev.data) }];
  }
}

/** One row: time, label and text; with a body, a `<details>` whose summary is that line. */
function RowLine({ ts, row }: { ts: number; row: Row }): JSX.Element {
  const head = (
    <>
      <span class="t">
        <Clock ms={ts} timeOnly />
      </span>{' '}
      <span class={`k ${row.tone}`} safe>
        {row.label}
      </span>{' '}
      <span class="x" safe>
        {row.text}
      </span>
    </>
  );
  if (row.body === undefined) return <div class={`row ${row.tone}`}>{head}</div>;
  return (
    <details class={`row ${row.tone}`}>
      <summary>{head}</summary>
      <pre class="fold" safe>
        {row.body}
      </pre>
    </details>
  );
}

/** Renders one history event as one tail item. */
export function EventLines({ ev }: { ev: TailEvent }): JSX.Element {
  const rows = eventRows(ev);
  const quiet = rows.every((r) => r.tone === 'quiet');
  const cls = ['ev', quiet ? 'quiet' : '', ev.kind === 'session' ? 'boundary' : ''].filter(Boolean).join(' ');
  return (
    <li id={`ev-${ev.id}`} class={cls} data-id={String(ev.id)} data-kind={ev.kind}>
      {rows.map((row) => (
        <RowLine ts={ev.ts} row={row} />
      ))}
    </li>
  );
}

/**
 * The first item of a loaded stretch of history: where older events can be asked for
 * (`data-before`, the oldest id loaded; `static/agent.js` asks `history?before=` when the reader
 * scrolls up to it or clicks it), or the start of history when there is nothing older (`no events yet` in an
 * empty history, hidden once events arrive).
 */
export function HistoryEdge({ oldest, more }: { oldest: number | null; more: boolean }): JSX.Element {
  if (more && oldest !== null)
    return (
      <li class="edge more" data-before={String(oldest)}>
        older events: scroll up or click to load them
      </li>
    );
  if (oldest === null) return <li class="edge start empty">no events yet</li>;
  return <li class="edge start">start of history</li>;
}
