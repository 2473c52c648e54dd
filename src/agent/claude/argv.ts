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

/** Key of the hive's own MCP server in the config; its tools are `mcp__hyperhive__<tool>`. */
export const HIVE_MCP_KEY = 'hyperhive';

/** One stdio MCP server entry, as Claude Code's `--mcp-config` reads it. */
export interface McpServerEntry {
  type: 'stdio';
  command: string;
  args: string[];
  env?: Record<string, string>;
}

/**
 * The `--mcp-config` document naming `hive mcp` (and any extra servers).
 * @param self the command that runs this hive binary, e.g. `[bun, /…/src/main.ts]`.
 * @param socket the agent's socket, handed to `hive mcp` as `HIVE_SOCKET`.
 */
export function renderMcpConfig(self: string[], socket: string): { mcpServers: Record<string, McpServerEntry> } {
  const [command, ...args] = self;
  return {
    mcpServers: {
      [HIVE_MCP_KEY]: { type: 'stdio', command: command!, args: [...args, 'mcp'], env: { HIVE_SOCKET: socket } },
    },
  };
}

/** Claude Code's built-in tools an agent may use unattended by default: files and a shell. */
export const DEFAULT_BUILTIN_TOOLS = ['Read', 'Write', 'Edit', 'Glob', 'Grep', 'Bash'] as const;

/**
 * The `--allowedTools` entries of an agent: every tool of the hive's own MCP server plus the
 * default built-ins (so the agent can keep its notes and work in its sandbox).
 */
export function hiveAllowedTools(): string[] {
  return [`mcp__${HIVE_MCP_KEY}__*`, ...DEFAULT_BUILTIN_TOOLS];
}

/** Inputs of one claude run. */
export interface ClaudeInvocation {
  claudeBin: string;
  model: string;
  /** The wake prompt (user turn). */
  prompt: string;
  /** Appended to claude's system prompt: who the agent is and how it works. */
  systemPrompt: string;
  mcpConfigPath: string;
  allowedTools: string[];
  /** The conversation: a new session with this id, or a resume of it. */
  session: { id: string; resume: boolean };
}

/** The argv for one headless turn, prompt last after `--`. */
export function buildClaudeArgv(inv: ClaudeInvocation): string[] {
  return [
    inv.claudeBin,
    '-p',
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
    ...(inv.session.resume ? ['--resume', inv.session.id] : ['--session-id', inv.session.id]),
    '--',
    inv.prompt,
  ];
}

/**
 * The environment claude runs with: the passthrough credentials plus the settings that keep a
 * headless run quiet and its MCP tools visible.
 */
export function claudeEnv(base: Record<string, string | undefined>, claudeDir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  return {
    ...env,
    CLAUDE_CONFIG_DIR: claudeDir,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    ENABLE_TOOL_SEARCH: 'false',
  };
}
