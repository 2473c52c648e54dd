/**
 * @module agent/env
 * Agent mode's settings, read from the environment the runtime provides. This is the only place
 * `hive agent serve` reads `process.env`.
 *
 * | variable           | meaning                                    | default                     |
 * |--------------------|--------------------------------------------|-----------------------------|
 * | HIVE_SOCKET        | the agent's own core socket; the model gateway, egress proxy, page and terminal sockets sit beside it | /run/hive/mcp.sock |
 * | HIVE_STATE_DIR     | durable notes and history                  | /state                      |
 * | CLAUDE_CONFIG_DIR  | claude's config, credentials, transcripts  | ~/.claude                   |
 * | HIVE_CLAUDE_BIN    | the claude binary                          | the pinned one, else PATH   |
 * | HIVE_EXIT_WITH_CORE| 1: exit when stdin (a pipe from the core) ends | unset                   |
 * | HIVE_AGENTS_DIR    | the manager's view of the proposed config repos | unset (other agents) |
 * | HIVE_LOGS_DIR      | the manager's view of every agent's log and build output | unset (other agents) |
 * | HIVE_SHARED_DIR    | the hive-wide shared directory              | unset (`shared = false`) |
 * | HIVE_CONFIG_ENV    | names of the config's `env` variables, comma-separated: passed on to claude | unset |
 * | HIVE_STANDBY_SECONDS | how long a claude started ahead of the next turn is kept (0: none) | 30 |
 * The name, role and model come from the core (`hello`), so they cannot drift.
 *
 * No credential is read here or handed to claude: claude reaches the model through the core's
 * gateway socket (`model.sock`), which adds the operator's credentials on the host side.
 */
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { SOCKET_NAMES } from '../shared/paths.ts';
import { defaultClaudeBin } from '../shared/version.ts';
import { DEFAULT_STANDBY_SECONDS, MAX_STANDBY_SECONDS } from '../shared/wire.ts';

/** Where an agent finds its socket, state and claude. */
export interface AgentEnv {
  socket: string;
  stateDir: string;
  claudeDir: string;
  claudeBin: string;
  /** The core's model gateway for this agent (Anthropic Messages API over a unix socket). */
  modelSocket: string;
  /** The core's egress proxy for this agent; the harness forwards a loopback port to it. */
  proxySocket: string;
  /** Where the harness serves the agent's page; the dashboard proxies to it. */
  pageSocket: string;
  /** Where the harness serves the agent's terminals; the dashboard relays them. */
  termSocket: string;
  /** The manager's `/agents` (every agent's proposed config repo), or null. */
  agentsDir: string | null;
  /** The manager's `/logs` (every agent's `<name>.log` and `<name>.build.log`, read-only), or null. */
  logsDir: string | null;
  /** The hive-wide shared directory (`/shared` in a sandbox), or null when the config turns it off. */
  sharedDir: string | null;
  /** Exit when stdin ends: the process runtime's way of tying the agent's life to the core's. */
  exitWithCore: boolean;
  /** Environment handed on to claude (locale, PATH, home, the config's `env`; never credentials). */
  passEnv: Record<string, string>;
  /** How long a claude started ahead of the next turn is kept, seconds; 0: none (see `claude/standby.ts`). */
  standbySeconds: number;
}

/** The only variables of the harness's environment that claude inherits. */
const PASS = ['PATH', 'LANG', 'TZ', 'TMPDIR', 'HOME'];

/**
 * The directories besides its state dir that claude's file tools may work in (`--add-dir`): the
 * shared directory, and for the manager the proposed config repos and the logs.
 */
export function workDirs(role: string, env: Pick<AgentEnv, 'agentsDir' | 'logsDir' | 'sharedDir'>): string[] {
  const dirs = role === 'manager' ? [env.agentsDir, env.logsDir, env.sharedDir] : [env.sharedDir];
  return dirs.filter((d): d is string => !!d);
}

/** Reads agent mode's environment. */
export function loadAgentEnv(env: Record<string, string | undefined> = process.env): AgentEnv {
  const passEnv: Record<string, string> = {};
  for (const k of PASS) if (env[k]) passEnv[k] = env[k]!;
  // the config's own variables, which the runtime set and the core checked (never a hive name)
  for (const k of (env.HIVE_CONFIG_ENV ?? '').split(',')) if (k && env[k] !== undefined) passEnv[k] = env[k]!;
  const socket = env.HIVE_SOCKET || '/run/hive/mcp.sock';
  const dir = dirname(socket);
  return {
    socket,
    modelSocket: join(dir, SOCKET_NAMES.model),
    proxySocket: join(dir, SOCKET_NAMES.proxy),
    pageSocket: join(dir, SOCKET_NAMES.page),
    termSocket: join(dir, SOCKET_NAMES.term),
    stateDir: env.HIVE_STATE_DIR || '/state',
    claudeDir: env.CLAUDE_CONFIG_DIR || join(env.HOME || homedir(), '.claude'),
    claudeBin: defaultClaudeBin(env),
    exitWithCore: env.HIVE_EXIT_WITH_CORE === '1',
    agentsDir: env.HIVE_AGENTS_DIR || null,
    logsDir: env.HIVE_LOGS_DIR || null,
    sharedDir: env.HIVE_SHARED_DIR || null,
    passEnv,
    standbySeconds: standbySeconds(env.HIVE_STANDBY_SECONDS),
  };
}

/**
 * `HIVE_STANDBY_SECONDS` as a number of seconds: the default when unset, 0 (off) when it is not a
 * whole number from 0 to {@link MAX_STANDBY_SECONDS} (the core checked it; a peer's own setting may not be).
 */
function standbySeconds(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_STANDBY_SECONDS;
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 && n <= MAX_STANDBY_SECONDS ? n : 0;
}
