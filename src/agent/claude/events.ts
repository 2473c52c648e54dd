/**
 * @module claude/events
 * Typed view of Claude Code's `--output-format stream-json` lines. Claude emits one JSON object per
 * line: a `system`/`init` event (tools, MCP server status, session id), `assistant` and `user`
 * events (one content block each), and a final `result` event with usage and cost. We type the
 * fields the hive uses and keep every event whole in history, so nothing the CLI adds is lost.
 * Shapes observed with the pinned `@anthropic-ai/claude-code` version; see docs/turn-loop.md.
 */

/** A content block inside an assistant or user message. */
export interface ContentBlock {
  type: string;
  text?: string;
  name?: string;
  id?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: unknown;
  is_error?: boolean;
}

/** `system`/`init`: the session as claude set it up. */
export interface InitEvent {
  type: 'system';
  subtype: 'init';
  session_id: string;
  model?: string;
  tools?: string[];
  mcp_servers?: Array<{ name: string; status: string }>;
}

/** A model message (`assistant`) or tool results fed back (`user`). */
export interface MessageEvent {
  type: 'assistant' | 'user';
  session_id?: string;
  message: { role: string; content: ContentBlock[] | string; usage?: Record<string, unknown> };
}

/** The last line of a run. */
export interface ResultEvent {
  type: 'result';
  subtype: string;
  is_error: boolean;
  result?: string;
  session_id?: string;
  duration_ms?: number;
  num_turns?: number;
  total_cost_usd?: number;
  usage?: { input_tokens?: number; output_tokens?: number; cache_read_input_tokens?: number; cache_creation_input_tokens?: number };
}

/** Any stream-json event; `type` is always present. */
export type ClaudeEvent = InitEvent | MessageEvent | ResultEvent | { type: string; subtype?: string; [k: string]: unknown };

/**
 * Parses one stream-json line.
 * @returns the event, or null for blank lines and lines that are not a JSON object with a `type`.
 */
export function parseEventLine(line: string): ClaudeEvent | null {
  const t = line.trim();
  if (!t) return null;
  try {
    const v = JSON.parse(t) as unknown;
    if (typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string') return v as ClaudeEvent;
  } catch {
    /* not JSON: callers record it as raw output */
  }
  return null;
}

export const isInit = (e: ClaudeEvent): e is InitEvent => e.type === 'system' && e.subtype === 'init';
export const isResult = (e: ClaudeEvent): e is ResultEvent => e.type === 'result';
export const isMessage = (e: ClaudeEvent): e is MessageEvent => e.type === 'assistant' || e.type === 'user';

/** Content blocks of a message event (a plain-string content becomes one text block). */
export function blocksOf(e: MessageEvent): ContentBlock[] {
  const c = e.message?.content;
  if (typeof c === 'string') return [{ type: 'text', text: c }];
  return Array.isArray(c) ? c : [];
}

/** Names of the tools an assistant event calls. */
export function toolCalls(e: ClaudeEvent): string[] {
  if (e.type !== 'assistant' || !isMessage(e)) return [];
  return blocksOf(e)
    .filter((b) => b.type === 'tool_use' && typeof b.name === 'string')
    .map((b) => b.name!);
}
