/**
 * A test-owned stand-in for the Anthropic Messages API. Tests start it with
 * `startModelServer(respond)`, point the real `claude` CLI at it through
 * `ANTHROPIC_BASE_URL=<server.url>` (with any non-empty `ANTHROPIC_API_KEY`),
 * and script the "model" with a Responder that maps each captured
 * `POST /v1/messages` request to the content blocks of the reply. The server
 * speaks both the streaming (server-sent events) and non-streaming JSON forms
 * of the API, records every request in order for later assertions, answers
 * `POST /v1/messages/count_tokens` with a rough estimate, and logs any other
 * path into `misc` instead of failing. It listens on 127.0.0.1 on a random
 * port and never talks to the network.
 *
 * Main turn vs. side requests (observed with Claude Code 2.1.329 run as
 * `claude -p --output-format stream-json ...`, with and without
 * CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1): a short `-p` run sends ONLY
 * main-turn requests, one per model step (1 for a plain reply, 2 for a single
 * tool round trip; a `--resume` run the same, with the old transcript in
 * `messages`). Every main-turn request has `stream: true`, `max_tokens: 32000`,
 * a `thinking` config, a system prompt whose blocks are a billing header line,
 * "You are a Claude agent, built on Anthropic's Claude Agent SDK." and the
 * long instructions, and a non-empty `tools` array (built-ins plus
 * `mcp__<server>__<tool>`). The CLI's code also has side requests that did not
 * fire in these runs but may elsewhere: a quota probe (`max_tokens: 1`, one user
 * message "quota"), an API-key check (`max_tokens: 1`, "test"), model
 * validation (`max_tokens: 1`), session-title generation (no tools, a JSON
 * `output_format`), and forked helpers (`compact`, `extract_memories`, agent
 * summaries) that reuse the main system prompt and tools. `isMainTurn(body)`
 * is the cheap check (non-empty `tools` and `max_tokens` > 1); a Responder that
 * answers every other request with a short text, and picks the main-turn reply
 * from the conversation content (`toolResults`, `lastUserPrompt`) rather than
 * from a request counter, stays correct if the CLI adds side calls. Without
 * CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC the CLI also sends
 * `HEAD /api/hello` to the base URL; that lands in `misc`.
 */

import type { Server } from 'bun';

/**
 * One content block the scripted model replies with.
 * - `text`: plain assistant text.
 * - `tool_use`: a tool call; `name` is the tool name exactly as the CLI lists
 *   it in `tools` (e.g. `mcp__t__echo`), `input` the JSON arguments, and `id`
 *   optional (a fresh `toolu_<random>` id is generated when absent).
 */
export type ScriptBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; name: string; input: Record<string, unknown>; id?: string };

/**
 * What the server saw for one `POST /v1/messages`: `body` is the parsed JSON
 * request body (model, messages, system, tools, max_tokens, stream, ...) and
 * `headers` the request headers with lower-cased names.
 */
export interface CapturedRequest {
  body: any;
  headers: Record<string, string>;
}

/**
 * Decides the reply to one captured request. Returns the content blocks of
 * the assistant message (may be empty; an empty list is answered as a single
 * empty text block because the CLI expects at least one block). If it throws
 * or rejects, the server answers HTTP 500 with an Anthropic-shaped
 * `api_error` body whose message is the error's message (the CLI will retry
 * and eventually report the failure), and the error is kept in `errors`.
 */
export type Responder = (req: CapturedRequest) => ScriptBlock[] | Promise<ScriptBlock[]>;

/** A request to any path other than `POST /v1/messages` and `POST /v1/messages/count_tokens`. */
export interface MiscRequest {
  method: string;
  /** Path plus query string, e.g. `/api/oauth/usage?x=1`. */
  path: string;
  /** Raw request body text (empty string when none). */
  body: string;
  headers: Record<string, string>;
}

/** A running stand-in server. */
export interface ModelServer {
  /** Base URL to use as ANTHROPIC_BASE_URL, e.g. `http://127.0.0.1:40123` (no trailing slash). */
  url: string;
  /** The credentials a core or claude needs to use this server: its URL and a dummy API key. */
  env: { ANTHROPIC_BASE_URL: string; ANTHROPIC_API_KEY: string };
  /** Every `POST /v1/messages` request, in arrival order (side requests included). */
  requests: CapturedRequest[];
  /** Every `POST /v1/messages/count_tokens` request body, in arrival order. */
  countTokens: any[];
  /** Requests to any other path (answered 404 with an Anthropic-shaped error, never crashing). */
  misc: MiscRequest[];
  /** Requests refused for their credentials (only with {@link ModelServerOptions.keys}), in order. */
  refused: MiscRequest[];
  /** Errors thrown by the Responder or from unparsable bodies, in order. */
  errors: Error[];
  /** Stops listening and drops open connections. Idempotent; resolves once stopped. */
  close(): Promise<void>;
}

/** Options of {@link startModelServer}. */
export interface ModelServerOptions {
  /**
   * Accept only these credentials, as `x-api-key` or as `Authorization: Bearer`; any request
   * without one of them is answered 401 `authentication_error` as the real API does
   * (`invalid x-api-key`, `Invalid bearer token`, or `x-api-key header is required`) and kept in
   * `refused`. Read at each request, so a test may change the array (revoke a key) while the
   * server runs. Default: any credential, or none.
   */
  keys?: string[];
}

/** Why the real API would refuse a request's credentials when only `keys` are valid, or null. */
function credentialRefusal(headers: Record<string, string>, keys: readonly string[]): string | null {
  const key = headers['x-api-key'];
  if (key !== undefined) return keys.includes(key) ? null : 'invalid x-api-key';
  const bearer = /^Bearer (.+)$/i.exec(headers['authorization'] ?? '')?.[1];
  if (bearer !== undefined) return keys.includes(bearer) ? null : 'Invalid bearer token';
  return 'x-api-key header is required';
}

/** Lower-cases header names into a plain object. */
function headersToObject(h: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  h.forEach((value, key) => {
    out[key.toLowerCase()] = value;
  });
  return out;
}

/** Random alphanumeric id suffix of `n` characters. */
function randomId(n = 24): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  let s = '';
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return s;
}

/** Very rough token estimate: one token per 4 characters of JSON, at least 1. */
function estimateTokens(value: unknown): number {
  const text = typeof value === 'string' ? value : JSON.stringify(value ?? '');
  return Math.max(1, Math.ceil(text.length / 4));
}

/** Input-token estimate for a Messages request body (system + messages + tools). */
function estimateInputTokens(body: any): number {
  return estimateTokens([body?.system ?? '', body?.messages ?? [], body?.tools ?? []]);
}

/** An API content block as sent on the wire (tool_use ids filled in). */
type WireBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

function toWireBlocks(blocks: ScriptBlock[]): WireBlock[] {
  const out: WireBlock[] = blocks.map((b) =>
    b.type === 'text'
      ? { type: 'text', text: b.text }
      : { type: 'tool_use', id: b.id ?? `toolu_${randomId()}`, name: b.name, input: b.input ?? {} },
  );
  if (out.length === 0) out.push({ type: 'text', text: '' });
  return out;
}

function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Splits a string into chunks of at most `size` characters (at least one chunk). */
function chunks(s: string, size: number): string[] {
  if (s.length === 0) return [''];
  const out: string[] = [];
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size));
  return out;
}

/** Builds the full SSE transcript of one streamed message. */
function streamEvents(msg: ReturnType<typeof buildMessage>): string {
  const { content, usage, ...rest } = msg;
  let out = sse('message_start', {
    type: 'message_start',
    message: {
      ...rest,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...usage, output_tokens: 1 },
    },
  });
  content.forEach((block, index) => {
    if (block.type === 'text') {
      out += sse('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      for (const piece of chunks(block.text, 16)) {
        out += sse('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } });
      }
    } else {
      out += sse('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
      });
      for (const piece of chunks(JSON.stringify(block.input), 32)) {
        out += sse('content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'input_json_delta', partial_json: piece },
        });
      }
    }
    out += sse('content_block_stop', { type: 'content_block_stop', index });
  });
  out += sse('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: msg.stop_reason, stop_sequence: null },
    usage: { output_tokens: usage.output_tokens },
  });
  out += sse('message_stop', { type: 'message_stop' });
  return out;
}

function buildMessage(body: any, blocks: ScriptBlock[]) {
  const content = toWireBlocks(blocks);
  const stop_reason = content.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn';
  return {
    id: `msg_${randomId()}`,
    type: 'message' as const,
    role: 'assistant' as const,
    model: typeof body?.model === 'string' ? body.model : 'claude-haiku-4-5',
    content,
    stop_reason,
    stop_sequence: null,
    usage: {
      input_tokens: estimateInputTokens(body),
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      output_tokens: estimateTokens(content),
      service_tier: 'standard',
    },
  };
}

function apiError(status: number, type: string, message: string): Response {
  return Response.json({ type: 'error', error: { type, message } }, { status });
}

/**
 * Starts the stand-in on 127.0.0.1 with an OS-assigned port.
 *
 * `POST /v1/messages` (query strings such as `?beta=true` are ignored): the
 * body is parsed and pushed onto `requests` before `respond` is called; the
 * reply is SSE (`content-type: text/event-stream`, events message_start,
 * content_block_start, content_block_delta with text_delta/input_json_delta,
 * content_block_stop, message_delta with stop_reason `tool_use` if any
 * tool_use block else `end_turn` plus usage, message_stop) when
 * `body.stream === true`, else one JSON message. Usage token counts are rough
 * estimates (about 4 characters per token). A body that is not JSON gets
 * HTTP 400 `invalid_request_error`.
 *
 * `POST /v1/messages/count_tokens`: `{ input_tokens }` estimate.
 * Anything else: recorded in `misc`, answered 404 `not_found_error`.
 * With `opts.keys`, a request with other credentials is answered 401 before any of this (see
 * {@link ModelServerOptions}).
 *
 * Resolves once listening; rejects only if Bun cannot bind a port.
 */
export async function startModelServer(respond: Responder, opts: ModelServerOptions = {}): Promise<ModelServer> {
  const requests: CapturedRequest[] = [];
  const countTokens: any[] = [];
  const misc: MiscRequest[] = [];
  const refused: MiscRequest[] = [];
  const errors: Error[] = [];

  const server: Server<undefined> = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 120,
    async fetch(req) {
      const url = new URL(req.url);
      const path = url.pathname.replace(/\/+$/, '');
      const headers = headersToObject(req.headers);

      const refusal = opts.keys ? credentialRefusal(headers, opts.keys) : null;
      if (refusal) {
        refused.push({ method: req.method, path: url.pathname + url.search, body: await req.text().catch(() => ''), headers });
        return apiError(401, 'authentication_error', refusal);
      }

      if (req.method === 'POST' && path === '/v1/messages') {
        let body: any;
        try {
          body = await req.json();
        } catch (e) {
          errors.push(e instanceof Error ? e : new Error(String(e)));
          return apiError(400, 'invalid_request_error', 'body is not valid JSON');
        }
        const captured: CapturedRequest = { body, headers };
        requests.push(captured);
        let blocks: ScriptBlock[];
        try {
          blocks = await respond(captured);
        } catch (e) {
          const err = e instanceof Error ? e : new Error(String(e));
          errors.push(err);
          return apiError(500, 'api_error', `responder failed: ${err.message}`);
        }
        const msg = buildMessage(body, blocks);
        const common = { 'request-id': `req_${randomId()}` };
        if (body?.stream === true) {
          return new Response(streamEvents(msg), {
            headers: { ...common, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' },
          });
        }
        return Response.json(msg, { headers: common });
      }

      if (req.method === 'POST' && path === '/v1/messages/count_tokens') {
        let body: any = null;
        try {
          body = await req.json();
        } catch {
          /* estimate from nothing */
        }
        countTokens.push(body);
        return Response.json({ input_tokens: estimateInputTokens(body) });
      }

      let text = '';
      try {
        text = await req.text();
      } catch {
        /* ignore unreadable bodies */
      }
      misc.push({ method: req.method, path: url.pathname + url.search, body: text, headers });
      return apiError(404, 'not_found_error', `no stand-in for ${req.method} ${url.pathname}`);
    },
    error(err) {
      errors.push(err);
      return apiError(500, 'api_error', err.message);
    },
  });

  let closed: Promise<void> | null = null;
  const url = `http://127.0.0.1:${server.port}`;
  return {
    url,
    env: { ANTHROPIC_BASE_URL: url, ANTHROPIC_API_KEY: 'test-key' },
    requests,
    countTokens,
    misc,
    refused,
    errors,
    close() {
      closed ??= Promise.resolve(server.stop(true)).then(() => undefined);
      return closed;
    },
  };
}

/** Flattens one message `content` (string or block array) into text: strings and `text` blocks joined with "\n". */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((b: any) => b && b.type === 'text' && typeof b.text === 'string')
    .map((b: any) => b.text)
    .join('\n');
}

/** The last message with role `user` in a Messages request body, or undefined. */
function lastUser(body: any): any {
  const messages: any[] = Array.isArray(body?.messages) ? body.messages : [];
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]?.role === 'user') return messages[i];
  return undefined;
}

/**
 * Text of the last `user` message of a Messages request body: a string
 * content as is, or its `text` blocks joined with "\n" (tool_result and other
 * blocks ignored). Note that Claude Code may prepend `<system-reminder>` text
 * blocks, so match with `includes`, not equality. Returns "" when there is no
 * user message. Never throws.
 */
export function lastUserText(body: any): string {
  return contentText(lastUser(body)?.content);
}

/**
 * The prompt text the user actually typed in the last `user` message: the
 * LAST `text` block (or the string content) that is not a
 * `<system-reminder>` block Claude Code injects. For the CLI's first request
 * `claude -p -- "hello"` this is exactly "hello". Returns "" when there is
 * no such text (e.g. a user message that only carries tool_result blocks).
 * Never throws.
 */
export function lastUserPrompt(body: any): string {
  const content = lastUser(body)?.content;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  for (let i = content.length - 1; i >= 0; i--) {
    const b = content[i];
    if (b?.type === 'text' && typeof b.text === 'string' && !b.text.trimStart().startsWith('<system-reminder>')) return b.text;
  }
  return '';
}

/**
 * All user-visible text of every message in the body (both roles; strings,
 * `text` blocks, and the text inside `tool_result` blocks), joined with "\n".
 * Handy to check that a resumed conversation carries earlier turns. Never throws.
 */
export function allMessagesText(body: any): string {
  const messages: any[] = Array.isArray(body?.messages) ? body.messages : [];
  const parts: string[] = [];
  for (const m of messages) {
    parts.push(contentText(m?.content));
    if (Array.isArray(m?.content)) {
      for (const b of m.content) if (b?.type === 'tool_result') parts.push(contentText(b.content));
    }
  }
  return parts.filter(Boolean).join('\n');
}

/**
 * The `tool_result` blocks of the LAST user message, in order. `content` is
 * flattened to text (string content as is, text blocks joined with "\n");
 * `is_error` defaults to false. Claude Code appends a `<system-reminder>` text
 * block inside tool results and a trailing newline to MCP text, so match with
 * `includes` (an MCP tool returning "echo: ping" arrives as
 * "echo: ping\n\n<system-reminder>..."). Returns [] when the last user message has
 * none. Never throws.
 */
export function toolResults(body: any): Array<{ tool_use_id: string; content: string; is_error: boolean }> {
  const content = lastUser(body)?.content;
  if (!Array.isArray(content)) return [];
  return content
    .filter((b: any) => b && b.type === 'tool_result')
    .map((b: any) => ({
      tool_use_id: String(b.tool_use_id ?? ''),
      content: contentText(b.content),
      is_error: b.is_error === true,
    }));
}

/**
 * The system prompt as one string: a string `system` as is, or the `text` of
 * its blocks joined with "\n". Returns "" when absent. Never throws.
 */
export function systemText(body: any): string {
  return contentText(body?.system);
}

/**
 * True when the request looks like a step of the agent loop the test is
 * scripting (the "main turn"): it offers a non-empty `tools` array and allows
 * more than one output token. Claude Code's small side requests (quota probe,
 * API-key check and model validation with `max_tokens: 1`, session-title
 * generation) send no tools. Forked helpers such as `compact` reuse the main
 * tools and so also count as main turns here; they do not occur in short test
 * runs. Never throws.
 */
export function isMainTurn(body: any): boolean {
  const maxTokens = typeof body?.max_tokens === 'number' ? body.max_tokens : Infinity;
  return Array.isArray(body?.tools) && body.tools.length > 0 && maxTokens > 1;
}

/** Negation of `isMainTurn`: a helper request that the test usually answers with any short text. */
export function isSideRequest(body: any): boolean {
  return !isMainTurn(body);
}

/** Names of the tools offered in a request (`body.tools[].name`), [] when none. */
export function toolNames(body: any): string[] {
  return Array.isArray(body?.tools) ? body.tools.map((t: any) => String(t?.name ?? '')) : [];
}
