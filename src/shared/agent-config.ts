/**
 * @module agent-config
 * An agent's config file, `agent.toml`, in its config dir (`<data>/agents/<name>/config/`). TOML
 * (parsed with smol-toml, which reports the line and column of a syntax error) so the operator and
 * the manager can comment what they change. The file is validated against {@link AgentConfigSchema};
 * an invalid file is refused with a message naming the field, and the agent does not start with it.
 * Every option, with its default, is documented in `docs/agent-config.md`.
 *
 * ```toml
 * model = "sonnet"                              # default: the core's --model (haiku)
 * allowedRecipients = ["manager", "alice"]      # default: unrestricted
 * allowedTools = ["Read", "Edit", "Bash(git *)"] # default: Read Write Edit Glob Grep Bash
 * prompt = "You review alice's patches."        # default: none
 * models = ["haiku", "claude-sonnet-4-5"]       # default: any model
 * upstream = "http://127.0.0.1:8080"            # default: the core's model upstream
 * env = { LANG = "C.UTF-8" }                    # default: none; not for secrets
 * mounts = [{ host = "/srv/data", at = "/data" }] # default: none; readOnly defaults to true
 * shared = false                                # default: true (/shared, the hive-wide directory)
 * packages = ["jq", "python3"]                  # default: none (the hive's base image)
 *
 * [budget]                                      # default: no limit
 * dailyUsd = 5
 * monthlyUsd = 50
 *
 * [network]
 * allow = ["api.github.com", "*.example.org"]   # default: none (no egress)
 *
 * [notes]
 * compactAt = 65536                             # default: never compacted automatically
 * keep = 5                                      # default: 5 previous versions kept
 *
 * [extraMcpServers.matrix]
 * command = "/usr/local/bin/matrix-mcp"
 * args = ["--room", "#ops"]
 * env = { MATRIX_TOKEN_FILE = "/state/matrix-token" }
 * allowedTools = ["send_message"]               # default: ["*"]
 * ```
 */
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { parse as parseToml, TomlError } from 'smol-toml';
import { createHash } from 'node:crypto';
import { HiveError } from './errors.ts';
import { isAddress } from './names.ts';
import { allowEntryProblem } from './egress.ts';
import { absolutePathProblem, envNameProblem, MAX_ENV_TOTAL, MAX_ENV_VALUE, MAX_ENV_VARS, MAX_MOUNT_PATH, MAX_MOUNTS, mountTargetProblem, pathsOverlap } from './sandbox-options.ts';
import {
  AGENT_CONFIG_FILE,
  DEFAULT_NOTES_KEEP,
  MAX_NOTES_COMPACT_AT,
  MAX_NOTES_KEEP,
  MIN_NOTES_COMPACT_AT,
  ModelName,
  partitionExtraServers,
  type AgentMount,
  type ExtraMcpServer,
  type LoadedAgentConfig,
} from './agent-config-shape.ts';

export * from './agent-config-shape.ts';


/**
 * A Claude Code `--allowedTools` entry: a tool name, optionally with a rule in parentheses, e.g.
 * `Read`, `Bash(git *)`, `WebFetch(domain:example.com)` (grammar per the Claude Code permissions
 * docs, https://docs.claude.com/en/docs/claude-code/iam#tool-specific-permission-rules).
 */
const ToolPattern = Type.String({
  pattern: '^[A-Za-z][A-Za-z0-9_]*(\\([^()]*\\))?$',
  maxLength: 200,
  description: 'a tool name, optionally with a rule in parentheses, like Read or Bash(git *)',
});
/** A tool name (or `*`) of an extra MCP server; becomes `mcp__<key>__<tool>`. */
const McpToolPattern = Type.String({
  pattern: '^(\\*|[A-Za-z0-9_-]+\\*?)$',
  maxLength: 128,
  description: 'a tool name of that server, a name prefix ending in *, or *',
});

/**
 * What `packages` entries may look like before the runtime checks them as its own kind of name:
 * Debian package names (`core/images/recipe.ts`) or nixpkgs attribute paths (`nixos-container.ts`).
 */
const PACKAGE_NAME = "^[A-Za-z0-9_][A-Za-z0-9_+.'-]*$";
/** The most packages an agent's config may list. */
export const MAX_PACKAGES = 256;

/** Key of an extra MCP server: it becomes part of tool names, so the MCP name alphabet only. */
const ServerKey = '^[A-Za-z0-9_-]{1,64}$';

/** One extra stdio MCP server for an agent. */
export const ExtraMcpServerSchema = Type.Object(
  {
    command: Type.String({ minLength: 1, maxLength: 4096, description: 'an executable: an absolute path, or a bare name looked up on PATH' }),
    args: Type.Optional(Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 256 })),
    env: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), Type.String({ maxLength: 16384 }))),
    allowedTools: Type.Optional(Type.Array(McpToolPattern, { minItems: 1, maxItems: 256 })),
  },
  { additionalProperties: false },
);

/** One host directory (or file) bound into the sandbox; see `sandbox-options.ts`. */
export const MountSchema = Type.Object(
  {
    host: Type.String({ minLength: 1, maxLength: MAX_MOUNT_PATH, description: 'an absolute host path under a directory the operator allows (--allow-mount)' }),
    at: Type.String({ minLength: 1, maxLength: MAX_MOUNT_PATH, description: 'an absolute path inside the sandbox' }),
    readOnly: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

/** A USD amount for a budget: non-negative, at most a million. */
const Usd = Type.Number({ minimum: 0, maximum: 1_000_000, description: 'an amount in USD, like 5 or 0.5' });

/** The schema of `agent.toml`. Every field is optional; see the module comment for defaults. */
export const AgentConfigSchema = Type.Object(
  {
    model: Type.Optional(ModelName),
    models: Type.Optional(Type.Array(ModelName, { minItems: 1, maxItems: 64 })),
    upstream: Type.Optional(Type.String({ maxLength: 2048, description: 'an http(s) URL of an Anthropic-compatible API' })),
    budget: Type.Optional(Type.Object({ dailyUsd: Type.Optional(Usd), monthlyUsd: Type.Optional(Usd) }, { additionalProperties: false })),
    network: Type.Optional(
      Type.Object({ allow: Type.Optional(Type.Array(Type.String({ maxLength: 300 }), { maxItems: 256 })) }, { additionalProperties: false }),
    ),
    notes: Type.Optional(
      Type.Object(
        {
          compactAt: Type.Optional(
            Type.Integer({
              minimum: MIN_NOTES_COMPACT_AT,
              maximum: MAX_NOTES_COMPACT_AT,
              description: `a size in bytes, from ${MIN_NOTES_COMPACT_AT} to ${MAX_NOTES_COMPACT_AT}`,
            }),
          ),
          keep: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_NOTES_KEEP, description: `a count from 1 to ${MAX_NOTES_KEEP}` })),
        },
        { additionalProperties: false },
      ),
    ),
    allowedRecipients: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 1000 })),
    allowedTools: Type.Optional(Type.Array(ToolPattern, { maxItems: 256 })),
    extraMcpServers: Type.Optional(Type.Record(Type.String(), ExtraMcpServerSchema)),
    prompt: Type.Optional(Type.String({ maxLength: 16384 })),
    env: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: MAX_ENV_VALUE }))),
    mounts: Type.Optional(Type.Array(MountSchema, { maxItems: MAX_MOUNTS })),
    shared: Type.Optional(Type.Boolean()),
    packages: Type.Optional(
      Type.Array(
        Type.String({
          pattern: PACKAGE_NAME,
          maxLength: 128,
          description: 'a package name: a Debian package like ripgrep or python3, or on NixOS a nixpkgs attribute like python3Packages.requests',
        }),
        { maxItems: MAX_PACKAGES },
      ),
    ),
  },
  { additionalProperties: false },
);
export type AgentConfigFile = Static<typeof AgentConfigSchema>;
const check = TypeCompiler.Compile(AgentConfigSchema);


/**
 * Parses and validates the text of an `agent.toml`.
 * @param source the file's name for messages, e.g. `agents/alice/config/agent.toml`.
 * @throws HiveError `bad_config` naming the line (syntax) or the field (schema) at fault.
 */
export function parseAgentConfig(text: string, source = AGENT_CONFIG_FILE): LoadedAgentConfig {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = err.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
      throw new HiveError('bad_config', `${source}: line ${err.line}, column ${err.column}: ${reason}`);
    }
    throw new HiveError('bad_config', `${source}: ${(err as Error).message}`);
  }
  if (!check.Check(raw)) {
    const first = check.Errors(raw).First()!;
    const field = first.path.replace(/^\//, '').replace(/\//g, '.') || '(top level)';
    const described = first.schema.description as string | undefined;
    const message =
      first.message === 'Unexpected property'
        ? 'is not a known option (see docs/agent-config.md)'
        : first.message === 'Expected required property'
          ? 'is required'
          : described && (first.message.startsWith('Expected string to match') || first.message.startsWith('Expected integer'))
            ? `must be ${described}`
            : first.message.replace(/^Expected/, 'expected');
    throw new HiveError('bad_config', `${source}: ${field}: ${message}`);
  }
  const file = raw as AgentConfigFile;
  const fail = (field: string, why: string): never => {
    throw new HiveError('bad_config', `${source}: ${field}: ${why}`);
  };
  const recipients = file.allowedRecipients ?? null;
  recipients?.forEach((r, i) => {
    if (!isAddress(r)) fail(`allowedRecipients.${i}`, `"${r}" is not an agent name, "manager" or "operator", or one of those @hive for another hive of a federation`);
    if (recipients.indexOf(r) !== i) fail(`allowedRecipients.${i}`, `"${r}" is listed twice`);
  });
  const extra: Record<string, ExtraMcpServer> = {};
  for (const [key, s] of Object.entries(file.extraMcpServers ?? {})) {
    if (!new RegExp(ServerKey).test(key)) fail(`extraMcpServers.${key}`, 'the key must be 1-64 characters of A-Z, a-z, 0-9, "_" and "-"');
    // a relative path would resolve against whatever directory the server is started in
    if (s.command.includes('/') && !s.command.startsWith('/'))
      fail(`extraMcpServers.${key}.command`, `"${s.command}" is a relative path; give an absolute path, or a bare name to look up on PATH`);
    extra[key] = { command: s.command, args: s.args ?? [], env: s.env ?? {}, allowedTools: s.allowedTools ?? ['*'] };
  }
  if (file.upstream !== undefined) {
    let url: URL | null = null;
    try {
      url = new URL(file.upstream);
    } catch {
      // not a URL at all: reported just below, with the other ways it can be wrong
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) fail('upstream', `"${file.upstream}" is not an http(s) URL, e.g. "http://127.0.0.1:8080"`);
    if (url!.username || url!.password) fail('upstream', 'must not carry credentials; the endpoint is called without the operator\'s key');
  }
  const allow = file.network?.allow ?? [];
  allow.forEach((entry, i) => {
    const problem = allowEntryProblem(entry);
    if (problem) fail(`network.allow.${i}`, problem);
    if (allow.indexOf(entry) !== i) fail(`network.allow.${i}`, `"${entry}" is listed twice`);
  });
  const env = file.env ?? {};
  const names = Object.keys(env);
  if (names.length > MAX_ENV_VARS) fail('env', `${names.length} variables; the limit is ${MAX_ENV_VARS}`);
  let total = 0;
  for (const [k, v] of Object.entries(env)) {
    const problem = envNameProblem(k);
    if (problem) fail(`env.${k}`, problem);
    if (v.includes('\0')) fail(`env.${k}`, 'holds a NUL character, which no environment variable can carry');
    total += k.length + v.length;
  }
  if (total > MAX_ENV_TOTAL) fail('env', `its names and values come to ${total} characters; the limit is ${MAX_ENV_TOTAL}`);
  const mounts: AgentMount[] = (file.mounts ?? []).map((m, i) => {
    const hostProblem = absolutePathProblem(m.host) ?? (m.host === '/' ? 'cannot be "/"; name the directory to share' : null);
    if (hostProblem) fail(`mounts.${i}.host`, hostProblem);
    const atProblem = mountTargetProblem(m.at);
    if (atProblem) fail(`mounts.${i}.at`, atProblem);
    return { host: m.host, at: m.at, readOnly: m.readOnly ?? true };
  });
  mounts.forEach((m, i) => {
    const j = mounts.findIndex((o) => pathsOverlap(o.at, m.at));
    if (j !== i) fail(`mounts.${i}.at`, `"${m.at}" ${m.at === mounts[j]!.at ? 'is' : 'overlaps'} mounts.${j}.at ("${mounts[j]!.at}"); each mount needs a place of its own`);
  });
  const { warnings } = partitionExtraServers(extra);
  return {
    config: {
      model: file.model ?? null,
      allowedRecipients: recipients,
      allowedTools: file.allowedTools ?? null,
      extraMcpServers: extra,
      prompt: file.prompt?.trim() ?? '',
      models: file.models ?? null,
      upstream: file.upstream ?? null,
      budget: { ...file.budget },
      network: { allow },
      env: { ...env },
      mounts,
      shared: file.shared ?? true,
      packages: [...new Set(file.packages ?? [])].sort(),
      notes: { compactAt: file.notes?.compactAt ?? null, keep: file.notes?.keep ?? DEFAULT_NOTES_KEEP },
    },
    warnings,
    hash: createHash('sha256').update(text).digest('hex'),
  };
}

/**
 * The commented `agent.toml` a new agent starts with: every option shown with its default, all
 * commented out, so the file documents itself.
 */
export function defaultAgentConfigText(name: string): string {
  return `# agent.toml of ${name}: options and defaults are in docs/agent-config.md.
# Unset options take their defaults; a change takes effect when the agent restarts.

# Model for every turn (default: the core's --model).
# model = "haiku"

# Who this agent may send to or ask, besides the manager (default: anyone).
# allowedRecipients = ["manager", "operator"]

# Claude Code built-in tools allowed without asking (default: Read Write Edit Glob Grep Bash).
# allowedTools = ["Read", "Write", "Edit", "Glob", "Grep", "Bash(git *)"]

# Extra instructions appended to the system prompt (default: none).
# prompt = """
# You review patches for the team.
# """

# Models the model gateway lets this agent use (default: any).
# models = ["haiku", "sonnet"]

# An Anthropic-compatible API for this agent instead of the core's (default: the core's).
# It is called without the operator's credentials.
# upstream = "http://127.0.0.1:8080"

# Environment variables for this agent's harness, claude and its tools (default: none).
# Not for secrets: the config is readable by the manager. Names the hive sets itself
# (HIVE_*, ANTHROPIC_*, CLAUDE_*, *_PROXY, PATH, HOME, ...) are refused.
# env = { LANG = "C.UTF-8" }

# Host paths bound into the sandbox, under a directory the operator allows with
# hive core serve --allow-mount DIR (default: none). readOnly defaults to true.
# mounts = [{ host = "/srv/data", at = "/data", readOnly = true }]

# The hive-wide directory /shared, read-write, shared with every agent (default: true).
# shared = false

# Programs this agent needs besides the base image (bash, coreutils, git, curl, CA certificates):
# Debian package names, installed into a read-only root filesystem built when the change is
# deployed (on NixOS hosts: nixpkgs attribute names). Default: none.
# packages = ["jq", "ripgrep", "python3"]

# Spending limits in USD per UTC day and month, enforced by the model gateway (default: none).
# [budget]
# dailyUsd = 5
# monthlyUsd = 50

# Hosts this agent's tools may reach over HTTP(S), through the core's egress proxy
# (default: none; the sandbox has no other network).
# [network]
# allow = ["api.github.com", "*.example.org"]

# Rewrite /state/notes.md compactly after a turn once it passes compactAt bytes, keeping
# the previous versions in /state/.hive/notes/ (default: only when the operator asks).
# [notes]
# compactAt = 65536
# keep = 5

# Extra MCP servers; their tools appear as mcp__<key>__<tool>.
# [extraMcpServers.example]
# command = "/usr/local/bin/example-mcp"
# args = []
# env = {}
# allowedTools = ["*"]
`;
}
