/**
 * @module dashboard/repo-cache
 * What the dashboard shows from the config repos and the deploy log (the diff of each pending
 * approval, each agent's applied head, tag list and log, a commit's diff, `agent.toml` at a commit
 * or tag, the meta repo's log), read with git once and then kept, so a page load, a live update or
 * a repo-browser page runs no git. Entries are filled lazily by the first rendering that needs
 * them and shared by every later one (and by renderings running at the same time).
 *
 * What an entry is keyed by, and what drops it, on the core's event bus (before any other
 * dashboard listener hears of it):
 *
 * - **An agent's refs** (its head, tags and log, its approvals' diffs, and a commit or file named
 *   by a tag or an abbreviated id): dropped for that agent by
 *   - an `approval` event (requested once staged, begun, its commits recorded, denied once its
 *     `denied/<id>` tag is written, deployed or failed once its outcome tag is written; rollbacks
 *     are approvals too), since a deploy moves the applied head that the agent's other pending
 *     diffs are taken against;
 *   - a `build` line of a deploy (one naming an approval): its `building/<id>` tag is written just
 *     before the rebuild starts;
 *   - a `tags` event (tag retention removed tags from the agent's applied repo) and
 *     `agent_removed` (destroy);
 *   - `kept` (destroy, purge, a spawn or re-spawn) drops everything.
 * - **Content named by a full commit id** (a commit's diff, a file at a commit): git cannot change
 *   it, so no deploy or denial drops it. It goes when the repo may stop holding that commit: `tags`
 *   (retention can leave it unreachable, for git to prune) and `agent_removed` for that agent,
 *   `kept` for every agent (purge deletes the repo).
 * - **The deploy log**: dropped by `deploys`, which the meta repo emits after each commit.
 *
 * Every change the core makes to an applied repo or to the meta repo is followed by one of these
 * events, so an entry read after the event that ends a change is never older than that change. A
 * read that began before an event and ends after it is handed to the renderings that asked for it
 * but is not kept. A failed read is never kept: the next rendering asks git again.
 *
 * Memory: texts (commit diffs and files, whichever key) share one LRU of at most
 * {@link TEXT_CACHE_MAX_ENTRIES} entries and {@link TEXT_CACHE_MAX_BYTES} bytes (2 bytes per UTF-16
 * code unit of the text, an upper bound of what the engine stores); a text larger than the byte
 * bound is served but not kept. The rest is one entry per agent that has an applied repo (names
 * without one are answered without git and never kept): its head, its tag list (as long as tag
 * retention leaves it), one log per length asked (the browser asks one, of at most 100 commits)
 * and the diffs of the approvals the dashboard shows; plus one deploy log per length asked.
 */
import { HiveError } from '../../shared/errors.ts';
import type { RepoCommit, RepoTag } from '../../shared/repo-tags.ts';
import type { ApprovalRecord } from '../../shared/wire.ts';
import type { EventBus } from '../bus.ts';
import type { ConfigRepos, MetaRepo } from '../configs/repos.ts';

/** Most commit diffs and files kept at once, by default. */
export const TEXT_CACHE_MAX_ENTRIES = 256;
/** Most bytes of commit diffs and files kept at once, by default (8 MiB). */
export const TEXT_CACHE_MAX_BYTES = 8 * 1024 * 1024;

/** A full commit id: what it names never changes. */
const FULL_SHA = /^[0-9a-f]{40}$/;

/** What the cache reads from the config repos. */
export type CachedRepos = Pick<ConfigRepos, 'hasApplied' | 'head' | 'tags' | 'log' | 'diff' | 'commitDiff' | 'show'>;

/** Options of a {@link RepoCache}. */
export interface RepoCacheOptions {
  /** The deploy log, for {@link RepoCache.deployLog}; without it that method rejects. */
  meta?: Pick<MetaRepo, 'log'>;
  /** Most commit diffs and files kept (default {@link TEXT_CACHE_MAX_ENTRIES}). */
  maxEntries?: number;
  /** Most bytes of commit diffs and files kept (default {@link TEXT_CACHE_MAX_BYTES}). */
  maxBytes?: number;
}

/** How full the cache is, for tests and benches. */
export interface RepoCacheStats {
  /** Agents with an entry. */
  agents: number;
  /** Commit diffs and files kept (reads in flight included). */
  texts: number;
  /** Their size, bytes, as bounded by `maxBytes`. */
  textBytes: number;
}

/** What one agent's applied repo showed when last read. */
interface AgentEntry {
  head?: Promise<string | null>;
  tags?: Promise<RepoTag[]>;
  /** Logs by length. */
  logs: Map<number, Promise<RepoCommit[]>>;
  /** Diffs by approval id and whether it was read as pending (`<id>:p`, `<id>:d`). */
  diffs: Map<string, Promise<string>>;
}

/** Cached reads of the config repos for the dashboard; see the module comment for what drops them. */
export class RepoCache {
  private readonly agents = new Map<string, AgentEntry>();
  private readonly texts: TextLru;
  private readonly meta: Pick<MetaRepo, 'log'> | null;
  /** Deploy logs by length; replaced whole when the meta repo changes. */
  private deployLogs = new Map<number, Promise<RepoCommit[]>>();

  /** Subscribes to `bus` at once: build it before anything that renders on bus events. */
  constructor(
    private readonly repos: CachedRepos,
    bus: EventBus,
    opts: RepoCacheOptions = {},
  ) {
    this.meta = opts.meta ?? null;
    this.texts = new TextLru(opts.maxEntries ?? TEXT_CACHE_MAX_ENTRIES, opts.maxBytes ?? TEXT_CACHE_MAX_BYTES);
    bus.on((ev) => {
      if (ev.type === 'approval') this.dropAgent(ev.approval.agent, false);
      else if (ev.type === 'build' && ev.approval !== null) this.dropAgent(ev.agent, false);
      else if (ev.type === 'tags') this.dropAgent(ev.agent, true);
      else if (ev.type === 'agent_removed') this.dropAgent(ev.name, true);
      else if (ev.type === 'kept') {
        this.agents.clear();
        this.texts.clear();
      } else if (ev.type === 'deploys') this.deployLogs = new Map();
    });
  }

  /** `name`'s applied head (as {@link ConfigRepos.head}); null, and nothing kept, when it has none. */
  head(name: string): Promise<string | null> {
    if (!this.repos.hasApplied(name)) return Promise.resolve(null);
    const e = this.entry(name);
    return (e.head ??= this.keep(name, e, () => this.repos.head(name), () => (e.head = undefined), (h) => h !== null));
  }

  /** `name`'s applied repo tags, newest first (as {@link ConfigRepos.tags}). */
  tags(name: string): Promise<RepoTag[]> {
    const e = this.entry(name);
    return (e.tags ??= this.keep(name, e, () => this.repos.tags(name), () => (e.tags = undefined)));
  }

  /** The newest `limit` commits of `name`'s applied head (as {@link ConfigRepos.log}). */
  log(name: string, limit: number): Promise<RepoCommit[]> {
    const e = this.entry(name);
    let p = e.logs.get(limit);
    if (!p) {
      p = this.keep(name, e, () => this.repos.log(name, limit), () => e.logs.delete(limit));
      e.logs.set(limit, p);
    }
    return p;
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

  /**
   * Commit `sha` of `name`'s applied repo with its diff (as {@link ConfigRepos.commitDiff}).
   * @throws HiveError `bad_request`, `not_found` as that method (never kept).
   */
  commitDiff(name: string, sha: string): Promise<string> {
    return this.texts.get(name, `commit\0${sha}`, FULL_SHA.test(sha), () => this.repos.commitDiff(name, sha));
  }

  /**
   * The text of `path` at tag or commit `ref` of `name`'s applied repo (as {@link ConfigRepos.show}).
   * @throws HiveError `bad_request`, `not_found` as that method (never kept).
   */
  file(name: string, ref: string, path: string): Promise<string> {
    return this.texts.get(name, `file\0${ref}\0${path}`, FULL_SHA.test(ref), () => this.repos.show(name, ref, path));
  }

  /**
   * The newest `limit` commits of the deploy log (as {@link MetaRepo.log}).
   * @throws HiveError `internal` when this cache was built without `meta`.
   */
  deployLog(limit: number): Promise<RepoCommit[]> {
    const meta = this.meta;
    if (!meta) return Promise.reject(new HiveError('internal', 'this repo cache was built without the deploy log'));
    const logs = this.deployLogs;
    let p = logs.get(limit);
    if (!p) {
      p = meta.log(limit);
      p.catch(() => {
        if (logs.get(limit) === p) logs.delete(limit);
      });
      logs.set(limit, p);
    }
    return p;
  }

  /** How full the cache is now. */
  stats(): RepoCacheStats {
    return { agents: this.agents.size, texts: this.texts.entries, textBytes: this.texts.bytes };
  }

  /** Drops what `name`'s refs showed; with `all`, its content by commit id too. */
  private dropAgent(name: string, all: boolean): void {
    this.agents.delete(name);
    this.texts.drop(name, all);
  }

  private entry(name: string): AgentEntry {
    let e = this.agents.get(name);
    if (!e) this.agents.set(name, (e = { logs: new Map(), diffs: new Map() }));
    return e;
  }

  /**
   * Starts `read`; a failed read, or one whose value `keeps` refuses, is forgotten (`drop`) so the
   * next rendering reads again.
   */
  private keep<T>(name: string, e: AgentEntry, read: () => Promise<T>, drop: () => void, keeps: (value: T) => boolean = () => true): Promise<T> {
    const p = read();
    const forget = () => {
      if (this.agents.get(name) === e) drop();
    };
    p.then((v) => keeps(v) || forget(), forget);
    return p;
  }
}

/** One text of the {@link TextLru}. */
interface TextEntry {
  agent: string;
  /** Named by a full commit id: kept across the events that move refs. */
  immutable: boolean;
  text: Promise<string>;
  /** Counted once read; 0 while in flight. */
  bytes: number;
}

/**
 * Texts by agent and key, the least recently used dropped first once there are more than
 * `maxEntries` of them (reads in flight count) or more than `maxBytes` bytes (2 per UTF-16 code
 * unit). A text larger than `maxBytes` is handed out but not kept; a failed read is not kept.
 */
class TextLru {
  private readonly map = new Map<string, TextEntry>();
  private size = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
  ) {}

  get entries(): number {
    return this.map.size;
  }

  get bytes(): number {
    return this.size;
  }

  get(agent: string, key: string, immutable: boolean, read: () => Promise<string>): Promise<string> {
    const k = `${agent}\0${key}`;
    const hit = this.map.get(k);
    if (hit) {
      this.map.delete(k);
      this.map.set(k, hit);
      return hit.text;
    }
    const e: TextEntry = { agent, immutable, text: read(), bytes: 0 };
    this.map.set(k, e);
    this.trim();
    e.text.then(
      (text) => {
        if (this.map.get(k) !== e) return;
        const bytes = text.length * 2;
        if (bytes > this.maxBytes) {
          this.remove(k, e);
          return;
        }
        e.bytes = bytes;
        this.size += bytes;
        this.trim();
      },
      () => {
        if (this.map.get(k) === e) this.remove(k, e);
      },
    );
    return e.text;
  }

  /** Drops `agent`'s texts named by refs; with `all`, those named by commit id too. */
  drop(agent: string, all: boolean): void {
    for (const [k, e] of this.map) if (e.agent === agent && (all || !e.immutable)) this.remove(k, e);
  }

  clear(): void {
    this.map.clear();
    this.size = 0;
  }

  private remove(k: string, e: TextEntry): void {
    this.map.delete(k);
    this.size -= e.bytes;
  }

  /** Drops the least recently used until within both bounds. */
  private trim(): void {
    for (const [k, e] of this.map) {
      if (this.map.size <= this.maxEntries && this.size <= this.maxBytes) return;
      this.remove(k, e);
    }
  }
}
