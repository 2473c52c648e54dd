/**
 * @module core/configs/agent-configs
 * Reads each agent's `agent.toml` from its config dir and keeps the last valid one in memory. The
 * core reads it when the agent starts (so a change takes effect on restart) and consults the cached
 * copy for send policy. A missing file is the default config; an unreadable or invalid one is an
 * error naming the file and the field.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { DEFAULT_AGENT_CONFIG, parseAgentConfig, type LoadedAgentConfig } from '../../shared/agent-config.ts';
import { HiveError } from '../../shared/errors.ts';
import { MANAGER } from '../../shared/names.ts';
import type { DataLayout } from '../../shared/paths.ts';

/** The agents' configs, as last read. */
export class AgentConfigs {
  private cache = new Map<string, LoadedAgentConfig>();

  constructor(private readonly layout: DataLayout) {}

  /**
   * Reads and validates the agent's `agent.toml` (the default config when there is none) and
   * remembers it.
   * @throws HiveError `bad_config` naming the file, and the line or field at fault.
   */
  load(name: string): LoadedAgentConfig {
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

  /** Drops the cached config (after destroy). */
  forget(name: string): void {
    this.cache.delete(name);
  }
}
