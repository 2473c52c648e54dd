/**
 * @module gateway/credentials
 * The operator's model credentials, which the model gateway asks for at each request. Two sources:
 * - the core's environment, read once at start (`settings.ts`: `ANTHROPIC_API_KEY`,
 *   `ANTHROPIC_AUTH_TOKEN`, `CLAUDE_CODE_OAUTH_TOKEN`);
 * - one credential the operator sets on the dashboard's login page: an API key, or a long-lived
 *   OAuth token made with `claude setup-token`. It is kept in `<data>/credentials.json`, mode 0600,
 *   written whole to a temporary file and renamed into place; no sandbox mounts the data dir.
 *
 * Precedence: while a credential is stored, it alone is sent, whatever the environment holds; with
 * none stored (never set, or logged out), the environment's are sent. Setting one on the dashboard
 * is the operator's latest, explicit choice; the environment stays the fallback.
 *
 * A credential is stored only after one upstream call accepts it: `POST /v1/messages/count_tokens`
 * on the core's upstream, with a one-word message for {@link CHECK_MODEL}. It costs nothing and
 * answers an API key (`x-api-key`) and a setup-token (`Authorization: Bearer` with the
 * `oauth-2025-04-20` beta) alike, where `GET /v1/models` refuses OAuth tokens. A 2xx answer passes;
 * anything else fails with the upstream's status and error message, and nothing is stored.
 *
 * The secret is never handed out again: {@link Credentials.status} gives its kind, its last four
 * characters, when it was set and how its last check went.
 */
import { chmodSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { HiveError } from '../../shared/errors.ts';
import { applyCredentials, describeError, type GatewayCredentials } from './model-gateway.ts';

/** Kinds of credential the login page stores: how the gateway sends each is in {@link GatewayCredentials}. */
export const STORED_KINDS = ['api_key', 'oauth_token'] as const;
/** `api_key`: sent as `x-api-key`. `oauth_token`: a `claude setup-token` token, sent as a bearer token with the OAuth beta. */
export type StoredKind = (typeof STORED_KINDS)[number];
/** Every kind the gateway sends; `auth_token` (a plain bearer token) comes only from `ANTHROPIC_AUTH_TOKEN`. */
export type CredentialKind = StoredKind | 'auth_token';

/** The model named in the check call. */
export const CHECK_MODEL = 'claude-haiku-4-5';
/** Longest wait for the check call's answer, ms. */
export const CHECK_TIMEOUT_MS = 15_000;
/** Longest secret accepted, characters (API keys and setup-tokens are about 110). */
export const MAX_SECRET_CHARS = 4096;

/** How one check of a credential with the upstream went. */
export interface CredentialCheck {
  /** The upstream answered 2xx. */
  ok: boolean;
  /** When the answer came, epoch ms. */
  at: number;
  /** The upstream's HTTP status, or null when it gave none (unreachable, timed out). */
  status: number | null;
  /**
   * For people: `upstream 200: accepted`, `upstream 401: authentication_error: invalid x-api-key`,
   * or why the upstream could not be asked.
   */
  message: string;
}

/** What the login page shows: never a secret, only its kind and last four characters. */
export interface CredentialStatus {
  /** Where the credentials sent now come from. */
  inUse: 'stored' | 'environment' | 'none';
  /** The core's upstream, where credentials are sent and checked. */
  upstream: string;
  /** The credential set on the dashboard, or null. `setAt` is epoch ms. */
  stored: { kind: StoredKind; tail: string; setAt: number; check: CredentialCheck | null } | null;
  /**
   * The environment's credentials, in the order of `settings.ts`; `sent` is false for
   * `CLAUDE_CODE_OAUTH_TOKEN` beside `ANTHROPIC_AUTH_TOKEN`, which the gateway leaves out.
   */
  environment: Array<{ variable: string; kind: CredentialKind; tail: string; sent: boolean }>;
  /** The last check of the environment's credentials since the core started, or null. */
  environmentCheck: CredentialCheck | null;
  /** Why `credentials.json` could not be used at start (it is then ignored until replaced or removed), or null. */
  fileError: string | null;
}

/** The file's shape. */
interface StoredFile {
  version: 1;
  kind: StoredKind;
  secret: string;
  /** Epoch ms. */
  set_at: number;
  check: CredentialCheck | null;
}

/** How a {@link Credentials} is set up. */
export interface CredentialsOptions {
  /** Where the stored credential lives (`<data>/credentials.json`). */
  file: string;
  /** The credentials from the core's environment. */
  environment: GatewayCredentials;
  /** The core's upstream base URL (may carry a path prefix). */
  upstream: string;
  /** One line for the core's log. */
  log(line: string): void;
  /** Clock in epoch ms (test seam); default `Date.now`. */
  now?: () => number;
  /** Longest wait for a check, ms; default {@link CHECK_TIMEOUT_MS}. */
  checkTimeoutMs?: number;
}

/**
 * The kind a pasted secret most likely is: `sk-ant-oat…` (what `claude setup-token` prints) is an
 * OAuth token, anything else an API key.
 */
export function kindOf(secret: string): StoredKind {
  return secret.startsWith('sk-ant-oat') ? 'oauth_token' : 'api_key';
}

/** The masked form of a secret: `…` and its last four characters (just `…` for one under 16 characters). */
export function maskTail(secret: string): string {
  return secret.length >= 16 ? `…${secret.slice(-4)}` : '…';
}

/**
 * A pasted secret, trimmed and checked for shape.
 * @throws HiveError `bad_request` when it is empty, longer than {@link MAX_SECRET_CHARS}, or holds
 *   anything but printable ASCII without spaces (it travels in an HTTP header).
 */
export function cleanSecret(raw: string): string {
  const secret = raw.trim();
  if (!secret) throw new HiveError('bad_request', 'paste an API key or a token made with `claude setup-token`');
  if (secret.length > MAX_SECRET_CHARS) throw new HiveError('bad_request', `the key is ${secret.length} characters; the limit is ${MAX_SECRET_CHARS}`);
  if (!/^[\x21-\x7e]+$/.test(secret)) throw new HiveError('bad_request', 'the key must be one line of printable ASCII without spaces; paste it again as it was printed');
  return secret;
}

/** The credentials the gateway sends for a stored secret of `kind`. */
function asGateway(kind: StoredKind, secret: string): GatewayCredentials {
  return kind === 'api_key' ? { apiKey: secret } : { oauthToken: secret };
}

/**
 * Asks `upstream` whether it takes `credentials`, with one `POST /v1/messages/count_tokens` (see the
 * module comment). Never rejects: an upstream that cannot be reached, or does not answer within
 * `timeoutMs`, is a failed check with a null status.
 */
export async function checkCredentials(
  upstream: string,
  credentials: GatewayCredentials,
  opts: { timeoutMs?: number; now?: () => number } = {},
): Promise<CredentialCheck> {
  const now = opts.now ?? Date.now;
  const timeoutMs = opts.timeoutMs ?? CHECK_TIMEOUT_MS;
  const base = new URL(upstream);
  const where = base.origin + base.pathname.replace(/\/+$/, '');
  const headers = new Headers({ 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'accept-encoding': 'identity' });
  applyCredentials(headers, credentials);
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${where}/v1/messages/count_tokens`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model: CHECK_MODEL, messages: [{ role: 'user', content: 'ping' }] }),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await res.text();
  } catch (err) {
    const why = (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : (err as Error).message;
    return { ok: false, at: now(), status: null, message: `upstream ${where} could not be asked: ${why}` };
  }
  if (res.ok) return { ok: true, at: now(), status: res.status, message: `upstream ${res.status}: accepted` };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const plain = text.trim().slice(0, 200);
  const message = describeError(res.status, json) ?? `upstream ${res.status}${plain ? `: ${plain}` : ''}`;
  return { ok: false, at: now(), status: res.status, message };
}

/** The credentials the gateway sends, from the environment and the dashboard's login. */
export class Credentials {
  private stored: StoredFile | null = null;
  private fileError: string | null = null;
  private environmentCheck: CredentialCheck | null = null;
  private readonly now: () => number;

  /** Reads the stored credential, if any; a file that cannot be used is logged and ignored (see {@link CredentialStatus.fileError}). */
  constructor(private readonly opts: CredentialsOptions) {
    this.now = opts.now ?? Date.now;
    this.load();
  }

  /** What the gateway sends now: the stored credential if there is one, else the environment's. */
  current(): GatewayCredentials {
    const s = this.stored;
    return s ? asGateway(s.kind, s.secret) : this.opts.environment;
  }

  /** What the login page shows (no secret). */
  status(): CredentialStatus {
    const env = this.opts.environment;
    const environment: CredentialStatus['environment'] = [];
    if (env.apiKey) environment.push({ variable: 'ANTHROPIC_API_KEY', kind: 'api_key', tail: maskTail(env.apiKey), sent: true });
    if (env.authToken) environment.push({ variable: 'ANTHROPIC_AUTH_TOKEN', kind: 'auth_token', tail: maskTail(env.authToken), sent: true });
    if (env.oauthToken) environment.push({ variable: 'CLAUDE_CODE_OAUTH_TOKEN', kind: 'oauth_token', tail: maskTail(env.oauthToken), sent: !env.authToken });
    const s = this.stored;
    return {
      inUse: s ? 'stored' : environment.length ? 'environment' : 'none',
      upstream: this.opts.upstream,
      stored: s ? { kind: s.kind, tail: maskTail(s.secret), setAt: s.set_at, check: s.check } : null,
      environment,
      environmentCheck: this.environmentCheck,
      fileError: this.fileError,
    };
  }

  /**
   * Checks `raw` with the upstream and, when it passes, stores it in place of any stored one; the
   * next model request uses it. A failed check stores nothing and changes nothing.
   * @param kind how to send it; `auto` decides by its prefix (see {@link kindOf}).
   * @returns the check; `ok` says whether the credential was stored.
   * @throws HiveError `bad_request` for a malformed secret (see {@link cleanSecret}); `unavailable`
   *   when the file cannot be written.
   */
  async login(raw: string, kind: StoredKind | 'auto' = 'auto'): Promise<CredentialCheck> {
    const secret = cleanSecret(raw);
    const k = kind === 'auto' ? kindOf(secret) : kind;
    const check = await checkCredentials(this.opts.upstream, asGateway(k, secret), { timeoutMs: this.opts.checkTimeoutMs, now: this.now });
    if (!check.ok) {
      this.opts.log(`credentials: a ${k} ending ${maskTail(secret)} was refused: ${check.message}`);
      return check;
    }
    this.write({ version: 1, kind: k, secret, set_at: this.now(), check });
    this.opts.log(`credentials: a ${k} ending ${maskTail(secret)} is stored and in use`);
    return check;
  }

  /**
   * Checks the credentials in use again and records the outcome (in the file for a stored one, in
   * memory for the environment's). A failed check changes nothing else: the credentials stay in use.
   * @throws HiveError `conflict` when there are none; `unavailable` when the file cannot be written.
   */
  async recheck(): Promise<CredentialCheck> {
    const s = this.stored;
    const creds = this.current();
    if (!s && !creds.apiKey && !creds.authToken && !creds.oauthToken)
      throw new HiveError('conflict', 'there are no model credentials to check: paste an API key or a setup-token first');
    const check = await checkCredentials(this.opts.upstream, creds, { timeoutMs: this.opts.checkTimeoutMs, now: this.now });
    if (!s) this.environmentCheck = check;
    // recorded only if the same credential is still stored (a login or log-out may have come in between)
    else if (this.stored === s) this.write({ ...s, check });
    if (!check.ok) this.opts.log(`credentials: the ${s ? 'stored' : "environment's"} credentials failed their check: ${check.message}`);
    return check;
  }

  /**
   * Removes the stored credential (and a file that could not be used); the environment's apply
   * from the next request.
   * @returns false when nothing was stored.
   * @throws HiveError `unavailable` when the file cannot be removed.
   */
  logout(): boolean {
    const had = this.stored !== null || this.fileError !== null;
    try {
      rmSync(this.opts.file, { force: true });
    } catch (err) {
      throw new HiveError('unavailable', `could not remove ${this.opts.file}: ${(err as Error).message}`);
    }
    this.stored = null;
    this.fileError = null;
    if (had) this.opts.log('credentials: the stored credential was removed');
    return had;
  }

  /** Writes `data` to the file (0600, replaced whole) and takes it as the stored credential. */
  private write(data: StoredFile): void {
    const { file } = this.opts;
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      rmSync(tmp, { force: true });
      writeFileSync(tmp, JSON.stringify(data, null, 2) + '\n', { mode: 0o600 });
      chmodSync(tmp, 0o600);
      renameSync(tmp, file);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw new HiveError('unavailable', `could not write ${file}: ${(err as Error).message}`);
    }
    this.stored = data;
    this.fileError = null;
  }

  /** Reads the file at start. */
  private load(): void {
    const { file } = this.opts;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.unusable(`it cannot be read: ${(err as Error).message}`);
      return;
    }
    let data: any;
    try {
      data = JSON.parse(text);
    } catch (err) {
      this.unusable(`it is not JSON: ${(err as Error).message}`);
      return;
    }
    const check = data?.check;
    const checkOk =
      check === null ||
      (typeof check === 'object' && typeof check.ok === 'boolean' && typeof check.at === 'number' && typeof check.message === 'string' && (check.status === null || typeof check.status === 'number'));
    if (
      data?.version !== 1 ||
      !(STORED_KINDS as readonly string[]).includes(data.kind) ||
      typeof data.secret !== 'string' ||
      typeof data.set_at !== 'number' ||
      !checkOk
    ) {
      this.unusable('it is not a credential this core wrote');
      return;
    }
    try {
      cleanSecret(data.secret);
    } catch (err) {
      this.unusable((err as Error).message);
      return;
    }
    try {
      const mode = statSync(file).mode & 0o777;
      if (mode & 0o077) {
        chmodSync(file, 0o600);
        this.opts.log(`credentials: ${file} was mode ${mode.toString(8)}; it is 0600 now`);
      }
    } catch (err) {
      this.unusable(`its mode cannot be made 0600: ${(err as Error).message}`);
      return;
    }
    this.stored = { version: 1, kind: data.kind, secret: data.secret, set_at: data.set_at, check };
  }

  private unusable(why: string): void {
    this.fileError = `${this.opts.file} is ignored: ${why}. Log in again to replace it, or log out to remove it.`;
    this.opts.log(`credentials: ${this.fileError}`);
  }
}
