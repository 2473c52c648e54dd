/**
 * @module core/images/images
 * The store of agents' root filesystems: `<images>/<key>/root` (the tree, with an empty `etc`),
 * `<images>/<key>/etc` (its `/etc`, kept beside the tree because systemd-nspawn can overlay a
 * directory only from outside the tree it runs) and `<images>/<key>/image.json` (its recipe, size
 * and build time), where `<images>` is
 * `<data>/images` unless the core's `--images-dir` names another. An image is built once, by the
 * first agent that needs it, and used read-only by every agent whose recipe has the same key (see
 * `recipe.ts`). A build runs into `.build-<key>-<pid>` beside the images and is renamed into place
 * only when it succeeded, so a half-built tree is never used and a crash leaves nothing but a
 * directory {@link Images.prune} removes. Builds run one at a time; two agents wanting the same
 * image while it builds wait for the one build.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HiveError } from '../../shared/errors.ts';
import { eachLine } from '../../shared/lines.ts';
import { detectImageSource, imageKey, imageRecipe, mmdebstrapArgv, type ImageRecipe, type ImageSource } from './recipe.ts';

/** One stored image, as `hive ctl images` shows it. */
export interface ImageInfo {
  key: string;
  distribution: string;
  suite: string;
  architecture: string;
  /** Every package asked for (the base set and the agents'), sorted. */
  packages: string[];
  /** Disk use of the tree, bytes. */
  bytes: number;
  /** When the build finished, unix ms. */
  built_at: number;
  /** How long the build took, ms. */
  build_ms: number;
  /** Agents whose config or running sandbox uses it. */
  users: string[];
}

/** What `image.json` holds. */
interface ImageMeta extends ImageRecipe {
  key: string;
  bytes: number;
  built_at: number;
  build_ms: number;
}

/** The directory an image's tree (`<key>/root`) has as its `/etc`: `<key>/etc`. */
export function imageEtc(root: string): string {
  return join(dirname(root), 'etc');
}

/** An image ready to use. */
export interface ReadyImage {
  key: string;
  /** The root filesystem's directory on the host. */
  root: string;
  /** True when this call built it (false: it was there already). */
  built: boolean;
}

/** Settings of {@link Images}. */
export interface ImagesOptions {
  /** Where images are kept. */
  dir: string;
  /** The host's distribution, or why images cannot be built here (default: {@link detectImageSource}). */
  source?: ImageSource | { problem: string };
  /** The environment whose PATH finds `mmdebstrap`. */
  env?: Record<string, string | undefined>;
  /** The core's log (what prune removes; a build's lines go to the caller's `say`). */
  log: (line: string) => void;
  /** Called after an image was built into place, and after a prune that removed any. */
  changed?: () => void;
}

/** Lines of a failed build's output kept for its error message. */
const ERROR_TAIL = 20;

/** Agents' root filesystems: built on demand, shared by key, pruned when unused. */
export class Images {
  readonly dir: string;
  /** Null when images can be built here, else why not (for `hive doctor` and a failing start). */
  readonly problem: string | null;
  private readonly source: ImageSource | null;
  private readonly bin: string | null;
  private building = new Map<string, { promise: Promise<void>; listeners: Set<(line: string) => void> }>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: ImagesOptions) {
    this.dir = opts.dir;
    const source = opts.source ?? detectImageSource(opts.env);
    const env = opts.env ?? process.env;
    this.bin = Bun.which('mmdebstrap', { PATH: `${env.PATH ?? '/usr/bin:/bin'}:/usr/sbin:/usr/bin` });
    if ('problem' in source) {
      this.source = null;
      this.problem = source.problem;
    } else if (!this.bin) {
      this.source = source;
      this.problem = 'mmdebstrap not found (Debian and Ubuntu: apt install mmdebstrap)';
    } else if (process.getuid?.() !== 0) {
      this.source = source;
      this.problem = 'images are built by mmdebstrap as root, and the core does not run as root';
    } else {
      this.source = source;
      this.problem = null;
    }
  }

  /** What images are built from here, or null when they cannot be. */
  get from(): ImageSource | null {
    return this.problem ? null : this.source;
  }

  /**
   * The recipe of the image for `packages`.
   * @throws HiveError `bad_config` for a name that is not a Debian package name; `unavailable`
   *   when images cannot be built here ({@link problem}).
   */
  recipe(packages: readonly string[] = []): ImageRecipe {
    if (!this.source || this.problem) throw new HiveError('unavailable', `agents' root filesystems cannot be built here: ${this.problem}; start the core with --host-root to run sandboxes on this host's /usr instead`);
    return imageRecipe(this.source, packages);
  }

  /** The key of the image for `packages` (see {@link recipe} for what it throws). */
  keyFor(packages: readonly string[] = []): string {
    return imageKey(this.recipe(packages));
  }

  /** The root filesystem of image `key` on the host (whether or not it is built); its `/etc` is {@link imageEtc} of it. */
  rootOf(key: string): string {
    return join(this.dir, key, 'root');
  }

  /** Whether image `key` is built and complete. */
  has(key: string): boolean {
    return existsSync(join(this.dir, key, 'image.json'));
  }

  /**
   * The image for `packages`, built first when it is not there. Each line of the build's output
   * goes to `say` as it comes (to every caller waiting for the same build).
   * @throws HiveError `bad_config` for a bad package name or one apt cannot find (apt's message is
   *   in it); `unavailable` when images cannot be built here or the build failed for another reason
   *   (mmdebstrap's last errors are in it).
   */
  async ensure(packages: readonly string[], say: (line: string) => void = () => {}): Promise<ReadyImage> {
    const recipe = this.recipe(packages);
    const key = imageKey(recipe);
    const root = this.rootOf(key);
    if (this.has(key)) return { key, root, built: false };
    let job = this.building.get(key);
    if (job) {
      say(`image ${key}: already being built for another agent; waiting for it`);
      job.listeners.add(say);
      try {
        await job.promise;
      } finally {
        job.listeners.delete(say);
      }
      return { key, root, built: false };
    }
    const listeners = new Set([say]);
    const promise = (this.queue = this.queue.then(
      () => this.build(key, recipe, (l) => listeners.forEach((f) => f(l))),
      () => this.build(key, recipe, (l) => listeners.forEach((f) => f(l))),
    )) as Promise<void>;
    job = { promise, listeners };
    this.building.set(key, job);
    try {
      await promise;
    } finally {
      this.building.delete(key);
    }
    return { key, root, built: true };
  }

  /**
   * Every stored image, newest first, with the agents that use it.
   * @param users agent names by image key (see `hive.ts`).
   */
  list(users: ReadonlyMap<string, readonly string[]> = new Map()): ImageInfo[] {
    const out: ImageInfo[] = [];
    for (const key of this.keys()) {
      const meta = this.meta(key);
      if (!meta) continue;
      out.push({
        key,
        distribution: meta.distribution,
        suite: meta.suite,
        architecture: meta.architecture,
        packages: meta.packages,
        bytes: meta.bytes,
        built_at: meta.built_at,
        build_ms: meta.build_ms,
        users: [...(users.get(key) ?? [])].sort(),
      });
    }
    return out.sort((a, b) => b.built_at - a.built_at);
  }

  /**
   * Removes every image no agent uses, and what builds that did not finish left behind (a build
   * under way in this process is kept).
   * @param inUse keys of images an agent's config or running sandbox uses.
   * @returns the removed images with their sizes.
   */
  prune(inUse: ReadonlySet<string>): Array<{ key: string; bytes: number }> {
    const removed: Array<{ key: string; bytes: number }> = [];
    for (const key of this.keys()) {
      if (inUse.has(key) || this.building.has(key)) continue;
      const bytes = this.meta(key)?.bytes ?? 0;
      rmSync(join(this.dir, key), { recursive: true, force: true });
      removed.push({ key, bytes });
      this.opts.log(`image ${key}: removed (no agent uses it)`);
    }
    if (removed.length) this.opts.changed?.();
    if (existsSync(this.dir)) {
      for (const e of readdirSync(this.dir)) {
        const m = e.match(/^\.build-([0-9a-f]{16})-(\d+)$/);
        if (!m) continue;
        if (Number(m[2]) === process.pid && this.building.has(m[1]!)) continue;
        if (Number(m[2]) !== process.pid && pidAlive(Number(m[2]))) continue;
        rmSync(join(this.dir, e), { recursive: true, force: true });
      }
    }
    return removed;
  }

  // ── internals ──────────────────────────────────────────────────────────────

  private keys(): string[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir).filter((e) => /^[0-9a-f]{16}$/.test(e));
  }

  private meta(key: string): ImageMeta | null {
    try {
      return JSON.parse(readFileSync(join(this.dir, key, 'image.json'), 'utf8')) as ImageMeta;
    } catch {
      return null; // not finished, or not ours: list and prune skip or remove it
    }
  }

  private async build(key: string, recipe: ImageRecipe, say: (line: string) => void): Promise<void> {
    if (this.has(key)) return; // another process finished it while this one queued
    const tell = (line: string) => say(`image ${key}: ${line}`);
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    const tmp = join(this.dir, `.build-${key}-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    const target = join(tmp, 'root');
    const argv = mmdebstrapArgv(this.bin!, recipe, target, this.source!);
    const extra = recipe.packages.length ? ` (${recipe.packages.join(' ')})` : '';
    tell(`building ${recipe.distribution} ${recipe.suite} ${recipe.architecture}${extra} with mmdebstrap`);
    const started = performance.now();
    const tail: string[] = [];
    try {
      const child = Bun.spawn(argv, { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' } });
      const follow = (stream: ReadableStream<Uint8Array>) =>
        eachLine(stream, (line) => {
          if (!line.trim()) return;
          tail.push(line);
          if (tail.length > ERROR_TAIL) tail.shift();
          tell(line);
        });
      await Promise.all([follow(child.stdout), follow(child.stderr), child.exited]);
      if (child.exitCode !== 0) throw buildError(recipe, child.exitCode, tail);
      // every sandbox binds its own hostname over this file, and a bind needs something to cover
      if (!existsSync(join(target, 'etc', 'hostname'))) writeFileSync(join(target, 'etc', 'hostname'), 'localhost\n');
      // /etc lives beside the tree: systemd-nspawn cannot overlay a directory inside its --directory
      renameSync(join(target, 'etc'), join(tmp, 'etc'));
      mkdirSync(join(target, 'etc'));
      const buildMs = Math.round(performance.now() - started);
      const meta: ImageMeta = { ...recipe, key, bytes: diskUse(tmp), built_at: Date.now(), build_ms: buildMs };
      writeFileSync(join(tmp, 'image.json'), `${JSON.stringify(meta, null, 2)}\n`);
      try {
        renameSync(tmp, join(this.dir, key));
      } catch (err) {
        // another core sharing this images dir finished the same image first: use that one
        if (!this.has(key)) throw err;
        rmSync(tmp, { recursive: true, force: true });
      }
      this.opts.changed?.();
      tell(`built in ${(buildMs / 1000).toFixed(1)} s, ${(meta.bytes / 1024 / 1024).toFixed(0)} MiB`);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      tell(`build failed: ${(err as Error).message}`);
      throw err;
    }
  }
}

/**
 * The error of a failed build: `bad_config` when apt could not find a package (a name the config
 * asked for that the suite does not have), else `unavailable`; either way with apt's and
 * mmdebstrap's own `E:` lines.
 */
function buildError(recipe: ImageRecipe, code: number | null, tail: string[]): HiveError {
  const errors = tail.filter((l) => l.startsWith('E: '));
  const missing = tail.map((l) => l.match(/^E: Unable to locate package (\S+)/)?.[1]).filter((p): p is string => !!p);
  if (missing.length)
    return new HiveError('bad_config', `packages: ${[...new Set(missing)].map((p) => `"${p}"`).join(', ')} not found in ${recipe.distribution} ${recipe.suite} (apt: ${errors.find((l) => l.includes('Unable to locate')) ?? ''})`);
  const why = (errors.length ? errors : tail.slice(-3)).join(' / ');
  return new HiveError('unavailable', `the image build failed (mmdebstrap exit ${code ?? '?'}): ${why || 'no output'}`);
}

/** Disk use of a directory tree, bytes (`du -s -B1`; 0 when du fails). */
function diskUse(dir: string): number {
  const r = Bun.spawnSync(['du', '-s', '-x', '-B1', dir], { stdout: 'pipe', stderr: 'ignore' });
  return r.exitCode === 0 ? Number(r.stdout.toString().split(/\s/)[0]) || 0 : 0;
}

/** Whether process `pid` exists (signal 0). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What {@link imageUsers} reads of one agent. */
export interface ImageUser {
  name: string;
  /** The packages of its applied config, or null when the config cannot be read. */
  packages: readonly string[] | null;
  /** The root its running sandbox was started on, or null. */
  root: string | null;
}

/**
 * Which agents use which image: the image of each agent's applied config, and the one its running
 * sandbox was started on (which differs while a changed config waits for a rebuild). An agent
 * whose config cannot be read or has a bad package name counts only by its running sandbox.
 * @returns agent names by image key.
 */
export function imageUsers(images: Images, agents: Iterable<ImageUser>): Map<string, string[]> {
  const users = new Map<string, string[]>();
  const add = (key: string, name: string) => {
    const list = users.get(key) ?? [];
    if (!list.includes(name)) list.push(name);
    users.set(key, list);
  };
  for (const a of agents) {
    if (a.root && a.root.startsWith(images.dir + '/')) add(a.root.slice(images.dir.length + 1).split('/')[0]!, a.name);
    if (!a.packages) continue;
    try {
      add(images.keyFor(a.packages), a.name);
    } catch {
      // a package name the config check refuses: the agent cannot start on it, so it uses no image
    }
  }
  return users;
}
