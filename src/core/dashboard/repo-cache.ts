/**
 * @module dashboard/repo-cache
 * What the dashboard shows from the config repos (the diff of each pending approval, the tag list
 * of each agent's applied repo), read with git once and then kept, so a page load or a live update
 * runs no git. Entries are filled lazily by the first rendering that needs them and shared by
 * every later one (and by renderings running at the same time).
 *
 * What drops entries, on the core's event bus, before any other dashboard listener hears of it:
 * - an `approval` event (requested once staged, begun, its commits recorded, denied once its
 *   `denied/<id>` tag is written, deployed or failed once its outcome tag is written; rollbacks
 *   are approvals too): everything of that approval's agent, since a deploy moves the applied
 *   head that the agent's other pending diffs are taken against;
 * - a `tags` event (tag retention removed tags from the agent's applied repo): everything of that
 *   agent;
 * - `agent_removed` (destroy): everything of that agent;
 * - `kept` (destroy, purge, a spawn or re-spawn): everything.
 *
 * Every change the core makes to an applied repo is followed by one of these events, so an entry
 * read after the event that ends a change is never older than that change. A read that began
 * before an event and ends after it is handed to the renderings that asked for it but is not
 * kept.
 */
import type { RepoTag } from '../../shared/repo-tags.ts';
import type { ApprovalRecord } from '../../shared/wire.ts';
import type { EventBus } from '../bus.ts';
import type { ConfigRepos } from '../configs/repos.ts';

/** What one agent's applied repo showed when last read. */
interface AgentEntry {
  tags?: Promise<RepoTag[]>;
  /** Diffs by approval id and whether it was read as pending (`<id>:p`, `<id>:d`). */
  diffs: Map<string, Promise<string>>;
}

/** Cached reads of the config repos for the dashboard; see the module comment for what drops them. */
export class RepoCache {
  private readonly agents = new Map<string, AgentEntry>();

  /** Subscribes to `bus` at once: build it before anything that renders on bus events. */
  constructor(
    private readonly repos: Pick<ConfigRepos, 'tags' | 'diff'>,
    bus: EventBus,
  ) {
    bus.on((ev) => {
      if (ev.type === 'approval') this.agents.delete(ev.approval.agent);
      else if (ev.type === 'tags') this.agents.delete(ev.agent);
      else if (ev.type === 'agent_removed') this.agents.delete(ev.name);
      else if (ev.type === 'kept') this.agents.clear();
    });
  }

  /** `name`'s applied repo tags, newest first (as {@link ConfigRepos.tags}). */
  tags(name: string): Promise<RepoTag[]> {
    const e = this.entry(name);
    return (e.tags ??= this.keep(name, e, () => this.repos.tags(name), () => (e.tags = undefined)));
  }

  /** What approval `a` changes, as a unified diff (as {@link ConfigRepos.diff} for its status). */
  diff(a: ApprovalRecord): Promise<string> {
    const e = this.entry(a.agent);
    const pending = a.status === 'pending';
    const key = `${a.id}:${pending ? 'p' : 'd'}`;
    let d = e.diffs.get(key);
    if (!d) {
      d = this.keep(a.agent, e, () => this.repos.diff(a.agent, a.id, { pending, proposedSha: a.sha }), () => e.diffs.delete(key));
      e.diffs.set(key, d);
    }
    return d;
  }

  private entry(name: string): AgentEntry {
    let e = this.agents.get(name);
    if (!e) this.agents.set(name, (e = { diffs: new Map() }));
    return e;
  }

  /** Starts `read`; a failed read is forgotten (`drop`) so the next rendering tries again. */
  private keep<T>(name: string, e: AgentEntry, read: () => Promise<T>, drop: () => void): Promise<T> {
    const p = read();
    p.catch(() => {
      if (this.agents.get(name) === e) drop();
    });
    return p;
  }
}
