/**
 * @module agent/config
 * Agent mode's settings, read from the environment the runtime provides. This is the only place
 * `hive agent serve` reads `process.env`.
 *
 * | variable           | meaning                                    | default                     |
 * |--------------------|--------------------------------------------|-----------------------------|
 * | HIVE_SOCKET        | the agent's own core socket                | /run/hive/mcp.sock          |
 * | HIVE_STATE_DIR     | durable notes and history                  | /state                      |
 * | CLAUDE_CONFIG_DIR  | claude's config, credentials, transcripts  | ~/.claude                   |
 * | HIVE_CLAUDE_BIN    | the claude binary                          | the pinned one, else PATH   |
 * | HIVE_PAGE_HOST     | address the agent's page binds             | 127.0.0.1                   |
 * | HIVE_EXIT_WITH_CORE| 1: exit when stdin (a pipe from the core) ends | unset                   |
 * | HIVE_AGENTS_DIR    | the manager's view of the proposed config repos | unset (other agents) |
 * The name, role, model and page port come from the core (`hello`), so they cannot drift.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { defaultClaudeBin } from '../shared/version.ts';

/** Where an agent finds its socket, state and claude. */
export interface AgentEnv {
  socket: string;
  stateDir: string;
  claudeDir: string;
  claudeBin: string;
  pageHost: string;
  /** The manager's `/agents` (every agent's proposed config repo), or null. */
  agentsDir: string | null;
  /** Exit when stdin ends: the process runtime's way of tying the agent's life to the core's. */
  exitWithCore: boolean;
  /** Environment handed on to claude (credentials, PATH, proxies). */
  passEnv: Record<string, string>;
}

const PASS = ['PATH', 'LANG', 'TZ', 'TMPDIR', 'HOME', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN',
  'CLAUDE_CODE_OAUTH_TOKEN', 'HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY'];

/** Reads agent mode's environment. */
export function loadAgentEnv(env: Record<string, string | undefined> = process.env): AgentEnv {
  const passEnv: Record<string, string> = {};
  for (const k of PASS) if (env[k]) passEnv[k] = env[k]!;
  return {
    socket: env.HIVE_SOCKET || '/run/hive/mcp.sock',
    stateDir: env.HIVE_STATE_DIR || '/state',
    claudeDir: env.CLAUDE_CONFIG_DIR || join(env.HOME || homedir(), '.claude'),
    claudeBin: defaultClaudeBin(env),
    pageHost: env.HIVE_PAGE_HOST || '127.0.0.1',
    exitWithCore: env.HIVE_EXIT_WITH_CORE === '1',
    agentsDir: env.HIVE_AGENTS_DIR || null,
    passEnv,
  };
}
