/**
 * @module claude/argv
 * Builds the `claude` command line and MCP config for one turn. Facts about the CLI that this
 * relies on (checked against the pinned version, see docs/pitfalls.md):
 * - `--output-format stream-json` requires `--verbose` in print mode.
 * - `--allowedTools` and `--mcp-config` take several values, so `--` must precede the prompt.
 * - `--resume <uuid>` needs `--mcp-config` again; `--session-id` takes a UUID for a new session.
 * - With a custom `ANTHROPIC_BASE_URL`, `ENABLE_TOOL_SEARCH=false` keeps MCP tools visible to the
 *   model instead of behind a search tool.
 */
import {
  DEFAULT_BUILTIN_TOOLS,
  HIVE_MCP_KEY,
  partitionExtraServers,
  type AgentConfig,
  type ExtraMcpServer,
} from '../../shared/agent-config-shape.ts';

/** One stdio MCP server entry, as Claude Code's `--mcp-config` reads it: claude starts the command. */
export interface McpStdioEntry {
  type: 'stdio';
  command: string;
  args: string[];
  env?: Record<string, string>;
}

/** One Streamable HTTP MCP server entry, as Claude Code's `--mcp-config` reads it: claude connects to `url`. */
export interface McpHttpEntry {
  type: 'http';
  url: string;
  headers?: Record<string, string>;
}

/** One server of the `--mcp-config` document. */
export type McpServerEntry = McpStdioEntry | McpHttpEntry;

/**
 * The hive's own server as the endpoint the harness serves (`src/mcp/http.ts`): claude connects to
 * `url` with `Authorization: Bearer <token>`; nothing is started per turn.
 * @param url e.g. `http://127.0.0.1:41234/mcp`.
 */
export function httpHiveServer(url: string, token: string): McpHttpEntry {
  return { type: 'http', url, headers: { Authorization: `Bearer ${token}` } };
}

/**
 * The hive's own server as `hive mcp` over stdio, which claude starts on every turn (the fallback
 * when the harness has no HTTP endpoint).
 * @param self the command that runs this hive binary, e.g. `[bun, /…/src/main.ts]`.
 * @param socket the agent's socket, handed to `hive mcp` as `HIVE_SOCKET`.
 * @param role `manager` makes `hive mcp` offer the manager's tools too (`HIVE_ROLE`).
 */
export function stdioHiveServer(self: string[], socket: string, role: string): McpStdioEntry {
  const [command, ...args] = self;
  return { type: 'stdio', command: command!, args: [...args, 'mcp'], env: { HIVE_SOCKET: socket, HIVE_ROLE: role } };
}

/**
 * The `--mcp-config` document: the hive's server (see {@link httpHiveServer},
 * {@link stdioHiveServer}) under {@link HIVE_MCP_KEY}, then the agent's extra servers (stdio, as
 * `agent.toml` gives them). An extra server keyed like the hive's own is dropped, with a warning.
 */
export function renderMcpConfig(
  hive: McpServerEntry,
  extra: Record<string, ExtraMcpServer> = {},
): { config: { mcpServers: Record<string, McpServerEntry> }; warnings: string[] } {
  const { kept, warnings } = partitionExtraServers(extra);
  const mcpServers: Record<string, McpServerEntry> = { [HIVE_MCP_KEY]: hive };
  for (const [key, s] of Object.entries(kept)) {
    mcpServers[key] = { type: 'stdio', command: s.command, args: s.args, ...(Object.keys(s.env).length ? { env: s.env } : {}) };
  }
  return { config: { mcpServers }, warnings };
}

/**
 * The `--allowedTools` entries of an agent: every tool of the hive's own MCP server; the config's
 * built-in tool patterns (default {@link DEFAULT_BUILTIN_TOOLS}, so the agent can keep its notes);
 * and `mcp__<key>__<tool>` for each allowed tool of each extra server (`*` = all its tools).
 */
export function allowedToolsFor(config: Pick<AgentConfig, 'allowedTools' | 'extraMcpServers'>): string[] {
  const out = [`mcp__${HIVE_MCP_KEY}__*`, ...(config.allowedTools ?? DEFAULT_BUILTIN_TOOLS)];
  const { kept } = partitionExtraServers(config.extraMcpServers);
  for (const [key, s] of Object.entries(kept)) for (const t of s.allowedTools) out.push(`mcp__${key}__${t}`);
  return out;
}

/** Inputs of one claude run. */
export interface ClaudeInvocation {
  claudeBin: string;
  model: string;
  /**
   * The prompt, last after `--`; or null for a turn's claude, which reads its prompt on stdin as a
   * stream-json user message (`--input-format stream-json`, see `run.ts`).
   */
  prompt: string | null;
  /** Appended to claude's system prompt: who the agent is and how it works. */
  systemPrompt: string;
  mcpConfigPath: string;
  allowedTools: string[];
  /** The conversation: a new session with this id, or a resume of it. */
  session: { id: string; resume: boolean };
  /** Directories besides the working dir that tools may write (the manager's proposed repos). */
  addDirs?: string[];
}

/** The argv for one headless run: the prompt last after `--`, or stream-json input when it is null. */
export function buildClaudeArgv(inv: ClaudeInvocation): string[] {
  return [
    inv.claudeBin,
    '-p',
    ...(inv.prompt === null ? ['--input-format', 'stream-json'] : []),
    '--output-format',
    'stream-json',
    '--verbose',
    '--model',
    inv.model,
    '--permission-mode',
    'dontAsk',
    '--mcp-config',
    inv.mcpConfigPath,
    '--strict-mcp-config',
    '--allowedTools',
    ...inv.allowedTools,
    '--append-system-prompt',
    inv.systemPrompt,
    ...(inv.addDirs ?? []).flatMap((d) => ['--add-dir', d]),
    ...(inv.session.resume ? ['--resume', inv.session.id] : ['--session-id', inv.session.id]),
    ...(inv.prompt === null ? [] : ['--', inv.prompt]),
  ];
}

/**
 * A stand-in API key claude is given so it starts without logging in. It is not a secret: the
 * model gateway drops it and adds the operator's real credentials on the host side.
 */
export const GATEWAY_PLACEHOLDER_KEY = 'hive-gateway';

/** How claude reaches the world: the model gateway's socket and, for its tools, the egress proxy. */
export interface ClaudeNetwork {
  /** The model gateway's unix socket. */
  modelSocket: string;
  /** The loopback port of the harness's egress forwarder, or null when there is none. */
  proxyPort: number | null;
}

/**
 * The environment claude runs with: `base` (locale, PATH, home), the model gateway, the egress
 * proxy for its tools, and the settings that keep a headless run quiet and its MCP tools visible.
 * `ANTHROPIC_UNIX_SOCKET` with `ANTHROPIC_BASE_URL=http://localhost` makes claude send its API
 * requests over the socket (checked with claude 2.1.329 in an empty network namespace). Loopback
 * is kept off the proxy, so the proxy variables never capture the model traffic.
 */
export function claudeEnv(base: Record<string, string | undefined>, claudeDir: string, net: ClaudeNetwork): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  const proxy = net.proxyPort ? `http://127.0.0.1:${net.proxyPort}` : null;
  return {
    ...env,
    ANTHROPIC_UNIX_SOCKET: net.modelSocket,
    ANTHROPIC_BASE_URL: 'http://localhost',
    ANTHROPIC_API_KEY: GATEWAY_PLACEHOLDER_KEY,
    ...(proxy ? { HTTPS_PROXY: proxy, HTTP_PROXY: proxy, https_proxy: proxy, http_proxy: proxy, NO_PROXY: 'localhost,127.0.0.1,::1', no_proxy: 'localhost,127.0.0.1,::1' } : {}),
    CLAUDE_CONFIG_DIR: claudeDir,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    ENABLE_TOOL_SEARCH: 'false',
  };
}
