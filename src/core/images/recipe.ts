/**
 * @module core/images/recipe
 * What an agent's root filesystem is made of, and the name it is stored under. An image is built
 * by `mmdebstrap` (Debian's tool for making a Debian or Ubuntu root filesystem without a running
 * system; flags per mmdebstrap(1)) from the host's distribution and release, the host's
 * architecture, the hive's {@link BASE_PACKAGES} and the agent's own `packages`. Its key is a hash
 * of exactly those inputs and {@link IMAGE_RECIPE_VERSION}, so every agent with the same set shares
 * one image, and a change to the recipe below makes new images rather than altering old ones.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { HiveError } from '../../shared/errors.ts';

/**
 * Version of the recipe below (variant, base set, excluded paths, post-build steps). Raise it
 * whenever any of them changes: every image key changes with it, so agents are rebuilt on images
 * made the new way at their next start.
 */
export const IMAGE_RECIPE_VERSION = 1;

/**
 * The hive's default image, and the base of every other: a shell, coreutils (both `Essential` in
 * Debian, so always present), git, curl and the CA certificates. Claude Code's Bash tool needs the
 * shell; git and curl are what agents reach for first.
 */
export const BASE_PACKAGES: readonly string[] = ['bash', 'ca-certificates', 'coreutils', 'curl', 'git'];

/**
 * A Debian binary package name (Debian Policy §5.6.1: lowercase letters, digits, `+`, `-` and `.`,
 * at least two characters, starting with a letter or digit).
 */
const DEBIAN_PACKAGE = /^[a-z0-9][a-z0-9+.-]+$/;

/** Where images come from: the host's distribution, read from `/etc/os-release` and dpkg. */
export interface ImageSource {
  /** `debian` or `ubuntu`. */
  distribution: 'debian' | 'ubuntu';
  /** The release code name, e.g. `bookworm`. */
  suite: string;
  /** dpkg's architecture name, e.g. `amd64`. */
  architecture: string;
  /**
   * The package mirror, or null for mmdebstrap's default (deb.debian.org, with the release's updates
   * and security suites added by mmdebstrap). Ubuntu's releases are taken from their base suite.
   */
  mirror: string | null;
  /** The archive components packages are taken from (`main`; Ubuntu's jq and ripgrep are in `universe`). */
  components: string[];
}

/** Everything an image is made from; its key is a hash of this. */
export interface ImageRecipe {
  distribution: ImageSource['distribution'];
  suite: string;
  architecture: string;
  /** {@link BASE_PACKAGES} and the agent's, sorted, without duplicates. */
  packages: string[];
  /** {@link IMAGE_RECIPE_VERSION}. */
  recipe: number;
}

/**
 * Checks an agent's `packages` as Debian package names.
 * @throws HiveError `bad_config` naming the first that is not one.
 */
export function checkDebianPackages(packages: readonly string[]): void {
  for (const p of packages)
    if (!DEBIAN_PACKAGE.test(p)) throw new HiveError('bad_config', `packages: "${p}" is not a Debian package name (lowercase letters, digits, + - and ., like ripgrep or python3)`);
}

/**
 * The recipe of the image for an agent's `packages` on `source`.
 * @throws HiveError `bad_config` when a name is not a Debian package name.
 */
export function imageRecipe(source: ImageSource, packages: readonly string[] = []): ImageRecipe {
  checkDebianPackages(packages);
  return {
    distribution: source.distribution,
    suite: source.suite,
    architecture: source.architecture,
    packages: [...new Set([...BASE_PACKAGES, ...packages])].sort(),
    recipe: IMAGE_RECIPE_VERSION,
  };
}

/**
 * The key an image is stored under: 16 hex digits of the SHA-256 of its recipe's fields in a fixed
 * order. The same recipe always gives the same key.
 */
export function imageKey(r: ImageRecipe): string {
  const canonical = JSON.stringify([r.recipe, r.distribution, r.suite, r.architecture, r.packages]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

/** Documentation, manual pages and translations are left out of images: agents read none of them. */
const EXCLUDED_PATHS = ['/usr/share/man/*', '/usr/share/doc/*', '/usr/share/info/*', '/usr/share/locale/*', '/usr/share/lintian/*'];

/**
 * The mmdebstrap argv that builds `recipe` into the directory `target` (which must not exist or be
 * empty): the `essential` variant plus the recipe's packages, without documentation, as root.
 */
export function mmdebstrapArgv(bin: string, recipe: ImageRecipe, target: string, source: Pick<ImageSource, 'mirror' | 'components'>): string[] {
  return [
    bin,
    '--mode=root',
    '--variant=essential',
    `--architectures=${recipe.architecture}`,
    `--components=${source.components.join(',')}`,
    `--include=${recipe.packages.join(',')}`,
    ...EXCLUDED_PATHS.map((p) => `--dpkgopt=path-exclude=${p}`),
    '--dpkgopt=path-include=/usr/share/doc/*/copyright',
    recipe.suite,
    target,
    ...(source.mirror ? [source.mirror] : []),
  ];
}

/**
 * Reads the host's distribution from `/etc/os-release` (os-release(5)) and its architecture from
 * `dpkg --print-architecture`.
 * @returns the source, or why images cannot be made from this host.
 */
export function detectImageSource(env: Record<string, string | undefined> = process.env, osRelease = '/etc/os-release'): ImageSource | { problem: string } {
  let text: string;
  try {
    text = readFileSync(osRelease, 'utf8');
  } catch {
    return { problem: `${osRelease} cannot be read, so the host's distribution is unknown` };
  }
  const field = (k: string) => {
    // KEY=value, KEY="value" or KEY='value', one per line (CRLF tolerated)
    const m = text.match(new RegExp(`^${k}=(?:"([^"\\r\\n]*)"|'([^'\\r\\n]*)'|([^\\r\\n]*))\\r?$`, 'm'));
    return (m?.[1] ?? m?.[2] ?? m?.[3] ?? '').trim();
  };
  const id = field('ID');
  const likes = field('ID_LIKE').split(/\s+/);
  const name = field('PRETTY_NAME') || id || 'unknown';
  const arch = () => {
    const dpkg = Bun.which('dpkg', { PATH: env.PATH ?? '/usr/bin:/bin' });
    if (!dpkg) return null;
    const r = Bun.spawnSync([dpkg, '--print-architecture'], { stdout: 'pipe', stderr: 'ignore' });
    const a = r.stdout.toString().trim();
    return r.exitCode === 0 && /^[a-z0-9-]+$/.test(a) ? a : null;
  };
  if (id === 'ubuntu' || likes.includes('ubuntu')) {
    // a derivative (Mint, Pop!_OS, elementary) names the Ubuntu release it follows in UBUNTU_CODENAME
    const suite = id === 'ubuntu' ? field('VERSION_CODENAME') || field('UBUNTU_CODENAME') : field('UBUNTU_CODENAME');
    if (!suite) return { problem: `${osRelease} names no Ubuntu release (UBUNTU_CODENAME), so the suite to build from is unknown` };
    const architecture = arch();
    if (!architecture) return { problem: 'dpkg --print-architecture did not answer, so the host architecture is unknown' };
    // Ubuntu keeps amd64 and i386 on its archive and every other architecture on its ports mirror
    const mirror = architecture === 'amd64' || architecture === 'i386' ? 'http://archive.ubuntu.com/ubuntu' : 'http://ports.ubuntu.com/ubuntu-ports';
    return { distribution: 'ubuntu', suite, architecture, mirror, components: ['main', 'universe'] };
  }
  if (id !== 'debian' && !likes.includes('debian'))
    return { problem: `images are built with mmdebstrap from Debian or Ubuntu packages, and this host is ${name}` };
  const suite = field('VERSION_CODENAME');
  if (!suite) return { problem: `${osRelease} names no VERSION_CODENAME (a testing or unstable host?), so the suite to build from is unknown` };
  // a derivative's own code name is no Debian suite: only one that follows a Debian release by name will do
  if (id !== 'debian' && !DEBIAN_SUITES.includes(suite))
    return { problem: `${name} is based on Debian, but its release "${suite}" is not a Debian suite, so the one to build from is unknown` };
  const architecture = arch();
  if (!architecture) return { problem: 'dpkg --print-architecture did not answer, so the host architecture is unknown' };
  return { distribution: 'debian', suite, architecture, mirror: null, components: ['main'] };
}

/** Debian's release code names a derivative may follow (the suites deb.debian.org serves). */
const DEBIAN_SUITES: readonly string[] = ['buster', 'bullseye', 'bookworm', 'trixie', 'forky', 'duke', 'sid'];
