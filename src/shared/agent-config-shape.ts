/**
 * @module agent-config-shape
 * The shape of an agent's config (`agent.toml`) once parsed: its types, defaults and limits, without
 * the parser. The harness, the wire schemas and the MCP server need only this; the TOML parser and
 * the schema check live in `agent-config.ts`, which re-exports everything here.
 */
import { Type } from '@sinclair/typebox';

/** Name of the config file inside an agent's config dir. */
export const AGENT_CONFIG_FILE = 'agent.toml';

/** Key of the hive's own MCP server; its tools are `mcp__hyperhive__<tool>`. Extra servers may not use it. */
export const HIVE_MCP_KEY = 'hyperhive';

/** Claude Code's built-in tools an agent may use unattended when its config names none. */
export const DEFAULT_BUILTIN_TOOLS: readonly string[] = ['Read', 'Write', 'Edit', 'Glob', 'Grep', 'Bash'];

/** A Claude model name or alias, as `claude --model` takes it. */
export const ModelName = Type.String({
  pattern: '^[A-Za-z0-9][A-Za-z0-9._:\\[\\]-]*$',
  maxLength: 100,
  description: 'a model name or alias, like haiku or claude-sonnet-4-5',
});
/** The smallest `notes.compactAt`, bytes: below it a rewrite would cost more than it saves. */
export const MIN_NOTES_COMPACT_AT = 1024;
/** The largest `notes.compactAt`, bytes (1 MiB): the whole of the notes goes into one model request. */
export const MAX_NOTES_COMPACT_AT = 1024 * 1024;
/** How many previous versions of `notes.md` a compaction keeps when `notes.keep` is not set. */
export const DEFAULT_NOTES_KEEP = 5;
/** The most previous versions `notes.keep` may ask for. */
export const MAX_NOTES_KEEP = 100;

/** One extra MCP server with its defaults filled in. */
export interface ExtraMcpServer {
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Tool names or patterns; `*` means every tool of the server. */
  allowedTools: string[];
}

/** A mount with its default filled in: `host` bound at `at`, read-only unless `readOnly` is false. */
export interface AgentMount {
  /** Absolute host path, as written (the core resolves symlinks when it checks and binds it). */
  host: string;
  /** Absolute path inside the sandbox. */
  at: string;
  readOnly: boolean;
}

/** An agent's config with defaults applied (`null` = the field was not set). */
export interface AgentConfig {
  /** Model for every turn; `null` = the core's default. */
  model: string | null;
  /** Who the agent may `send`/`ask` to besides the manager; `null` = anyone. */
  allowedRecipients: string[] | null;
  /** Claude built-in tool patterns; `null` = {@link DEFAULT_BUILTIN_TOOLS}. */
  allowedTools: string[] | null;
  extraMcpServers: Record<string, ExtraMcpServer>;
  /** Extra instructions appended to the agent's system prompt. */
  prompt: string;
  /** Models the gateway lets the agent use; `null` = any. */
  models: string[] | null;
  /** The agent's own Anthropic-compatible API base URL; `null` = the core's upstream. */
  upstream: string | null;
  /** Spending limits the gateway enforces, USD per UTC day and month; absent = unlimited. */
  budget: { dailyUsd?: number; monthlyUsd?: number };
  /** Hosts the agent's tools may reach through the egress proxy (see `egress.ts`); empty = none. */
  network: { allow: string[] };
  /** Variables for the harness, claude and its tools (names checked by `sandbox-options.ts`); not secret. */
  env: Record<string, string>;
  /** Host paths bound into the sandbox; empty = none. */
  mounts: AgentMount[];
  /** Whether the hive-wide `/shared` directory is in the sandbox (default true). */
  shared: boolean;
  /**
   * Packages the agent's root filesystem has besides the hive's base: Debian package names on a
   * Debian or Ubuntu host (`core/images/`), nixpkgs attribute names under `nixos-container`;
   * sorted, without duplicates. Empty = the base image.
   */
  packages: string[];
  /**
   * Notes compaction (`agent/notes.ts`): `compactAt` is the size of `notes.md` in bytes past which
   * the harness rewrites it after a turn (`null` = only when the operator asks); `keep` is how many
   * previous versions it keeps.
   */
  notes: { compactAt: number | null; keep: number };
}

/** The config of an agent with no `agent.toml`. */
export const DEFAULT_AGENT_CONFIG: AgentConfig = Object.freeze({
  model: null,
  allowedRecipients: null,
  allowedTools: null,
  extraMcpServers: {},
  prompt: '',
  models: null,
  upstream: null,
  budget: {},
  network: { allow: [] },
  env: {},
  mounts: [],
  shared: true,
  packages: [],
  notes: { compactAt: null, keep: DEFAULT_NOTES_KEEP },
});

/** A parsed config, the warnings the operator should see, and a hash of the file's text. */
export interface LoadedAgentConfig {
  config: AgentConfig;
  warnings: string[];
  /** sha256 of the file text (`''` when there is no file); tells a changed config from the same one. */
  hash: string;
}

/**
 * Splits extra MCP servers into those that may run and warnings for those that may not: a server
 * keyed like the hive's own ({@link HIVE_MCP_KEY}) would shadow the built-in tools, so it is dropped.
 */
export function partitionExtraServers(servers: Record<string, ExtraMcpServer>): { kept: Record<string, ExtraMcpServer>; warnings: string[] } {
  const kept: Record<string, ExtraMcpServer> = {};
  const warnings: string[] = [];
  for (const [key, server] of Object.entries(servers)) {
    if (key === HIVE_MCP_KEY) warnings.push(`extraMcpServers.${key} was dropped: "${HIVE_MCP_KEY}" is the hive's own MCP server and cannot be replaced`);
    else kept[key] = server;
  }
  return { kept, warnings };
}
