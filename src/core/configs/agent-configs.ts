/**
 * @module core/configs/agent-configs
 * Reads each agent's `agent.toml` from its config dir and keeps the last valid one in memory. The
 * core reads it when the agent starts (so a change takes effect on restart) and consults the cached
 * copy for send policy. A missing file is the default config; an unreadable or invalid one is an
 * error naming the file and the field.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { DEFAULT_AGENT_CONFIG, parseAgentConfig, type AgentConfig, type LoadedAgentConfig } from '../../shared/agent-config.ts';
import { HiveError } from '../../shared/errors.ts';
import { MANAGER } from '../../shared/names.ts';
import type { DataLayout } from '../../shared/paths.ts';

/** The agents' configs, as last read. */
export class AgentConfigs {
  private cache = new Map<string, LoadedAgentConfig>();
  /** Configs that come from no file (a peer's, from what the operator gave when adding it). */
  private pinned = new Map<string, LoadedAgentConfig>();

  constructor(private readonly layout: DataLayout) {}

  /**
   * Reads and validates the agent's `agent.toml` (the default config when there is none) and
   * remembers it. A pinned config (see {@link pin}) is returned as it is; no file is read.
   * @throws HiveError `bad_config` naming the file, and the line or field at fault.
   */
  load(name: string): LoadedAgentConfig {
    const fixed = this.pinned.get(name);
    if (fixed) return fixed;
    const file = this.layout.agent(name).configFile;
    const label = relative(this.layout.dataDir, file);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new HiveError('bad_config', `${label}: cannot be read: ${(err as Error).message}`);
      const loaded = { config: DEFAULT_AGENT_CONFIG, warnings: [], hash: '' };
      this.cache.set(name, loaded);
      return loaded;
    }
    const loaded = parseAgentConfig(text, label);
    if (name === MANAGER && loaded.config.allowedRecipients)
      loaded.warnings.push('allowedRecipients is ignored for the manager, which may always send anywhere');
    this.cache.set(name, loaded);
    return loaded;
  }

  /**
   * The agent's config as last loaded, reading it now if it never was.
   * @throws HiveError `bad_config` when it must be read and is invalid.
   */
  get(name: string): LoadedAgentConfig {
    return this.cache.get(name) ?? this.load(name);
  }

  /**
   * Gives `name` a config that no file holds, used until {@link forget}: a peer's, which has no
   * config repo.
   */
  pin(name: string, loaded: LoadedAgentConfig): void {
    this.pinned.set(name, loaded);
    this.cache.set(name, loaded);
  }

  /** Drops the cached (or pinned) config (after destroy, or a peer's removal). */
  forget(name: string): void {
    this.cache.delete(name);
    this.pinned.delete(name);
  }
}

/**
 * Where `command` resolves: itself when it holds a slash (and is an absolute path to an executable
 * file), else the first executable `<dir>/<command>` on `PATH`. Null when it does not resolve; a
 * relative path with a slash never resolves.
 */
export function findExecutable(command: string, PATH: string): string | null {
  const ok = (p: string) => {
    try {
      accessSync(p, constants.X_OK);
      return statSync(p).isFile();
    } catch {
      return false; // missing, not executable, or unreachable: all mean "not a command to run"
    }
  };
  if (command.includes('/')) return isAbsolute(command) && ok(command) ? command : null;
  for (const dir of PATH.split(':')) if (dir && ok(join(dir, command))) return join(dir, command);
  return null;
}

/**
 * Checks that each extra MCP server's `command` is an executable file: an absolute path, or a bare
 * name found on `PATH`. Run when a proposal is checked and again at every deploy and rebuild,
 * whether the agent is running or not.
 * @param source prefixes messages, e.g. `/agents/alice/config@3f9c1e2a7b4d:agent.toml`.
 * @returns each server's key and the file it resolves to.
 * @throws HiveError `bad_config` naming the field, e.g.
 *   `extraMcpServers.chat.command: "/opt/chat" is not an executable file`.
 */
export function checkExtraMcpServers(config: Pick<AgentConfig, 'extraMcpServers'>, PATH: string, source?: string): Array<{ key: string; path: string }> {
  const out: Array<{ key: string; path: string }> = [];
  for (const [key, server] of Object.entries(config.extraMcpServers)) {
    const field = `${source ? `${source}: ` : ''}extraMcpServers.${key}.command`;
    const cmd = server.command;
    if (cmd.includes('/') && !isAbsolute(cmd))
      throw new HiveError('bad_config', `${field}: "${cmd}" is a relative path; give an absolute path, or a bare name to look up on PATH`);
    const found = findExecutable(cmd, PATH);
    if (!found) throw new HiveError('bad_config', `${field}: "${cmd}" is not an executable file${cmd.includes('/') ? '' : ' on PATH'}`);
    out.push({ key, path: found });
  }
  return out;
}
