/**
 * @module shared/stream-json
 * The shapes of Claude Code's `--output-format stream-json` events, and the guards that tell them
 * apart. Claude emits one JSON object per line: a `system`/`init` event (tools, MCP server status,
 * session id), `assistant` and `user` events (content blocks), and a final `result` event with
 * usage and cost. Only the fields the hive uses are typed; every event is kept whole in history,
 * so nothing the CLI adds is lost. Shapes observed with the pinned `@anthropic-ai/claude-code`
 * version; see docs/turn-loop.md.
 *
 * Shared by the parser and turn loop (`agent/claude/stream.ts`, `agent/loop.ts`) and the agent
 * page's tail (`views/agent/tail.tsx`).
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

/** True for the `system`/`init` event. */
export const isInit = (e: ClaudeEvent): e is InitEvent => e.type === 'system' && e.subtype === 'init';
/** True for the final `result` event. */
export const isResult = (e: ClaudeEvent): e is ResultEvent => e.type === 'result';
/** True for an `assistant` or `user` message event. */
export const isMessage = (e: ClaudeEvent): e is MessageEvent => e.type === 'assistant' || e.type === 'user';

/** Content blocks of a message event (a plain-string content becomes one text block). */
export function blocksOf(e: MessageEvent): ContentBlock[] {
  const c = e.message?.content;
  if (typeof c === 'string') return [{ type: 'text', text: c }];
  return Array.isArray(c) ? c : [];
}
