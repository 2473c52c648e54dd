/**
 * @module core/configs/retention
 * Tag retention over every applied config repo (registered and kept agents): `failed/` and
 * `denied/` tags older than the retention period and superseded stage tags are removed (see
 * {@link ConfigRepos.retain}), once at start and then daily. Runs in each agent's deploy queue, so
 * it never races a deploy.
 */
import type { Registry } from '../agents/registry.ts';
import type { KeptState } from '../agents/kept.ts';
import type { EventBus } from '../bus.ts';
import type { Deployer } from './deploy.ts';
import type { ConfigRepos } from './repos.ts';

/** How often retention runs by itself, ms. */
export const RETENTION_INTERVAL_MS = 86_400_000;

/** What retention reads and changes. */
export interface TagRetentionDeps {
  registry: Registry;
  kept: KeptState;
  repos: ConfigRepos;
  deployer: Deployer;
  /** Told (`tags`) of each agent whose tags retention went over, once it is done with them. */
  bus: EventBus;
  /** The default retention period, days. */
  days: number;
  log: (line: string) => void;
}

/** Tag retention, on demand and on a daily timer. */
export class TagRetention {
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly deps: TagRetentionDeps) {}

  /**
   * Runs retention now with `days` (default: the configured period).
   * @returns the tags removed, per agent (agents with none removed are left out).
   * @throws the git error of the first repo that failed.
   */
  async run(days = this.deps.days): Promise<Record<string, string[]>> {
    const { registry, kept, repos, deployer, log } = this.deps;
    const out: Record<string, string[]> = {};
    const names = new Set([...registry.list().map((a) => a.name), ...kept.list().map((k) => k.name)]);
    for (const name of names) {
      if (!(await repos.head(name))) continue;
      let removed: string[] = [];
      try {
        removed = await deployer.exclusive(name, () => repos.retain(name, days));
      } finally {
        // also after a failure part-way: some of the tags may be gone
        this.deps.bus.emit({ type: 'tags', agent: name });
      }
      if (removed.length) out[name] = removed;
    }
    const total = Object.values(out).reduce((n, r) => n + r.length, 0);
    if (total) log(`tag retention: removed ${total} tags (failed/denied older than ${days} days, and superseded stage tags)`);
    return out;
  }

  /** Runs now in the background and then every {@link RETENTION_INTERVAL_MS}; failures are logged. */
  start(): void {
    const tick = () => void this.run().catch((e) => this.deps.log(`tag retention: ${(e as Error).message}`));
    tick();
    this.timer = setInterval(tick, RETENTION_INTERVAL_MS);
    this.timer.unref?.();
  }

  /** Stops the timer. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
