/**
 * @module core/settings
 * The daemon's settings: flags first, then environment, then defaults. This is the only place
 * the core reads `process.env`; everything else receives a {@link CoreConfig}.
 *
 * | flag          | env                 | default                                        |
 * |---------------|---------------------|------------------------------------------------|
 * | --data-dir    | HIVE_DATA_DIR       | /var/lib/hyperhive (root), XDG state otherwise |
 * | --listen      | HIVE_LISTEN         | 127.0.0.1:7000                                 |
 * | --runtime     | HIVE_RUNTIME        | auto: nixos-container or nspawn (root), else bwrap, else process |
 * | --model       | HIVE_DEFAULT_MODEL  | haiku                                          |
 * | --claude      | HIVE_CLAUDE_BIN     | the package's pinned claude, else PATH         |
 * | --no-manager  | HIVE_NO_MANAGER=1   | the manager is created and started             |
 * | --tag-retention-days | HIVE_TAG_RETENTION_DAYS | 30 (age of `failed/`, `denied/` tags kept) |
 * | --token-file  | HIVE_OPERATOR_TOKEN | none; required when --listen is not a loopback address |
 * | --allowed-hosts | HIVE_ALLOWED_HOSTS | none: further `Host` names the dashboard answers to (comma-separated) |
 * | --egress-allow-internal | HIVE_EGRESS_ALLOW_INTERNAL | none: `host:port` destinations the egress proxy may reach although they are loopback, private or this host's (comma-separated) |
 * | --notify-url  | HIVE_NOTIFY_URL     | none: an ntfy-compatible URL the core POSTs operator notifications to (see `notify/`) |
 * | --notify-token-file | —             | none: a bearer token for --notify-url (first line of the file) |
 * | --stuck-turn-minutes | HIVE_STUCK_TURN_MINUTES | 30: a turn running this long raises `agent_stuck` |
 * | --stuck-inbox-minutes | HIVE_STUCK_INBOX_MINUTES | 5: messages waiting this long for an idle agent raise `agent_stuck` |
 * | --stats-raw-days | HIVE_STATS_RAW_DAYS | 7: days raw telemetry samples are kept (hourly roll-ups for 400) |
 * | --allow-mount (repeatable) | HIVE_ALLOW_MOUNTS | none: host directories under which an agent's `mounts` may name paths (comma-separated) |
 * | --images-dir  | HIVE_IMAGES_DIR     | <data>/images: where agents' root filesystems are built and kept (see `images/`) |
 * | --host-root   | HIVE_HOST_ROOT=1    | off: sandboxes show an image built for the agent; on, they show this host's `/usr` and no `packages` are installed |
 * | --hive        | HIVE_NAME           | this host's name, made a valid hive name: agents elsewhere reach this hive's as `name@<hive>` |
 * | --nats        | HIVE_NATS           | none: NATS server URLs (comma-separated) of the federation to join (see `federation/`) |
 * | --nats-creds  | HIVE_NATS_CREDS     | none: a NATS credentials file (user JWT and nkey seed) this hive authenticates with |
 * | --nats-replicas | HIVE_NATS_REPLICAS | 1: replicas of the federation's JetStream stream when this hive creates it (1–5) |
 * | --hive-unreachable-minutes | HIVE_UNREACHABLE_MINUTES | 5: another hive unheard (or this one without NATS) this long raises `hive_unreachable` |
 * | --standby-seconds | HIVE_STANDBY_SECONDS | 30: how long an agent keeps a claude started ahead of its next turn after a turn (0: never; see `agent/claude/standby.ts`) |
 *
 * The model gateway's upstream and credentials come from the core's environment and never reach an
 * agent: `ANTHROPIC_BASE_URL` (default https://api.anthropic.com), and one of `ANTHROPIC_API_KEY`,
 * `ANTHROPIC_AUTH_TOKEN`, `CLAUDE_CODE_OAUTH_TOKEN`. A credential the operator sets on the
 * dashboard's login page takes their place while it is stored (see `gateway/credentials.ts`).
 */
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { hostname } from 'node:os';
import { HiveError } from '../shared/errors.ts';
import { hiveNameFromHost, validateHiveName } from '../shared/names.ts';
import { resolveDataDir } from '../shared/paths.ts';
import { parseInternalDestination } from '../shared/egress.ts';
import { defaultClaudeBin } from '../shared/version.ts';
import { DEFAULT_STANDBY_SECONDS, MAX_RETENTION_DAYS, MAX_STANDBY_SECONDS } from '../shared/wire.ts';

/** The Anthropic Messages API, where the model gateway forwards when `ANTHROPIC_BASE_URL` is not set. */
export const DEFAULT_UPSTREAM = 'https://api.anthropic.com';

/** Runtimes this build knows; `auto` picks the best that works here (see `runtime/detect.ts`). */
export const RUNTIMES = ['auto', 'nixos-container', 'nspawn', 'bwrap', 'process'] as const;
export type RuntimeName = (typeof RUNTIMES)[number];

/** Validated daemon settings. */
export interface CoreConfig {
  dataDir: string;
  /** Dashboard listen host and port. */
  listen: { host: string; port: number };
  runtime: RuntimeName;
  /** Model for agents whose config names none. */
  defaultModel: string;
  claudeBin: string;
  /** Create and run the manager agent. */
  manager: boolean;
  /** Where the model gateway forwards, and with which of the operator's credentials. */
  gateway: { upstream: string; credentials: { apiKey?: string; authToken?: string; oauthToken?: string } };
  /** `Host` names the dashboard answers to besides loopback and its listen address. */
  allowedHosts: string[];
  /** Destinations the egress proxy may reach although they are loopback, private or this host's. */
  egressInternal: Array<{ host: string; port: number }>;
  /** Days a `failed/` or `denied/` tag is kept in an applied config repo (see tag retention). */
  tagRetentionDays: number;
  /** When an agent counts as stuck, ms (see `stats/stuck.ts`). */
  stuck: { turnMs: number; inboxMs: number };
  /** Days raw telemetry samples are kept before only their hourly roll-ups remain. */
  statsRawDays: number;
  /**
   * Absolute host directories an agent's `mounts` may name paths under (`--allow-mount`); empty =
   * no mounts. Each existed and was a directory when the core started; see `configs/mounts.ts`.
   */
  allowMounts: string[];
  /** Where agents' root filesystems are kept (`core/images/`). */
  imagesDir: string;
  /**
   * Sandboxes show the host's `/usr` instead of an image, and `packages` are not installed (the
   * operator asked for it with `--host-root`).
   */
  hostRoot: boolean;
  /** This hive's name (`--hive`): a valid hive name (see `shared/names.ts`). */
  hive: string;
  /**
   * The NATS federation to join, or null for a hive on its own (then nothing of NATS is loaded).
   * `servers` are NATS URLs; `credsFile` a NATS credentials file; `replicas` the stream's replicas.
   */
  nats: { servers: string[]; credsFile: string | null; replicas: number } | null;
  /** How long another hive may go unheard (or this one without NATS) before `hive_unreachable`, ms. */
  hiveUnreachableMs: number;
  /** How long an agent keeps a claude started ahead of its next turn, seconds (0: never). */
  standbySeconds: number;
  /**
   * The operator token the dashboard asks for, or null (then it answers anyone who reaches it,
   * which only loopback allows). See `dashboard/auth.ts`.
   */
  operatorToken: string | null;
  /**
   * Where operator notifications are pushed (an http(s) URL, ntfy-compatible) and the bearer token
   * sent with them, or null when no `--notify-url` is set. See `notify/notifier.ts`.
   */
  notify: { url: string; token: string | null } | null;
}

/** Shortest operator token accepted, characters. */
export const MIN_TOKEN_CHARS = 16;

/** Raw flag values as parsed from the command line. */
export interface CoreFlags {
  'data-dir'?: string;
  listen?: string;
  runtime?: string;
  model?: string;
  claude?: string;
  'allowed-hosts'?: string;
  'egress-allow-internal'?: string;
  'no-manager'?: boolean;
  'tag-retention-days'?: string;
  'token-file'?: string;
  'notify-url'?: string;
  'notify-token-file'?: string;
  'stuck-turn-minutes'?: string;
  'stuck-inbox-minutes'?: string;
  'stats-raw-days'?: string;
  /** Repeatable; each value may also list several directories, comma-separated. */
  'allow-mount'?: string | string[];
  'images-dir'?: string;
  'host-root'?: boolean;
  hive?: string;
  nats?: string;
  'nats-creds'?: string;
  'nats-replicas'?: string;
  'hive-unreachable-minutes'?: string;
  'standby-seconds'?: string;
}

/**
 * Builds the core's settings.
 * @throws HiveError `bad_request` naming the flag or variable that is malformed.
 */
export function loadCoreConfig(flags: CoreFlags, env: Record<string, string | undefined> = process.env): CoreConfig {
  const dataDir = resolve(resolveDataDir(flags['data-dir'], env));
  const listen = parseListen(flags.listen ?? env.HIVE_LISTEN ?? '127.0.0.1:7000');
  const runtime = flags.runtime ?? env.HIVE_RUNTIME ?? 'auto';
  if (!(RUNTIMES as readonly string[]).includes(runtime))
    throw new HiveError('bad_request', `--runtime ${runtime}: unknown runtime; this build has: ${RUNTIMES.join(', ')}`);
  const claudeBin = flags.claude ?? defaultClaudeBin(env);
  const upstream = env.ANTHROPIC_BASE_URL || DEFAULT_UPSTREAM;
  if (!/^https?:\/\/[^\s/]+/.test(upstream) || !URL.canParse(upstream))
    throw new HiveError('bad_request', `ANTHROPIC_BASE_URL ${upstream}: expected an http(s) URL, e.g. ${DEFAULT_UPSTREAM}`);
  const credentials = {
    ...(env.ANTHROPIC_API_KEY ? { apiKey: env.ANTHROPIC_API_KEY } : {}),
    ...(env.ANTHROPIC_AUTH_TOKEN ? { authToken: env.ANTHROPIC_AUTH_TOKEN } : {}),
    ...(env.CLAUDE_CODE_OAUTH_TOKEN ? { oauthToken: env.CLAUDE_CODE_OAUTH_TOKEN } : {}),
  };
  const list = (v: string | undefined) => (v ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  const allowedHosts = list(flags['allowed-hosts'] ?? env.HIVE_ALLOWED_HOSTS);
  for (const h of allowedHosts)
    if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+|[0-9a-fA-F:]+)$/.test(h)) throw new HiveError('bad_request', `--allowed-hosts: "${h}" is not a host name or address`);
  const egressInternal = list(flags['egress-allow-internal'] ?? env.HIVE_EGRESS_ALLOW_INTERNAL).map((d) => {
    try {
      return parseInternalDestination(d);
    } catch (err) {
      throw new HiveError('bad_request', `--egress-allow-internal: ${(err as Error).message}`);
    }
  });
  const retention = flags['tag-retention-days'] ?? env.HIVE_TAG_RETENTION_DAYS ?? '30';
  if (!/^\d+$/.test(retention) || Number(retention) > MAX_RETENTION_DAYS)
    throw new HiveError('bad_request', `--tag-retention-days ${retention}: expected a whole number of days (0 to ${MAX_RETENTION_DAYS})`);
  const minutes = (flag: string, v: string) => {
    if (!/^\d+(\.\d+)?$/.test(v) || !(Number(v) > 0) || Number(v) > 10_000)
      throw new HiveError('bad_request', `--${flag} ${v}: expected a positive number of minutes (at most 10000)`);
    return Math.round(Number(v) * 60_000);
  };
  const stuck = {
    turnMs: minutes('stuck-turn-minutes', flags['stuck-turn-minutes'] ?? env.HIVE_STUCK_TURN_MINUTES ?? '30'),
    inboxMs: minutes('stuck-inbox-minutes', flags['stuck-inbox-minutes'] ?? env.HIVE_STUCK_INBOX_MINUTES ?? '5'),
  };
  const rawDays = flags['stats-raw-days'] ?? env.HIVE_STATS_RAW_DAYS ?? '7';
  if (!/^\d+$/.test(rawDays) || Number(rawDays) < 1 || Number(rawDays) > 365)
    throw new HiveError('bad_request', `--stats-raw-days ${rawDays}: expected a whole number of days (1 to 365)`);
  const allowMounts = readAllowMounts(flags['allow-mount'] ?? env.HIVE_ALLOW_MOUNTS, dataDir);
  const operatorToken = readOperatorToken(flags['token-file'], env.HIVE_OPERATOR_TOKEN);
  if (!operatorToken && !isLoopback(listen.host))
    throw new HiveError(
      'bad_request',
      `--listen ${listen.host}:${listen.port} reaches beyond this host, so the dashboard needs an operator token: ` +
        `put one (at least ${MIN_TOKEN_CHARS} characters, e.g. from \`openssl rand -hex 24\`) in a file and pass --token-file FILE, or set HIVE_OPERATOR_TOKEN`,
    );
  const notify = readNotify(flags['notify-url'] ?? env.HIVE_NOTIFY_URL, flags['notify-token-file']);
  return {
    dataDir,
    operatorToken,
    notify,
    gateway: { upstream, credentials },
    allowedHosts,
    egressInternal,
    tagRetentionDays: Number(retention),
    stuck,
    statsRawDays: Number(rawDays),
    allowMounts,
    imagesDir: resolve(flags['images-dir'] ?? env.HIVE_IMAGES_DIR ?? join(dataDir, 'images')),
    hostRoot: !!(flags['host-root'] || env.HIVE_HOST_ROOT === '1'),
    hive: readHiveName(flags.hive ?? env.HIVE_NAME),
    nats: readNats(flags.nats ?? env.HIVE_NATS, flags['nats-creds'] ?? env.HIVE_NATS_CREDS, flags['nats-replicas'] ?? env.HIVE_NATS_REPLICAS),
    hiveUnreachableMs: minutes('hive-unreachable-minutes', flags['hive-unreachable-minutes'] ?? env.HIVE_UNREACHABLE_MINUTES ?? '5'),
    standbySeconds: readStandbySeconds(flags['standby-seconds'] ?? env.HIVE_STANDBY_SECONDS),
    listen,
    runtime: runtime as RuntimeName,
    defaultModel: flags.model ?? env.HIVE_DEFAULT_MODEL ?? 'haiku',
    claudeBin: isAbsolute(claudeBin) || !claudeBin.includes('/') ? claudeBin : resolve(claudeBin),
    manager: !(flags['no-manager'] || env.HIVE_NO_MANAGER === '1'),
  };
}

/**
 * `--standby-seconds`: a whole number of seconds from 0 to {@link MAX_STANDBY_SECONDS}, default
 * {@link DEFAULT_STANDBY_SECONDS}.
 * @throws HiveError `bad_request` naming the flag otherwise.
 */
function readStandbySeconds(value: string | undefined): number {
  const v = value ?? String(DEFAULT_STANDBY_SECONDS);
  if (!/^\d+$/.test(v) || Number(v) > MAX_STANDBY_SECONDS)
    throw new HiveError('bad_request', `--standby-seconds ${v}: expected a whole number of seconds (0 to ${MAX_STANDBY_SECONDS}; 0 turns standby claudes off)`);
  return Number(v);
}

/**
 * This hive's name: `--hive` as given, or the host name made valid.
 * @throws HiveError `bad_request` when the given name breaks the rules of `validateHiveName`.
 */
function readHiveName(value: string | undefined): string {
  if (value === undefined) return hiveNameFromHost(hostname());
  try {
    return validateHiveName(value);
  } catch (err) {
    throw new HiveError('bad_request', `--hive (HIVE_NAME): ${(err as Error).message}`);
  }
}

/**
 * The federation settings: NATS URLs (comma-separated), a credentials file, the stream's replicas.
 * @throws HiveError `bad_request` naming the flag: a URL that is not `nats://` or `tls://` (or
 *   `ws://`), a credentials file that cannot be read, replicas outside 1–5, or credentials or
 *   replicas without `--nats`.
 */
function readNats(urls: string | undefined, creds: string | undefined, replicas: string | undefined): CoreConfig['nats'] {
  const servers = (urls ?? '').split(',').map((u) => u.trim()).filter(Boolean);
  if (servers.length === 0) {
    if (creds) throw new HiveError('bad_request', '--nats-creds needs --nats: which NATS servers to join');
    if (replicas) throw new HiveError('bad_request', '--nats-replicas needs --nats: which NATS servers to join');
    return null;
  }
  for (const u of servers)
    if (!/^(nats|tls|ws|wss):\/\/[^\s/]+$/.test(u) || !URL.canParse(u)) throw new HiveError('bad_request', `--nats: "${u}" is not a NATS server URL, like nats://127.0.0.1:4222`);
  let credsFile: string | null = null;
  if (creds) {
    credsFile = resolve(creds);
    let text: string;
    try {
      text = readFileSync(credsFile, 'utf8');
    } catch (err) {
      throw new HiveError('bad_request', `--nats-creds ${creds}: ${(err as Error).message}`);
    }
    if (natsCredentialKind(text) === null)
      throw new HiveError('bad_request', `--nats-creds ${creds}: neither a NATS credentials file (a user JWT and its seed) nor a user nkey seed (SU…)`);
  }
  const n = replicas ?? '1';
  if (!/^[1-5]$/.test(n)) throw new HiveError('bad_request', `--nats-replicas ${n}: expected 1 to 5`);
  return { servers, credsFile, replicas: Number(n) };
}

/**
 * What a `--nats-creds` file holds: a NATS credentials file (`-----BEGIN NATS USER JWT-----` and the
 * seed, as `nsc` writes them), a bare user nkey seed (`SU…`, 58 characters, as `nk -gen user`
 * writes it), or neither (null). Per the NATS docs on decentralized JWT and nkey authentication.
 */
export function natsCredentialKind(text: string): 'creds' | 'nkey' | null {
  if (text.includes('-----BEGIN NATS USER JWT-----')) return 'creds';
  return /^SU[A-Z2-7]{56}$/.test(text.trim()) ? 'nkey' : null;
}

/**
 * The directories of `--allow-mount` (each value comma-separated too) or `HIVE_ALLOW_MOUNTS`, made
 * absolute against the working directory, without duplicates.
 * @throws HiveError `bad_request` naming the directory when it does not exist, is not a directory,
 *   is `/`, or lies inside the data dir (whose files no agent may see).
 */
function readAllowMounts(value: string | string[] | undefined, dataDir: string): string[] {
  const dirs = [value ?? []].flat().flatMap((v) => v.split(',')).map((d) => d.trim()).filter(Boolean);
  const out: string[] = [];
  for (const d of dirs) {
    const dir = resolve(d);
    const fail = (why: string): never => {
      throw new HiveError('bad_request', `--allow-mount ${d}: ${why}`);
    };
    let real: string;
    try {
      real = realpathSync(dir);
      if (!statSync(real).isDirectory()) fail('is not a directory');
    } catch (err) {
      if (err instanceof HiveError) throw err;
      fail((err as Error).message);
    }
    if (real! === '/') fail('would let agents mount any path of this host; name the directories to share');
    let dataReal = dataDir;
    try {
      dataReal = realpathSync(dataDir);
    } catch {
      // a data dir not made yet is compared as written
    }
    if (real! === dataReal || real!.startsWith(`${dataReal}/`)) fail(`lies inside the data dir ${dataDir}, which no agent may see`);
    if (!out.includes(dir)) out.push(dir);
  }
  return out;
}

/**
 * The operator token from `--token-file` (first line, trimmed) or `HIVE_OPERATOR_TOKEN`; null when
 * neither is given.
 * @throws HiveError `bad_request` when the file cannot be read or the token is shorter than
 *   {@link MIN_TOKEN_CHARS} or contains whitespace.
 */
function readOperatorToken(file: string | undefined, env: string | undefined): string | null {
  let token: string | undefined;
  let from: string;
  if (file !== undefined) {
    from = `--token-file ${file}`;
    try {
      token = readFileSync(file, 'utf8').split('\n', 1)[0]!.trim();
    } catch (err) {
      throw new HiveError('bad_request', `${from}: ${(err as Error).message}`);
    }
  } else {
    from = 'HIVE_OPERATOR_TOKEN';
    token = env?.trim();
    if (!token) return null;
  }
  if (token.length < MIN_TOKEN_CHARS || /\s/.test(token))
    throw new HiveError('bad_request', `${from}: the operator token must be at least ${MIN_TOKEN_CHARS} characters, without spaces`);
  return token;
}

/**
 * The notification target from `--notify-url` (or `HIVE_NOTIFY_URL`) and `--notify-token-file`
 * (its first line, trimmed); null when no URL is given.
 * @throws HiveError `bad_request` when the URL is not http(s), when the token file is given without
 *   a URL, cannot be read, or holds an empty token or one with spaces.
 */
function readNotify(url: string | undefined, tokenFile: string | undefined): CoreConfig['notify'] {
  url = url?.trim() || undefined;
  if (url === undefined) {
    if (tokenFile !== undefined) throw new HiveError('bad_request', `--notify-token-file ${tokenFile}: it is the token for --notify-url, which is not set`);
    return null;
  }
  if (!/^https?:\/\/[^\s/]+/.test(url) || !URL.canParse(url))
    throw new HiveError('bad_request', `--notify-url ${url}: expected an http(s) URL, e.g. https://ntfy.sh/my-hive`);
  if (tokenFile === undefined) return { url, token: null };
  let token: string;
  try {
    token = readFileSync(tokenFile, 'utf8').split('\n', 1)[0]!.trim();
  } catch (err) {
    throw new HiveError('bad_request', `--notify-token-file ${tokenFile}: ${(err as Error).message}`);
  }
  if (!token || /\s/.test(token)) throw new HiveError('bad_request', `--notify-token-file ${tokenFile}: the first line must hold the token, without spaces`);
  return { url, token };
}

/** True for addresses only this host can reach: 127.0.0.0/8, ::1, `localhost`. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Parses `host:port`, `:port` or `port`.
 * @throws HiveError `bad_request` when the port is not 0–65535.
 */
export function parseListen(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  const host = i >= 0 ? value.slice(0, i) || '127.0.0.1' : '127.0.0.1';
  const portText = i >= 0 ? value.slice(i + 1) : value;
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535)
    throw new HiveError('bad_request', `--listen ${value}: expected host:port with a port from 0 to 65535`);
  return { host: host.replace(/^\[(.*)\]$/, '$1'), port };
}
