/**
 * @module core/agents/kept
 * Kept state: what a destroyed agent leaves on disk (its state, claude and config dirs), so that
 * spawning the same name brings it back with its memory, until the operator purges it.
 */
import { readdirSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { HiveError } from '../../shared/errors.ts';
import { isAgentName, validateAgentName } from '../../shared/names.ts';
import type { DataLayout } from '../../shared/paths.ts';
import type { Drafts } from '../approvals/drafts.ts';
import type { EventBus } from '../bus.ts';
import type { AgentConfigs } from '../configs/agent-configs.ts';
import { assertInside, lexists, removeNoFollow } from '../data-dir.ts';
import type { Registry } from './registry.ts';

/** A destroyed agent's kept state; `modified_at` is its directory's mtime in epoch ms. */
export interface KeptAgent {
  name: string;
  modified_at: number;
}

/** What {@link KeptState} reads and changes. */
export interface KeptStateDeps {
  layout: DataLayout;
  registry: Registry;
  drafts: Drafts;
  configs: AgentConfigs;
  bus: EventBus;
  log: (line: string) => void;
  /** Called after each purge: images no agent uses any more are removed (see `images/`). */
  onPurged?: () => void;
}

/** Lists and purges the kept state of destroyed agents. */
export class KeptState {
  constructor(private readonly deps: KeptStateDeps) {}

  /**
   * Agents whose kept state is on disk but who are neither registered nor drafts.
   * @throws the file system's error when the agents dir exists but cannot be read.
   */
  list(): KeptAgent[] {
    const { layout, registry, drafts } = this.deps;
    if (!lexists(layout.agentsDir)) return [];
    return readdirSync(layout.agentsDir)
      .filter((n) => isAgentName(n) && !registry.has(n) && !drafts.has(n))
      .flatMap((n) => {
        const st = lstatSync(layout.agent(n).root);
        return st.isDirectory() ? [{ name: n, modified_at: Math.round(st.mtimeMs) }] : [];
      });
  }

  /**
   * Deletes the kept state of a destroyed agent: its state, claude and config dirs, its log, build
   * log and sandbox files, its proposed repo and any draft of it. The hive-wide `/shared` is not the
   * agent's and stays. Never follows a symlink: a link anywhere
   * in the tree (or in place of the agent's own directory) is removed as a link, and nothing
   * outside the agent's own paths is touched.
   * @throws HiveError `bad_name`; `forbidden` for a peer's name (the hive keeps nothing for a peer;
   *   `hive ctl peer remove` removes it); `conflict` while the agent is registered (destroy it first);
   *   `not_found` when there is nothing kept; `internal` when a directory on the way leads outside
   *   the data dir (nothing is removed then).
   */
  purge(name: string): void {
    const { layout, registry, drafts, configs, bus, log } = this.deps;
    validateAgentName(name);
    const registered = registry.get(name);
    if (registered?.role === 'peer')
      throw new HiveError('forbidden', `${name} is a peer, not a destroyed agent: the hive keeps no state for it to purge; remove the peer with \`hive ctl peer remove ${name}\``);
    if (registered) throw new HiveError('conflict', `agent "${name}" still exists; destroy it first, then purge its kept state`);
    const paths = layout.agent(name);
    const targets = [paths.root, paths.log, paths.buildLog, layout.sandboxDir(name), join(layout.proposedDir, name)];
    if (!targets.some(lexists)) throw new HiveError('not_found', `nothing is kept for "${name}"`);
    // every path is checked before anything is removed, so a refusal leaves the kept state whole
    for (const target of targets) assertInside(layout.dataDir, target);
    for (const target of targets) removeNoFollow(target);
    drafts.remove(name);
    configs.forget(name);
    bus.emit({ type: 'kept' });
    log(`purged the kept state of ${name}`);
    this.deps.onPurged?.();
  }
}
