/**
 * @module model-gateway
 * The only way an agent's claude reaches a model. Sandboxes have no network; the core serves one
 * unix socket per agent in the agent's socket dir, and claude runs with
 * `ANTHROPIC_UNIX_SOCKET=<that socket>`, `ANTHROPIC_BASE_URL=http://localhost` and the placeholder
 * `ANTHROPIC_API_KEY=hive-gateway`, which is not a secret. The socket is the caller's identity: a
 * request on agent A's socket is A's request, whatever its headers say.
 *
 * The gateway is a reverse proxy for the Anthropic Messages API. Every method and path is forwarded
 * to the upstream (the agent's own `upstream` from agent.toml, else the core's), with the client's
 * credentials and hop-by-hop headers removed. Only requests to the core's upstream get the
 * operator's real credentials: an agent's `upstream` is a URL that a config change chose, and the
 * operator's key must not follow such a URL, so an agent that names its own upstream must reach
 * one that needs no key from the hive (a local proxy that holds its own, for instance).
 *
 * Before a `POST /v1/messages` is forwarded, the agent's policy is checked: the model allow-list
 * (agent.toml `models`) and the daily and monthly USD budgets (`budget.dailyUsd`,
 * `budget.monthlyUsd`, per UTC day and UTC month). A refusal is an Anthropic-shaped 403
 * `permission_error`; nothing goes upstream. Requests in flight are not counted until they finish,
 * so concurrent requests can overshoot a budget by what they cost.
 *
 * Responses pass through as they arrive: a stream is never buffered, only observed on its way
 * (the `message_start` and `message_delta` events carry the model and the token counts). Non-stream
 * JSON replies are small and are read whole to get their `usage`. Upstream errors (429, 529, 5xx,
 * 4xx) reach the agent with their status, body and headers (`retry-after`, `anthropic-ratelimit-*`,
 * `x-should-retry`, `request-id`), so claude's own retry logic works as it would against the API.
 * A client that goes away cancels the upstream request. Every request, refused or failed ones
 * included, is recorded as one `model_requests` row through {@link UsageStore}.
 */
import { removeStaleSocket } from '../../shared/jsonl.ts';
import type { Server } from 'bun';
import { HiveError } from '../../shared/errors.ts';
import { costOf, familyOf, type TokenUsage } from './prices.ts';
import type { ModelRequestRecord, NewModelRequest, UsageStore } from './usage.ts';

/** What the gateway needs to know about one agent, read from its agent.toml at each request. */
export interface GatewayPolicy {
  /** The agent's own Anthropic-compatible upstream base URL (from agent.toml `upstream`), or null for the core's. */
  upstream: string | null;
  /**
   * Allowed model names (agent.toml `models`), or null = any. An entry allows the exact model id,
   * its dated snapshots (`claude-haiku-4-5` allows `claude-haiku-4-5-20251001`), and, for the
   * aliases `opus`, `sonnet` and `haiku`, every model of that family. See {@link modelAllowed}.
   */
  models: string[] | null;
  /** USD limits (agent.toml `budget.dailyUsd`, `budget.monthlyUsd`); absent = unlimited. Days and months are UTC. */
  budget: { dailyUsd?: number; monthlyUsd?: number };
}

/**
 * The operator's credentials for the core's upstream. Each one set is sent: `apiKey` as
 * `x-api-key`; `authToken` as `Authorization: Bearer`; else `oauthToken` as `Authorization: Bearer`
 * with `oauth-2025-04-20` added to `anthropic-beta`.
 */
export interface GatewayCredentials {
  apiKey?: string;
  authToken?: string;
  oauthToken?: string;
}

/** How the core sets up its gateway. */
export interface ModelGatewayOptions {
  /** Core default upstream base URL, e.g. https://api.anthropic.com or the core's ANTHROPIC_BASE_URL (may carry a path prefix). */
  upstream: string;
  /**
   * Sent only to `upstream`, never to an agent's own upstream. A function is asked again at each
   * request, so credentials the operator sets while the core runs (the dashboard's login, see
   * `credentials.ts`) apply from the next request on.
   */
  credentials: GatewayCredentials | (() => GatewayCredentials);
  /** Where requests are recorded and budgets are summed. */
  usage: UsageStore;
  /**
   * The agent's policy now; may throw HiveError (e.g. bad_config) — then the request is answered
   * 400 `invalid_request_error` with that message and nothing is forwarded.
   */
  policyFor(agent: string): GatewayPolicy;
  /** The id of the agent's running turn, or null. */
  turnOf(agent: string): string | null;
  /** Called when a request is refused by policy (budget or model allow-list), with a message for people. */
  onRefused(agent: string, reason: 'budget' | 'model', message: string): void;
  /** Called after each request is recorded. */
  onRecorded?(rec: ModelRequestRecord): void;
  /** One line for the core's log: refusals, unreachable upstreams, failures to record. */
  log(line: string): void;
  /** Clock in epoch ms, for `started_at` and the budget periods (test seam); default `Date.now`. */
  now?: () => number;
}

/** Status recorded when the agent went away before any status reached it (nginx's convention). */
export const CLIENT_GONE_STATUS = 499;
const CLIENT_GONE = 'client went away';

/** Request headers never forwarded: the client's credentials, hop-by-hop headers, and ones fetch sets. */
const DROP_REQUEST = new Set([
  'x-api-key',
  'authorization',
  'host',
  'content-length',
  'accept-encoding',
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Response headers not passed back: hop-by-hop ones and the length (Bun frames the body itself). */
const DROP_RESPONSE = new Set([
  'content-length',
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const OAUTH_BETA = 'oauth-2025-04-20';

/** Longest SSE line kept while waiting for its end; longer lines are content deltas and skipped. */
const MAX_SSE_LINE = 256 * 1024;

/**
 * Whether `model` is allowed by the `allowed` list: an entry equal to it (case-insensitive), an
 * entry of which it is a dated snapshot (`claude-haiku-4-5` allows `claude-haiku-4-5-20251001`),
 * or a family alias `opus` / `sonnet` / `haiku` matching its family. Never throws.
 */
export function modelAllowed(model: string, allowed: readonly string[]): boolean {
  const m = model.trim().toLowerCase();
  const family = familyOf(m);
  return allowed.some((entry) => {
    const e = entry.trim().toLowerCase();
    if (e === m) return true;
    if (m.startsWith(e + '-') && /^\d{8}$/.test(m.slice(e.length + 1))) return true;
    return (e === 'opus' || e === 'sonnet' || e === 'haiku') && family === e;
  });
}

/**
 * Sets `credentials` on `headers` as {@link GatewayCredentials} says: `apiKey` as `x-api-key`;
 * `authToken` as `Authorization: Bearer`, else `oauthToken` as `Authorization: Bearer` with
 * `oauth-2025-04-20` added to `anthropic-beta` (kept once, after any betas already there).
 */
export function applyCredentials(headers: Headers, credentials: GatewayCredentials): void {
  const { apiKey, authToken, oauthToken } = credentials;
  if (apiKey) headers.set('x-api-key', apiKey);
  if (authToken) headers.set('authorization', `Bearer ${authToken}`);
  else if (oauthToken) {
    headers.set('authorization', `Bearer ${oauthToken}`);
    const betas = (headers.get('anthropic-beta') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (!betas.includes(OAUTH_BETA)) betas.push(OAUTH_BETA);
    headers.set('anthropic-beta', betas.join(','));
  }
}

/** An Anthropic-shaped error reply. */
function apiError(status: number, type: string, message: string, retry?: boolean): Response {
  const headers: Record<string, string> = {};
  if (retry !== undefined) headers['x-should-retry'] = String(retry);
  return Response.json({ type: 'error', error: { type, message } }, { status, headers });
}

/** `$5.00`, `$0.50`, `$5.0123`. */
function usd(n: number): string {
  return '$' + n.toFixed(Number.isInteger(Math.round(n * 1e6) / 1e4) ? 2 : 4);
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);

/** `upstream <status>: <type>: <message>` from an Anthropic error body, or null when it is not one. */
export function describeError(status: number, body: any): string | null {
  const err = body?.error;
  if (!err || typeof err !== 'object') return null;
  const type = typeof err.type === 'string' ? err.type : 'error';
  const message = typeof err.message === 'string' ? err.message.slice(0, 500) : '';
  return `upstream ${status}: ${type}${message ? `: ${message}` : ''}`;
}

/** The state of one request on its way through, until it is recorded. */
class Exchange {
  model: string | null = null;
  status = 0;
  error: string | null = null;
  usage: Required<TokenUsage> = {
    input_tokens: 0,
    output_tokens: 0,
    cache_write_tokens: 0,
    cache_read_tokens: 0,
    cache_write_1h_tokens: 0,
  };
  firstByteMs: number | null = null;
  clientGone = false;
  done = false;
  readonly t0 = performance.now();
  constructor(
    readonly agent: string,
    readonly turnId: string | null,
    readonly startedAt: number,
  ) {}

  /** Takes the token counts present in an API `usage` object (absent fields are left as they are). */
  takeUsage(u: any): void {
    if (!u || typeof u !== 'object') return;
    const set = (key: keyof TokenUsage, v: unknown) => {
      const n = num(v);
      if (n !== undefined) this.usage[key] = n;
    };
    set('input_tokens', u.input_tokens);
    set('output_tokens', u.output_tokens);
    set('cache_write_tokens', u.cache_creation_input_tokens);
    set('cache_read_tokens', u.cache_read_input_tokens);
    set('cache_write_1h_tokens', u.cache_creation?.ephemeral_1h_input_tokens);
  }

  /** Takes `model` and `usage` from a Messages API message object. */
  takeMessage(msg: any): void {
    if (!msg || typeof msg !== 'object') return;
    if (typeof msg.model === 'string' && msg.model) this.model = msg.model;
    this.takeUsage(msg.usage);
  }
}

/**
 * Watches an SSE byte stream for the events that carry the model and the usage. Lines may be split
 * across chunks; a partial line is kept until its end (up to {@link MAX_SSE_LINE}).
 */
class SseWatcher {
  private readonly decoder = new TextDecoder();
  private tail = '';
  private skipping = false;
  constructor(private readonly ex: Exchange) {}

  push(chunk: Uint8Array): void {
    let text = this.decoder.decode(chunk, { stream: true });
    if (this.skipping) {
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      this.skipping = false;
      text = text.slice(nl + 1);
    } else if (this.tail) {
      text = this.tail + text;
    }
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      if (text.startsWith('data:', start)) this.data(text.slice(start + 5, nl));
      start = nl + 1;
    }
    this.tail = start === 0 ? text : text.slice(start);
    if (this.tail.length > MAX_SSE_LINE) {
      this.tail = '';
      this.skipping = true;
    }
  }

  private data(payload: string): void {
    // content deltas are most of the stream; only three event types matter
    if (!payload.includes('"message_start"') && !payload.includes('"message_delta"') && !payload.includes('"error"')) return;
    let ev: any;
    try {
      ev = JSON.parse(payload);
    } catch {
      // not JSON: passed to the client unchanged; usage is taken only from events that parse
      return;
    }
    if (ev?.type === 'message_start') this.ex.takeMessage(ev.message);
    else if (ev?.type === 'message_delta') this.ex.takeUsage(ev.usage);
    else if (ev?.type === 'error') {
      const type = typeof ev.error?.type === 'string' ? ev.error.type : 'error';
      const message = typeof ev.error?.message === 'string' ? `: ${ev.error.message.slice(0, 500)}` : '';
      this.ex.error = `upstream stream error: ${type}${message}`;
    }
  }
}

/** The core's model gateway: one unix socket per agent, one `model_requests` row per request. */
export class ModelGateway {
  private readonly servers = new Map<string, { server: Server<undefined>; path: string }>();
  private readonly now: () => number;
  private readonly coreBase: URL;

  /** @throws TypeError when `opts.upstream` is not a URL. */
  constructor(private readonly opts: ModelGatewayOptions) {
    this.now = opts.now ?? Date.now;
    this.coreBase = new URL(opts.upstream);
  }

  /**
   * Handles one request from `agent` (exposed for tests and the bench): checks the policy, forwards
   * it, and returns the upstream's response as it arrives, or the gateway's own Anthropic-shaped
   * error (400 bad request or agent config, 403 refused by policy, 502 upstream unreachable).
   * Never rejects; the request is recorded once its response has been passed on or abandoned.
   */
  async handle(agent: string, request: Request): Promise<Response> {
    let ex: Exchange;
    try {
      ex = new Exchange(agent, this.opts.turnOf(agent), this.now());
    } catch (err) {
      ex = new Exchange(agent, null, this.now());
      this.opts.log(`gateway ${agent}: turnOf failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    try {
      return await this.forward(ex, request);
    } catch (err) {
      const message = `hive gateway: internal error: ${err instanceof Error ? err.message : String(err)}`;
      this.opts.log(`gateway ${agent}: ${message}`);
      return this.reply(ex, apiError(500, 'api_error', message), message);
    }
  }

  private async forward(ex: Exchange, request: Request): Promise<Response> {
    const { agent } = ex;
    const url = new URL(request.url);

    let policy: GatewayPolicy;
    try {
      policy = this.opts.policyFor(agent);
    } catch (err) {
      if (!(err instanceof HiveError)) throw err;
      const message = `hive gateway: agent "${agent}": ${err.message}`;
      return this.reply(ex, apiError(400, 'invalid_request_error', message, false), message);
    }

    let body: ArrayBuffer | undefined;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      try {
        body = await request.arrayBuffer();
      } catch {
        return this.gone(ex);
      }
    }

    const isMessages = request.method === 'POST' && url.pathname.replace(/\/+$/, '') === '/v1/messages';
    if (body && body.byteLength > 0 && url.pathname.startsWith('/v1/messages')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(new TextDecoder().decode(body));
      } catch {
        parsed = undefined;
      }
      const model = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as { model?: unknown }).model : undefined;
      if (typeof model === 'string') ex.model = model;
      else if (isMessages) {
        const message = 'hive gateway: the request body must be a JSON object with a string "model"';
        return this.reply(ex, apiError(400, 'invalid_request_error', message, false), message);
      }
    } else if (isMessages) {
      const message = 'hive gateway: the request body must be a JSON object with a string "model"';
      return this.reply(ex, apiError(400, 'invalid_request_error', message, false), message);
    }

    if (isMessages) {
      const refusal = this.refusal(agent, ex.model!, policy);
      if (refusal) {
        try {
          this.opts.onRefused(agent, refusal.reason, refusal.message);
        } catch (err) {
          this.opts.log(`gateway ${agent}: onRefused failed: ${err instanceof Error ? err.message : String(err)}`);
        }
        const message = `hive gateway: ${refusal.message}`;
        return this.reply(ex, apiError(403, 'permission_error', message, false), message);
      }
    }

    // the upstream, and whether it is the core's (the only one that gets the operator's credentials)
    const own = policy.upstream !== null && policy.upstream !== undefined;
    let base: URL;
    try {
      base = own ? new URL(policy.upstream!) : this.coreBase;
    } catch {
      const message = `hive gateway: agent "${agent}": upstream ${JSON.stringify(policy.upstream)} is not a URL`;
      return this.reply(ex, apiError(400, 'invalid_request_error', message, false), message);
    }
    const credentials = typeof this.opts.credentials === 'function' ? this.opts.credentials() : this.opts.credentials;
    const { apiKey, authToken, oauthToken } = credentials;
    if (!own && !apiKey && !authToken && !oauthToken) {
      // nothing to add: the request could only fail upstream, so it is not sent at all
      const message =
        "hive gateway: the hive core has no Anthropic credentials; set them on the dashboard's login page (/login), or start the core with ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN or CLAUDE_CODE_OAUTH_TOKEN in its environment (agents never hold them)";
      return this.reply(ex, apiError(401, 'authentication_error', message, false), message);
    }
    const target = base.origin + base.pathname.replace(/\/+$/, '') + url.pathname + url.search;

    const headers = new Headers();
    const connectionListed = (request.headers.get('connection') ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean);
    request.headers.forEach((value, key) => {
      const k = key.toLowerCase();
      if (!DROP_REQUEST.has(k) && !connectionListed.includes(k)) headers.append(k, value);
    });
    headers.set('accept-encoding', 'identity');
    if (!own) applyCredentials(headers, credentials);

    const abort = new AbortController();
    const onClientAbort = () => {
      ex.clientGone = true;
      abort.abort();
    };
    if (request.signal.aborted) return this.gone(ex);
    request.signal.addEventListener('abort', onClientAbort, { once: true });
    const settle = () => request.signal.removeEventListener('abort', onClientAbort);

    let upstream: Response;
    try {
      upstream = await fetch(target, {
        method: request.method,
        headers,
        body,
        signal: abort.signal,
        redirect: 'manual',
        decompress: false,
        timeout: false,
      });
    } catch (err) {
      settle();
      if (ex.clientGone) return this.gone(ex);
      const where = base.origin + base.pathname.replace(/\/+$/, '');
      const message = `hive gateway: upstream ${where} unreachable: ${err instanceof Error ? err.message : String(err)}`;
      this.opts.log(`gateway ${agent}: ${message}`);
      return this.reply(ex, apiError(502, 'api_error', message), message);
    }
    ex.firstByteMs = performance.now() - ex.t0;
    ex.status = upstream.status;

    const outHeaders = new Headers();
    upstream.headers.forEach((value, key) => {
      if (!DROP_RESPONSE.has(key.toLowerCase())) outHeaders.append(key, value);
    });
    const init = { status: upstream.status, statusText: upstream.statusText, headers: outHeaders };
    const type = upstream.headers.get('content-type') ?? '';

    if (!upstream.body) {
      settle();
      if (upstream.status >= 400) ex.error = `upstream ${upstream.status}`;
      this.finish(ex);
      return new Response(null, init);
    }

    if (type.includes('application/json')) {
      // a whole JSON reply (non-stream message, count_tokens, errors): small, read to get its usage
      let bytes: ArrayBuffer;
      try {
        bytes = await upstream.arrayBuffer();
      } catch (err) {
        settle();
        if (ex.clientGone) return this.gone(ex);
        ex.error = `upstream body failed: ${err instanceof Error ? err.message : String(err)}`;
        this.finish(ex);
        return apiError(502, 'api_error', `hive gateway: ${ex.error}`);
      }
      settle();
      let json: any;
      try {
        json = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        json = undefined;
      }
      if (upstream.status < 400) ex.takeMessage(json);
      else ex.error = describeError(upstream.status, json) ?? `upstream ${upstream.status}`;
      this.finish(ex);
      return new Response(bytes, init);
    }

    // a stream: pass each chunk on as it arrives, watching the SSE events for model and usage
    if (upstream.status >= 400) ex.error = `upstream ${upstream.status}`;
    const watcher = type.includes('text/event-stream') ? new SseWatcher(ex) : null;
    // `cancel` (the reader went away) is in the Streams spec and in Bun, but not yet in TypeScript's lib
    const observer: Transformer<Uint8Array, Uint8Array> & { cancel(reason: unknown): void } = {
      transform(chunk, controller) {
        watcher?.push(chunk);
        controller.enqueue(chunk);
      },
      flush: () => {
        settle();
        this.finish(ex);
      },
      cancel: () => {
        // the agent stopped reading: stop the upstream request too
        settle();
        ex.clientGone = true;
        abort.abort();
        this.finish(ex);
      },
    };
    const pass = new TransformStream<Uint8Array, Uint8Array>(observer);
    upstream.body.pipeTo(pass.writable).catch((err) => {
      settle();
      if (!ex.clientGone && !ex.done) ex.error = `upstream stream failed: ${err instanceof Error ? err.message : String(err)}`;
      this.finish(ex);
    });
    return new Response(pass.readable, init);
  }

  /** Why `agent` may not send a request for `model` now, or null when it may. */
  private refusal(agent: string, model: string, policy: GatewayPolicy): { reason: 'budget' | 'model'; message: string } | null {
    if (policy.models && !modelAllowed(model, policy.models)) {
      const list = policy.models.length ? policy.models.map((m) => `"${m}"`).join(', ') : 'none';
      return {
        reason: 'model',
        message: `agent "${agent}" may not use model "${model}"; its allowed models are ${list}. The operator can change "models" in the agent's agent.toml through the manager.`,
      };
    }
    const { dailyUsd, monthlyUsd } = policy.budget ?? {};
    if (dailyUsd === undefined && monthlyUsd === undefined) return null;
    const now = new Date(this.now());
    if (dailyUsd !== undefined) {
      const spent = this.opts.usage.spent(agent, Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
      if (spent >= dailyUsd)
        return {
          reason: 'budget',
          message: `agent "${agent}" has spent ${usd(spent)} today (UTC), reaching its daily budget of ${usd(dailyUsd)}. The operator can raise budget.dailyUsd in the agent's agent.toml through the manager.`,
        };
    }
    if (monthlyUsd !== undefined) {
      const spent = this.opts.usage.spent(agent, Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
      if (spent >= monthlyUsd)
        return {
          reason: 'budget',
          message: `agent "${agent}" has spent ${usd(spent)} this month (UTC), reaching its monthly budget of ${usd(monthlyUsd)}. The operator can raise budget.monthlyUsd in the agent's agent.toml through the manager.`,
        };
    }
    return null;
  }

  /** Records a reply the gateway made itself (nothing, or nothing more, forwarded) and returns it. */
  private reply(ex: Exchange, res: Response, error: string): Response {
    ex.status = res.status;
    ex.error = error;
    this.finish(ex);
    return res;
  }

  /** Records a request whose agent went away before a status reached it. */
  private gone(ex: Exchange): Response {
    ex.clientGone = true;
    ex.status = CLIENT_GONE_STATUS;
    this.finish(ex);
    return apiError(CLIENT_GONE_STATUS, 'api_error', `hive gateway: ${CLIENT_GONE}`);
  }

  /** Records `ex` once. A failure to record is logged, never thrown at the agent. */
  private finish(ex: Exchange): void {
    if (ex.done) return;
    ex.done = true;
    if (ex.clientGone) ex.error = ex.error && ex.error !== CLIENT_GONE ? `${CLIENT_GONE} (${ex.error})` : CLIENT_GONE;
    const { cache_write_1h_tokens: _, ...tokens } = ex.usage;
    const rec: NewModelRequest = {
      agent: ex.agent,
      turn_id: ex.turnId,
      model: ex.model,
      status: ex.status,
      error: ex.error,
      ...tokens,
      cost_usd: costOf(ex.model, ex.usage),
      started_at: ex.startedAt,
      first_byte_ms: ex.firstByteMs,
      duration_ms: performance.now() - ex.t0,
    };
    let stored: ModelRequestRecord;
    try {
      stored = this.opts.usage.record(rec);
    } catch (err) {
      this.opts.log(`gateway ${ex.agent}: could not record a request: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    try {
      this.opts.onRecorded?.(stored);
    } catch (err) {
      this.opts.log(`gateway ${ex.agent}: onRecorded failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /**
   * Serves `agent`'s gateway on a unix socket at `path`, replacing the agent's previous socket if
   * it had one. A leftover socket file at `path` is removed first.
   * @throws HiveError `conflict` when something other than a socket is at `path`; Bun's error when
   * the socket cannot be bound (e.g. the path is longer than 107 bytes or its dir is missing).
   */
  async listen(agent: string, path: string): Promise<void> {
    await this.close(agent);
    removeStaleSocket(path);
    const options = {
      unix: path,
      // Bun closes a unix-socket connection idle for 10 s too, though its types only allow the option
      // for TCP; a model may think for minutes before its first byte, so the client decides instead
      idleTimeout: 0,
      fetch: (req: Request) => this.handle(agent, req),
      error: (err: Error) => apiError(500, 'api_error', `hive gateway: internal error: ${err.message}`),
    };
    const server = Bun.serve(options as unknown as Bun.Serve.Options<undefined>);
    this.servers.set(agent, { server, path });
  }

  /** Stops serving `agent`'s socket, cutting its open requests, and removes the socket file. No-op if not serving. */
  async close(agent: string): Promise<void> {
    const entry = this.servers.get(agent);
    if (!entry) return;
    this.servers.delete(agent);
    await entry.server.stop(true);
    try {
      removeStaleSocket(entry.path);
    } catch {
      /* something else took the path; leave it */
    }
  }

  /** Stops serving every agent's socket. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.servers.keys()].map((agent) => this.close(agent)));
  }
}
