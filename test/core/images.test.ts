/**
 * Agents' root filesystems ("images", `src/core/images/`) and what shows them, without building
 * one: nothing here runs mmdebstrap or touches the network. Covered:
 * - the recipe: image keys, Debian package names, the host's distribution read from os-release
 *   files and dpkg, and the mmdebstrap command line;
 * - the store (`Images`) on a fabricated images dir: listing, `has`, pruning unused images and
 *   leftover builds, and refusing to make recipes where images cannot be built; `imageUsers`;
 * - the sandbox layout on a fabricated image (the tree's `/usr`, the `/etc` kept beside the tree,
 *   the generated files over it, no host `/etc`, mount points made inside the image) against the
 *   host layout of `--host-root`, and how nspawn and bwrap render both;
 * - the `packages` field of agent.toml, the core's `--images-dir` and `--host-root`, and
 *   `hive ctl images [--prune]`.
 * Building real images is the business of `test/e2e/images*`.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { imageEtc, Images, imageUsers } from '../../src/core/images/images.ts';
import {
  BASE_PACKAGES,
  checkDebianPackages,
  detectImageSource,
  IMAGE_RECIPE_VERSION,
  imageKey,
  imageRecipe,
  mmdebstrapArgv,
  type ImageRecipe,
  type ImageSource,
} from '../../src/core/images/recipe.ts';
import { bwrapArgs } from '../../src/core/runtime/bwrap.ts';
import { nspawnArgs } from '../../src/core/runtime/nspawn.ts';
import type { SandboxSpec } from '../../src/core/runtime/runtime.ts';
import { codePaths, INSIDE, sandboxLayout, type SandboxLayout } from '../../src/core/runtime/sandbox.ts';
import { loadCoreConfig } from '../../src/core/settings.ts';
import { CtlUsageError, parseCtlArgs } from '../../src/ctl/ctl.ts';
import { DEFAULT_AGENT_CONFIG, MAX_PACKAGES, parseAgentConfig } from '../../src/shared/agent-config.ts';
import { HiveError } from '../../src/shared/errors.ts';
import { DataLayout } from '../../src/shared/paths.ts';
import { PACKAGE_ROOT } from '../../src/shared/version.ts';
import { tempDir } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

/** A Debian bookworm amd64 host, as `detectImageSource` would describe it. */
const BOOKWORM: ImageSource = { distribution: 'debian', suite: 'bookworm', architecture: 'amd64', mirror: null, components: ['main'] };

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A temp dir removed after the file's tests. */
function scratch(prefix = 'hv-img-'): string {
  const d = tempDir(prefix);
  dirs.push(d);
  return d;
}

/** The HiveError `fn` throws (fails the test when it throws nothing or something else). */
function hiveError(fn: () => unknown): HiveError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HiveError);
    return err as HiveError;
  }
  throw new Error('expected a HiveError, and nothing was thrown');
}

const key = (packages: string[], source: ImageSource = BOOKWORM) => imageKey(imageRecipe(source, packages));

// ── the recipe ───────────────────────────────────────────────────────────────

describe('imageKey', () => {
  test('the same recipe always gives the same key, 16 hex digits', () => {
    const k = key(['jq', 'ripgrep']);
    expect(k).toMatch(/^[0-9a-f]{16}$/);
    expect(key(['jq', 'ripgrep'])).toBe(k);
    expect(imageKey(imageRecipe({ ...BOOKWORM }, ['jq', 'ripgrep']))).toBe(k);
  });

  test('the order and duplicates of the packages do not matter', () => {
    expect(key(['ripgrep', 'jq', 'jq'])).toBe(key(['jq', 'ripgrep']));
    expect(imageRecipe(BOOKWORM, ['ripgrep', 'jq', 'ripgrep']).packages).toEqual(imageRecipe(BOOKWORM, ['jq', 'ripgrep']).packages);
  });

  test('the base packages are always in the recipe, so naming one changes nothing', () => {
    expect(imageRecipe(BOOKWORM).packages).toEqual([...BASE_PACKAGES].sort());
    const withJq = imageRecipe(BOOKWORM, ['jq']).packages;
    for (const p of BASE_PACKAGES) expect(withJq).toContain(p);
    expect(withJq).toEqual([...withJq].sort());
    expect(withJq).toContain('jq');
    expect(key(['git', 'bash'])).toBe(key([]));
  });

  test('the recipe carries the source and IMAGE_RECIPE_VERSION; mirror and components are not part of it', () => {
    expect(imageRecipe(BOOKWORM, ['jq'])).toEqual({
      distribution: 'debian',
      suite: 'bookworm',
      architecture: 'amd64',
      packages: [...new Set([...BASE_PACKAGES, 'jq'])].sort(),
      recipe: IMAGE_RECIPE_VERSION,
    });
    expect(key(['jq'], { ...BOOKWORM, mirror: 'http://mirror.example/debian', components: ['main', 'contrib'] })).toBe(key(['jq']));
  });

  test('a different suite, architecture, distribution, package or recipe version gives a different key', () => {
    const base: ImageRecipe = imageRecipe(BOOKWORM, ['jq']);
    const variants: ImageRecipe[] = [
      base,
      { ...base, suite: 'trixie' },
      { ...base, architecture: 'arm64' },
      { ...base, distribution: 'ubuntu' },
      imageRecipe(BOOKWORM, ['jq', 'ripgrep']),
      imageRecipe(BOOKWORM, []),
      { ...base, recipe: IMAGE_RECIPE_VERSION + 1 },
    ];
    const keys = variants.map(imageKey);
    expect(new Set(keys).size).toBe(variants.length);
  });
});

describe('Debian package names', () => {
  test.each(['Foo', 'a', '-x', 'python3Packages.requests', 'bad name', 'jq;rm', '.hidden', 'x_y'])('"%s" is refused as bad_config naming it', (name) => {
    for (const fn of [() => checkDebianPackages(['jq', name]), () => imageRecipe(BOOKWORM, ['jq', name])]) {
      const err = hiveError(fn);
      expect(err.code).toBe('bad_config');
      expect(err.message).toContain(`"${name}"`);
      expect(err.message).toContain('not a Debian package name');
    }
  });

  test('real package names are accepted: python3, g++, libc6-dev, r-base, 7zip, libstdc++6', () => {
    const names = ['python3', 'g++', 'libc6-dev', 'r-base', '7zip', 'libstdc++6', 'python3.11'];
    expect(() => checkDebianPackages(names)).not.toThrow();
    expect(imageRecipe(BOOKWORM, names).packages).toEqual(expect.arrayContaining(names));
  });

  test('no packages at all is fine', () => {
    expect(() => checkDebianPackages([])).not.toThrow();
  });
});

/** dpkg's name for this host's architecture, or null without dpkg. */
const DPKG = Bun.which('dpkg');
const HOST_ARCH = DPKG ? Bun.spawnSync([DPKG, '--print-architecture']).stdout.toString().trim() : null;

describe('detectImageSource', () => {
  const env = { PATH: process.env.PATH };
  const osRelease = (text: string): string => {
    const file = join(scratch('hv-osr-'), 'os-release');
    writeFileSync(file, text);
    return file;
  };
  /** Asserts `got` is `want` with this host's architecture (or, without dpkg here, that dpkg is what is missing). */
  const expectSource = (got: ReturnType<typeof detectImageSource>, want: Omit<ImageSource, 'architecture'>) => {
    if (!HOST_ARCH) {
      expect(got).toEqual({ problem: expect.stringContaining('dpkg') });
      return;
    }
    expect(got).toEqual({ ...want, architecture: HOST_ARCH });
  };

  test("Debian bookworm: the default mirror, main, and dpkg's architecture", () => {
    const file = osRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n');
    expectSource(detectImageSource(env, file), { distribution: 'debian', suite: 'bookworm', mirror: null, components: ['main'] });
  });

  test('quoted values are read without their quotes', () => {
    const file = osRelease('ID="debian"\nVERSION_CODENAME="trixie"\n');
    expectSource(detectImageSource(env, file), { distribution: 'debian', suite: 'trixie', mirror: null, components: ['main'] });
  });

  test("Ubuntu noble: Ubuntu's archive, main and universe", () => {
    const file = osRelease('PRETTY_NAME="Ubuntu 24.04 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\nID=ubuntu\nID_LIKE=debian\nUBUNTU_CODENAME=noble\n');
    expectSource(detectImageSource(env, file), { distribution: 'ubuntu', suite: 'noble', mirror: 'http://archive.ubuntu.com/ubuntu', components: ['main', 'universe'] });
  });

  test('a Debian derivative (ID_LIKE=debian) is built as Debian with its code name', () => {
    const file = osRelease('PRETTY_NAME="Derived GNU/Linux 1"\nID=derived\nID_LIKE=debian\nVERSION_CODENAME=bookworm\n');
    expectSource(detectImageSource(env, file), { distribution: 'debian', suite: 'bookworm', mirror: null, components: ['main'] });
  });

  test('Fedora is refused: images come from Debian or Ubuntu', () => {
    const file = osRelease('NAME="Fedora Linux"\nVERSION="40 (Workstation Edition)"\nID=fedora\nVERSION_ID=40\nPRETTY_NAME="Fedora Linux 40 (Workstation Edition)"\n');
    const got = detectImageSource(env, file);
    expect(got).toEqual({ problem: expect.stringMatching(/Debian or Ubuntu/) });
    expect((got as { problem: string }).problem).toContain('Fedora Linux 40');
  });

  test('a host without VERSION_CODENAME (testing or unstable) is refused', () => {
    const file = osRelease('PRETTY_NAME="Debian GNU/Linux trixie/sid"\nNAME="Debian GNU/Linux"\nID=debian\n');
    expect(detectImageSource(env, file)).toEqual({ problem: expect.stringContaining('VERSION_CODENAME') });
  });

  test('an os-release that cannot be read is a problem naming it', () => {
    const missing = join(scratch('hv-osr-'), 'no-such-file');
    expect(detectImageSource(env, missing)).toEqual({ problem: expect.stringContaining(missing) });
    const aDir = scratch('hv-osr-');
    expect(detectImageSource(env, aDir)).toEqual({ problem: expect.stringContaining('cannot be read') });
  });

  test('without dpkg on PATH the architecture is unknown', () => {
    const file = osRelease('ID=debian\nVERSION_CODENAME=bookworm\n');
    expect(detectImageSource({ PATH: scratch('hv-path-') }, file)).toEqual({ problem: expect.stringContaining('the host architecture is unknown') });
  });

  test.skipIf(!DPKG)('an Ubuntu derivative builds from the Ubuntu release it names (UBUNTU_CODENAME), not its own code name', () => {
    const mint = osRelease('NAME="Linux Mint"\nID=linuxmint\nID_LIKE="ubuntu debian"\nVERSION_CODENAME=virginia\nUBUNTU_CODENAME=jammy\n');
    expect(detectImageSource(env, mint)).toMatchObject({ distribution: 'ubuntu', suite: 'jammy', components: ['main', 'universe'] });
    const elementary = osRelease('ID=elementary\nID_LIKE=ubuntu\nVERSION_CODENAME=horus\nUBUNTU_CODENAME=jammy\n');
    expect(detectImageSource(env, elementary)).toMatchObject({ distribution: 'ubuntu', suite: 'jammy' });
    expect(detectImageSource(env, osRelease('ID=pop\nID_LIKE="ubuntu debian"\nVERSION_CODENAME=jammy\n'))).toEqual({ problem: expect.stringContaining('UBUNTU_CODENAME') });
  });

  test.skipIf(!DPKG)("a Debian derivative with a code name of its own is refused; one that follows a Debian suite by name is taken", () => {
    const mx = osRelease('PRETTY_NAME="MX 23"\nID=mx\nID_LIKE=debian\nVERSION_CODENAME=libretto\n');
    expect(detectImageSource(env, mx)).toEqual({ problem: expect.stringContaining('"libretto" is not a Debian suite') });
    expect(detectImageSource(env, osRelease('ID=raspbian\nID_LIKE=debian\nVERSION_CODENAME=bookworm\n'))).toMatchObject({ distribution: 'debian', suite: 'bookworm' });
  });

  test.skipIf(!DPKG)('single-quoted values and CRLF line ends are read as os-release(5) allows', () => {
    expect(detectImageSource(env, osRelease("ID='debian'\r\nVERSION_CODENAME='bookworm'\r\n"))).toMatchObject({ distribution: 'debian', suite: 'bookworm' });
  });

  test.skipIf(!DPKG)('the architecture is what dpkg --print-architecture says', () => {
    const got = detectImageSource(env, osRelease('ID=debian\nVERSION_CODENAME=bookworm\n'));
    expect(got).toMatchObject({ architecture: HOST_ARCH! });
    expect(HOST_ARCH).toMatch(/^[a-z0-9-]+$/);
  });
});

describe('mmdebstrapArgv', () => {
  const recipe = imageRecipe(BOOKWORM, ['ripgrep', 'jq']);

  test('root mode, the essential variant, the architecture, components and the sorted packages', () => {
    const argv = mmdebstrapArgv('/usr/bin/mmdebstrap', recipe, '/images/.build-x/root', { mirror: null, components: ['main'] });
    expect(argv[0]).toBe('/usr/bin/mmdebstrap');
    expect(argv).toContain('--mode=root');
    expect(argv).toContain('--variant=essential');
    expect(argv).toContain('--architectures=amd64');
    expect(argv).toContain('--components=main');
    expect(argv).toContain('--include=bash,ca-certificates,coreutils,curl,git,jq,ripgrep');
    expect(argv.filter((a) => a.startsWith('--include='))).toHaveLength(1);
  });

  test('documentation is left out, copyright files kept', () => {
    const argv = mmdebstrapArgv('mmdebstrap', recipe, '/t', { mirror: null, components: ['main'] });
    expect(argv).toContain('--dpkgopt=path-exclude=/usr/share/doc/*');
    expect(argv).toContain('--dpkgopt=path-exclude=/usr/share/man/*');
    expect(argv).toContain('--dpkgopt=path-include=/usr/share/doc/*/copyright');
  });

  test('suite then target after every option, and no mirror when the source has none', () => {
    const argv = mmdebstrapArgv('mmdebstrap', recipe, '/t', { mirror: null, components: ['main'] });
    expect(argv.slice(-2)).toEqual(['bookworm', '/t']);
    expect(argv.slice(1, -2).every((a) => a.startsWith('--'))).toBe(true);
  });

  test("the mirror comes last when set, with Ubuntu's components", () => {
    const noble = imageRecipe({ distribution: 'ubuntu', suite: 'noble', architecture: 'arm64', mirror: 'http://archive.ubuntu.com/ubuntu', components: ['main', 'universe'] }, ['jq']);
    const argv = mmdebstrapArgv('mmdebstrap', noble, '/t', { mirror: 'http://archive.ubuntu.com/ubuntu', components: ['main', 'universe'] });
    expect(argv.slice(-3)).toEqual(['noble', '/t', 'http://archive.ubuntu.com/ubuntu']);
    expect(argv).toContain('--components=main,universe');
    expect(argv).toContain('--architectures=arm64');
    expect(argv.slice(1, -3).every((a) => a.startsWith('--'))).toBe(true);
  });
});

// ── the store ────────────────────────────────────────────────────────────────

/** Writes a finished image `key` into `dir` by hand: its `image.json`, an empty `root` and `etc`. */
function fabricateImage(dir: string, key: string, meta: { packages?: string[]; bytes: number; built_at: number; build_ms?: number }): void {
  mkdirSync(join(dir, key, 'root'), { recursive: true });
  mkdirSync(join(dir, key, 'etc'));
  const recipe = imageRecipe(BOOKWORM, meta.packages ?? []);
  writeFileSync(join(dir, key, 'image.json'), `${JSON.stringify({ ...recipe, key, bytes: meta.bytes, built_at: meta.built_at, build_ms: meta.build_ms ?? 1000 }, null, 2)}\n`);
}

describe('Images: the store on disk', () => {
  const kBase = key([]);
  const kJq = key(['jq']);
  const kPy = key(['python3']);
  const store = (dir: string, log: (l: string) => void = () => {}) => new Images({ dir, source: BOOKWORM, log });

  test('rootOf is <dir>/<key>/root; has() needs image.json', () => {
    const dir = scratch();
    const images = store(dir);
    expect(images.dir).toBe(dir);
    expect(images.rootOf(kJq)).toBe(join(dir, kJq, 'root'));
    expect(images.has(kJq)).toBe(false);
    mkdirSync(join(dir, kJq, 'root'), { recursive: true });
    expect(images.has(kJq)).toBe(false);
    fabricateImage(dir, kJq, { packages: ['jq'], bytes: 1, built_at: 1 });
    expect(images.has(kJq)).toBe(true);
  });

  test('list gives every finished image newest first, with its fields and sorted users', () => {
    const dir = scratch();
    fabricateImage(dir, kBase, { bytes: 100, built_at: 1_000, build_ms: 11 });
    fabricateImage(dir, kJq, { packages: ['jq'], bytes: 200, built_at: 3_000, build_ms: 22 });
    fabricateImage(dir, kPy, { packages: ['python3'], bytes: 300, built_at: 2_000, build_ms: 33 });
    mkdirSync(join(dir, 'abcdefabcdefabcd', 'root'), { recursive: true }); // no image.json: not finished
    mkdirSync(join(dir, `.build-${kBase}-2147483646`)); // a build's leftovers are no image
    const list = store(dir).list(new Map([[kJq, ['zed', 'alice']], [kBase, ['bob']]]));
    expect(list.map((i) => i.key)).toEqual([kJq, kPy, kBase]);
    expect(list[0]).toEqual({
      key: kJq,
      distribution: 'debian',
      suite: 'bookworm',
      architecture: 'amd64',
      packages: imageRecipe(BOOKWORM, ['jq']).packages,
      bytes: 200,
      built_at: 3_000,
      build_ms: 22,
      users: ['alice', 'zed'],
    });
    expect(list[1]!.users).toEqual([]);
    expect(list[2]!.users).toEqual(['bob']);
    expect(store(dir).list().every((i) => i.users.length === 0)).toBe(true);
  });

  test('an images dir that does not exist yet lists and prunes nothing', () => {
    const dir = join(scratch(), 'images');
    expect(store(dir).list()).toEqual([]);
    expect(store(dir).prune(new Set())).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });

  test('prune removes exactly the unused images, returning their sizes, and logs each', () => {
    const dir = scratch();
    const logs: string[] = [];
    fabricateImage(dir, kBase, { bytes: 100, built_at: 1 });
    fabricateImage(dir, kJq, { packages: ['jq'], bytes: 200, built_at: 2 });
    fabricateImage(dir, kPy, { packages: ['python3'], bytes: 300, built_at: 3 });
    const half = 'abcdefabcdefabcd';
    mkdirSync(join(dir, half, 'root'), { recursive: true }); // an unfinished image: removed, 0 bytes
    writeFileSync(join(dir, 'README'), 'not an image\n');
    const removed = store(dir, (l) => logs.push(l)).prune(new Set([kJq]));
    expect([...removed].sort((a, b) => a.key.localeCompare(b.key))).toEqual(
      [
        { key: kBase, bytes: 100 },
        { key: kPy, bytes: 300 },
        { key: half, bytes: 0 },
      ].sort((a, b) => a.key.localeCompare(b.key)),
    );
    expect(existsSync(join(dir, kJq, 'image.json'))).toBe(true);
    for (const k of [kBase, kPy, half]) expect(existsSync(join(dir, k))).toBe(false);
    expect(existsSync(join(dir, 'README'))).toBe(true);
    expect(logs).toContain(`image ${kBase}: removed (no agent uses it)`);
    expect(logs).toContain(`image ${kPy}: removed (no agent uses it)`);
    expect(store(dir).prune(new Set([kJq]))).toEqual([]);
  });

  test("prune removes leftover builds of dead processes and of this one, and keeps a live process's", () => {
    const dir = scratch();
    fabricateImage(dir, kJq, { packages: ['jq'], bytes: 200, built_at: 2 });
    const dead = join(dir, `.build-${kJq}-2147483646`);
    const mine = join(dir, `.build-${kBase}-${process.pid}`);
    const live = join(dir, `.build-${kPy}-1`); // pid 1 is always alive: another core's build under way
    const odd = join(dir, '.build-nothex-2147483646');
    for (const d of [dead, mine, live, odd]) mkdirSync(join(d, 'root'), { recursive: true });
    const removed = store(dir).prune(new Set([kJq]));
    expect(removed).toEqual([]); // leftover builds are not images
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(mine)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(odd)).toBe(true);
    expect(existsSync(join(dir, kJq))).toBe(true);
  });
});

describe('Images where images cannot be built', () => {
  const unavailable = () => new Images({ dir: scratch(), source: { problem: 'x' }, log: () => {} });

  test('the problem is kept and nothing is built from anywhere', () => {
    const images = unavailable();
    expect(images.problem).toBe('x');
    expect(images.from).toBeNull();
  });

  test('recipe() and keyFor() throw unavailable naming the problem and --host-root', () => {
    const images = unavailable();
    for (const fn of [() => images.recipe(), () => images.recipe(['jq']), () => images.keyFor(['jq'])]) {
      const err = hiveError(fn);
      expect(err.code).toBe('unavailable');
      expect(err.message).toContain('--host-root');
      expect(err.message).toContain(': x;');
    }
  });

  test('ensure() refuses the same way before building anything', async () => {
    const images = unavailable();
    const err = await images.ensure(['jq']).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HiveError);
    expect((err as HiveError).code).toBe('unavailable');
    expect(readdirSync(images.dir)).toEqual([]); // no .build-* dir was made
  });

  test('list, has and prune still work on what is there', () => {
    const images = unavailable();
    fabricateImage(images.dir, key([]), { bytes: 5, built_at: 5 });
    expect(images.has(key([]))).toBe(true);
    expect(images.list().map((i) => i.key)).toEqual([key([])]);
    expect(images.prune(new Set())).toEqual([{ key: key([]), bytes: 5 }]);
  });

  test('imageUsers counts agents by their running root only', () => {
    const images = unavailable();
    const users = imageUsers(images, [
      { name: 'alice', packages: ['jq'], root: null },
      { name: 'bob', packages: ['jq'], root: images.rootOf('0123456789abcdef') },
    ]);
    expect(Object.fromEntries(users)).toEqual({ '0123456789abcdef': ['bob'] });
  });
});

// keyFor needs a store that can build (mmdebstrap on PATH, root), though nothing is built here
const buildable = requires('image keys of a store that can build', 'root', 'mmdebstrap');

buildable.describe('Images that can be built here', () => {
  buildable.test('no problem, from is the source, keyFor is the key of the recipe', () => {
    const images = new Images({ dir: scratch(), source: BOOKWORM, log: () => {} });
    expect(images.problem).toBeNull();
    expect(images.from).toEqual(BOOKWORM);
    expect(images.recipe(['jq'])).toEqual(imageRecipe(BOOKWORM, ['jq']));
    expect(images.keyFor(['ripgrep', 'jq', 'jq'])).toBe(key(['jq', 'ripgrep']));
    expect(images.keyFor()).toBe(key([]));
    const err = hiveError(() => images.keyFor(['Foo']));
    expect(err.code).toBe('bad_config');
    expect(err.message).toContain('"Foo"');
  });

  buildable.test("imageUsers: agents by their config's image and by their running root", () => {
    const dir = scratch();
    const images = new Images({ dir, source: BOOKWORM, log: () => {} });
    const kBase = key([]);
    const kJq = key(['jq']);
    const kOld = 'feedfacefeedface';
    const users = imageUsers(images, [
      { name: 'alice', packages: ['jq'], root: null },
      { name: 'bob', packages: [], root: images.rootOf(kBase) }, // config and root agree: counted once
      { name: 'carol', packages: ['jq'], root: images.rootOf(kOld) }, // a changed config waiting for a rebuild: both
      { name: 'dave', packages: ['Bad Name'], root: null }, // a name the check refuses: no image
      { name: 'erin', packages: null, root: images.rootOf(kOld) }, // unreadable config: by its root only
      { name: 'frank', packages: null, root: null },
      { name: 'gina', packages: null, root: '/elsewhere/0123456789abcdef/root' }, // not in the images dir
      { name: 'hank', packages: null, root: `${dir}-other/0123456789abcdef/root` }, // a sibling dir sharing the prefix
      { name: 'ivy', packages: ['Bad Name'], root: images.rootOf(kJq) }, // bad config, running on an image
    ]);
    expect(Object.fromEntries(users)).toEqual({
      [kJq]: ['alice', 'carol', 'ivy'],
      [kBase]: ['bob'],
      [kOld]: ['carol', 'erin'],
    });
  });
});

// ── the sandbox on an image ──────────────────────────────────────────────────

/** Host files under /etc the host layout shows (as `sandbox.ts` lists them). */
const HOST_ETC = ['/etc/ssl', '/etc/ca-certificates', '/etc/resolv.conf', '/etc/hosts', '/etc/nsswitch.conf', '/etc/localtime'];
const CLAUDE_BIN = join(PACKAGE_ROOT, 'node_modules', '.bin', 'claude');

/**
 * A fabricated image as the store keeps one (`<key>/root`, with its `/etc` beside it in
 * `<key>/etc`, see {@link imageEtc}): `usr/bin`, `usr/lib`, a real `lib64` directory, merged-usr
 * symlinks `bin` and `lib`, an empty `etc`, and an `/etc` with passwd, group and hostname.
 * @returns the tree (`<key>/root`).
 */
function imageTree(dir: string): string {
  const image = join(dir, 'images', '0123456789abcdef', 'root');
  for (const d of ['usr/bin', 'usr/lib', 'lib64', 'etc']) mkdirSync(join(image, d), { recursive: true });
  const etc = imageEtc(image);
  mkdirSync(etc);
  writeFileSync(join(etc, 'passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
  writeFileSync(join(etc, 'group'), 'root:x:0:\n');
  writeFileSync(join(etc, 'hostname'), 'localhost\n');
  symlinkSync('usr/bin', join(image, 'bin'));
  symlinkSync('usr/lib', join(image, 'lib'));
  return image;
}

/** Agent alice's spec and layout in a fresh data dir, on `root` (an image) or, with null, on the host's. */
function sandboxFor(root: string | null | undefined, dir = scratch('hv-img-sb-'), binds: SandboxSpec['binds'] = []) {
  const data = join(dir, 'data');
  const layout = new DataLayout(data);
  const paths = layout.agent('alice');
  for (const d of [paths.state, paths.claude, paths.socketDir]) mkdirSync(d, { recursive: true });
  const spec: SandboxSpec = {
    name: 'alice',
    role: 'agent',
    paths,
    command: ['true'],
    env: { PATH: '/usr/bin:/bin' },
    binds,
    configEnv: { GREETING: 'hi' },
    ...(root === undefined ? {} : { root }),
  };
  const l = sandboxLayout(spec, { runDir: layout.sandboxDir('alice'), dataDir: data, claudeBin: CLAUDE_BIN, proposedDir: layout.proposedDir });
  return { dir, data, layout, paths, spec, sandbox: l };
}

/** An image layout with a directory bound at /usr/local/share/x and a file at /usr/local/bin/tool. */
function imageSandbox() {
  const dir = scratch('hv-img-sb-');
  const image = imageTree(dir);
  const shareSrc = join(dir, 'share');
  mkdirSync(shareSrc);
  const toolSrc = join(dir, 'tool');
  writeFileSync(toolSrc, '#!/bin/sh\n');
  const outside = join(dir, 'outside');
  mkdirSync(outside);
  const binds = [
    { src: shareSrc, dst: '/usr/local/share/x', rw: false },
    { src: toolSrc, dst: '/usr/local/bin/tool', rw: false },
    { src: outside, dst: '/data', rw: true },
  ];
  return { image, shareSrc, toolSrc, outside, ...sandboxFor(image, dir, binds) };
}

const etcDsts = (l: SandboxLayout) => l.mounts.filter((m) => m.dst === '/etc' || m.dst.startsWith('/etc/')).map((m) => m.dst);

describe('sandboxLayout on an image', () => {
  test("the image's /usr and /etc, the generated passwd, group and hostname over them, root is the image", () => {
    const { image, sandbox: l, layout } = imageSandbox();
    expect(l.root).toBe(image);
    expect(l.etc).toBe(join(layout.sandboxDir('alice'), 'etc'));
    expect(l.mounts[0]).toEqual({ src: join(image, 'usr'), dst: '/usr', rw: false });
    expect(imageEtc(image)).toBe(join(image, '..', 'etc'));
    expect(l.mounts).toContainEqual({ src: imageEtc(image), dst: '/etc', rw: false });
    const at = (dst: string) => l.mounts.findIndex((m) => m.dst === dst);
    for (const f of ['passwd', 'group', 'hostname']) {
      expect(l.mounts).toContainEqual({ src: join(l.etc, f), dst: `/etc/${f}`, rw: false });
      expect(at('/etc')).toBeLessThan(at(`/etc/${f}`));
    }
    expect(readFileSync(join(l.etc, 'hostname'), 'utf8')).toBe('alice\n');
    expect(readFileSync(join(l.etc, 'passwd'), 'utf8')).toStartWith('root:x:0:0:hive agent alice:/root:');
    // the image's own files are left as they were
    expect(readFileSync(join(imageEtc(image), 'hostname'), 'utf8')).toBe('localhost\n');
    expect(readdirSync(join(image, 'etc'))).toEqual([]);
  });

  test("nothing of the host's /usr or /etc is shown", () => {
    const { sandbox: l } = imageSandbox();
    expect(etcDsts(l)).toEqual(['/etc', '/etc/passwd', '/etc/group', '/etc/hostname']);
    for (const p of HOST_ETC) expect(l.mounts.some((m) => m.dst === p || m.src === p)).toBe(false);
    expect(l.mounts.some((m) => m.src === '/usr' || m.src.startsWith('/etc/') || m.src === '/etc')).toBe(false);
  });

  test("merged-usr symlinks are read from the image; a real top-level directory is bound from it", () => {
    const { image, sandbox: l } = imageSandbox();
    expect(l.symlinks).toEqual([
      { path: '/bin', target: 'usr/bin' },
      { path: '/lib', target: 'usr/lib' },
    ]);
    expect(l.mounts).toContainEqual({ src: join(image, 'lib64'), dst: '/lib64', rw: false });
    for (const p of ['/sbin', '/lib32', '/libx32']) expect(l.mounts.some((m) => m.dst === p)).toBe(false);
  });

  test("the agent's own places, the config's variables and binds are as on the host", () => {
    const { sandbox: l, paths, outside, shareSrc } = imageSandbox();
    expect(l.mounts).toContainEqual({ src: paths.state, dst: '/state', rw: true });
    expect(l.mounts).toContainEqual({ src: paths.claude, dst: '/root/.claude', rw: true });
    expect(l.mounts).toContainEqual({ src: paths.socketDir, dst: '/run/hive', rw: true });
    expect(l.mounts).toContainEqual({ src: outside, dst: '/data', rw: true });
    expect(l.mounts).toContainEqual({ src: shareSrc, dst: '/usr/local/share/x', rw: false });
    expect(l.configEnv).toEqual({ GREETING: 'hi' });
    expect(l.env).toMatchObject({ HOME: '/root', HIVE_SOCKET: '/run/hive/mcp.sock', HIVE_STATE_DIR: '/state', PATH: '/usr/bin:/bin' });
    expect(l.cwd).toBe('/state');
  });

  test('code paths are bound even under /usr, since the image has its own /usr', () => {
    const { image, sandbox: l } = imageSandbox();
    const code = codePaths(CLAUDE_BIN, false);
    expect(code).toContain(PACKAGE_ROOT);
    for (const c of code) {
      expect(l.mounts).toContainEqual({ src: c, dst: c, rw: false });
      if (c.startsWith('/usr/')) {
        // its mount point was made inside the image, of the same kind
        expect(existsSync(join(image, c))).toBe(true);
        expect(statSync(join(image, c)).isDirectory()).toBe(statSync(c).isDirectory());
      }
    }
  });

  test('a bind under /usr gets its mount point made inside the image: a directory for a directory, an empty file for a file', () => {
    const dir = scratch('hv-img-sb-');
    const image = imageTree(dir);
    const shareSrc = join(dir, 'share');
    mkdirSync(shareSrc);
    const toolSrc = join(dir, 'tool');
    writeFileSync(toolSrc, '#!/bin/sh\necho tool\n');
    expect(existsSync(join(image, 'usr', 'local'))).toBe(false);
    const { sandbox: l } = sandboxFor(image, dir, [
      { src: shareSrc, dst: '/usr/local/share/x', rw: false },
      { src: toolSrc, dst: '/usr/local/bin/tool', rw: false },
    ]);
    expect(statSync(join(image, 'usr/local/share/x')).isDirectory()).toBe(true);
    expect(statSync(join(image, 'usr/local/bin/tool')).isFile()).toBe(true);
    expect(statSync(join(image, 'usr/local/bin/tool')).size).toBe(0);
    // binds come after /usr, so the mount point is there when they are made
    const at = (dst: string) => l.mounts.findIndex((m) => m.dst === dst);
    expect(at('/usr')).toBe(0);
    expect(at('/usr/local/share/x')).toBeGreaterThan(0);
  });

  test("a bind under /etc gets its mount point in the image's /etc beside the tree, not in the tree", () => {
    const dir = scratch('hv-img-sb-');
    const image = imageTree(dir);
    const conf = join(dir, 'extra.conf');
    writeFileSync(conf, 'x=1\n');
    const { sandbox: l } = sandboxFor(image, dir, [{ src: conf, dst: '/etc/hive/extra.conf', rw: false }]);
    expect(l.mounts).toContainEqual({ src: conf, dst: '/etc/hive/extra.conf', rw: false });
    expect(statSync(join(imageEtc(image), 'hive', 'extra.conf')).size).toBe(0);
    expect(readdirSync(join(image, 'etc'))).toEqual([]);
  });

  test('nothing is made in the image for places outside its /usr and /etc', () => {
    const { image } = imageSandbox();
    for (const p of ['state', 'root', 'run', 'data', 'tmp']) expect(existsSync(join(image, p))).toBe(false);
    expect(readFileSync(join(imageEtc(image), 'passwd'), 'utf8')).toBe('root:x:0:0:root:/root:/bin/bash\n');
    expect(readdirSync(join(image, 'etc'))).toEqual([]);
  });
});

describe('sandboxLayout on the host (--host-root)', () => {
  for (const [what, root] of [
    ['root null', null],
    ['root absent', undefined],
  ] as const) {
    test(`${what}: the host's /usr and its /etc files that exist, no /etc of an image`, () => {
      const { sandbox: l } = sandboxFor(root);
      expect(l.root).toBe('/');
      expect(l.mounts[0]).toEqual({ src: '/usr', dst: '/usr', rw: false });
      expect(l.mounts.some((m) => m.dst === '/etc')).toBe(false);
      for (const f of ['passwd', 'group', 'hostname']) expect(l.mounts).toContainEqual({ src: join(l.etc, f), dst: `/etc/${f}`, rw: false });
      for (const p of HOST_ETC) {
        if (existsSync(p)) expect(l.mounts).toContainEqual({ src: realpathSync(p), dst: p, rw: false });
        else expect(l.mounts.some((m) => m.dst === p)).toBe(false);
      }
    });
  }

  test("the host's merged-usr symlinks, and code paths under the host's /usr are not bound again", () => {
    const { sandbox: l } = sandboxFor(null);
    for (const p of ['/bin', '/sbin', '/lib', '/lib64']) {
      if (!existsSync(p)) continue;
      if (lstatSync(p).isSymbolicLink()) expect(l.symlinks).toContainEqual({ path: p, target: readlinkSync(p) });
      else expect(l.mounts).toContainEqual({ src: p, dst: p, rw: false });
    }
    for (const c of codePaths(CLAUDE_BIN, true)) expect(c.startsWith('/usr/')).toBe(false);
    expect(l.mounts.filter((m) => m.dst.startsWith('/usr/'))).toEqual([]);
  });

  test('a harness bundle in the data dir is shown at /run/hive-harness, and the command runs it there', () => {
    const { sandbox: plain, layout, spec } = sandboxFor(null);
    expect(plain.command).toEqual(['true']);
    expect(plain.mounts.some((m) => m.dst === INSIDE.harness)).toBe(false);
    const bundle = join(layout.harnessDir, '0123456789ab');
    const harnessSpec = { ...spec, command: [process.execPath, join(bundle, 'main.js'), 'agent', 'serve'] };
    const l = sandboxLayout(harnessSpec, { runDir: layout.sandboxDir('alice'), dataDir: layout.dataDir, claudeBin: CLAUDE_BIN, proposedDir: layout.proposedDir });
    expect(l.command).toEqual([process.execPath, '/run/hive-harness/main.js', 'agent', 'serve']);
    expect(l.mounts.filter((m) => m.dst === INSIDE.harness)).toEqual([{ src: bundle, dst: '/run/hive-harness', rw: false }]);
    // the data dir itself is not bound anywhere
    expect(l.mounts.some((m) => m.src === layout.dataDir || m.src === layout.harnessDir)).toBe(false);
    // the source entry point is left as it is
    const source = sandboxLayout({ ...spec, command: [process.execPath, join(PACKAGE_ROOT, 'src', 'main.ts'), 'agent', 'serve'] }, { runDir: layout.sandboxDir('alice'), dataDir: layout.dataDir, claudeBin: CLAUDE_BIN, proposedDir: layout.proposedDir });
    expect(source.command[1]).toBe(join(PACKAGE_ROOT, 'src', 'main.ts'));
    expect(source.mounts.some((m) => m.dst === INSIDE.harness)).toBe(false);
  });
});

describe('nspawnArgs', () => {
  test('on an image: -D the image, its /etc as an overlay under the generated files, no /etc or /usr binds', () => {
    const { image, sandbox: l, paths, shareSrc } = imageSandbox();
    const args = nspawnArgs('alice', l);
    expect(args).toContain(`--directory=${image}`);
    expect(args).toContain('--volatile=yes');
    expect(args.filter((a) => a.startsWith('--overlay'))).toEqual([`--overlay-ro=${imageEtc(image)}:${l.etc}:/etc`]);
    const binds = args.filter((a) => a.startsWith('--bind'));
    expect(binds.some((a) => /:\/etc(:|$)/.test(a))).toBe(false);
    expect(binds.some((a) => a.includes(`${l.etc}/`))).toBe(false);
    expect(binds.some((a) => /:\/usr(:|$)/.test(a))).toBe(false);
    expect(binds.some((a) => a.includes(':/etc/'))).toBe(false);
    expect(binds).toContain(`--bind=${paths.state}:/state`);
    expect(binds).toContain(`--bind-ro=${shareSrc}:/usr/local/share/x`);
    expect(args).toContain('--setenv=GREETING=hi');
    expect(args.at(-1)).toBe('--chdir=/state');
  });

  test('on an image with a user namespace: writable binds id-mapped, read-only ones not', () => {
    const { sandbox: l, paths, shareSrc } = imageSandbox();
    const args = nspawnArgs('alice', l, true);
    expect(args).toContain('--private-users=pick');
    expect(args).toContain(`--bind=${paths.state}:/state:idmap`);
    expect(args).toContain(`--bind-ro=${shareSrc}:/usr/local/share/x`);
    expect(args.filter((a) => a.startsWith('--overlay-ro='))).toHaveLength(1);
  });

  test("on the host: -D /, no overlay, the generated /etc files and host /etc files bound", () => {
    const { sandbox: l } = sandboxFor(null);
    const args = nspawnArgs('alice', l);
    expect(args).toContain('--directory=/');
    expect(args.some((a) => a.startsWith('--overlay'))).toBe(false);
    for (const f of ['passwd', 'group', 'hostname']) expect(args).toContain(`--bind-ro=${l.etc}/${f}:/etc/${f}`);
    if (existsSync('/etc/hosts')) expect(args).toContain(`--bind-ro=${realpathSync('/etc/hosts')}:/etc/hosts`);
    expect(args.some((a) => /^--bind(-ro)?=\/usr:\/usr/.test(a))).toBe(false);
  });
});

/** Index of `--ro-bind src dst` (or `--bind`) in a bwrap argv, -1 when absent. */
function bwrapBind(args: string[], src: string, dst: string, flag = '--ro-bind'): number {
  return args.findIndex((a, i) => a === flag && args[i + 1] === src && args[i + 2] === dst);
}

describe('bwrapArgs', () => {
  test("on an image: the image's /usr and /etc read-only, before the generated files over /etc", () => {
    const { image, sandbox: l, paths } = imageSandbox();
    const args = bwrapArgs('alice', l);
    const usr = bwrapBind(args, join(image, 'usr'), '/usr');
    const etc = bwrapBind(args, imageEtc(image), '/etc');
    expect(usr).toBeGreaterThanOrEqual(0);
    expect(etc).toBeGreaterThan(usr);
    for (const f of ['passwd', 'group', 'hostname']) expect(bwrapBind(args, join(l.etc, f), `/etc/${f}`)).toBeGreaterThan(etc);
    expect(bwrapBind(args, '/usr', '/usr')).toBe(-1);
    expect(bwrapBind(args, paths.state, '/state', '--bind')).toBeGreaterThan(etc);
    expect(args.join(' ')).toContain('--symlink usr/bin /bin');
    expect(args.join(' ')).toContain('--symlink usr/lib /lib');
    expect(bwrapBind(args, join(image, 'lib64'), '/lib64')).toBeGreaterThan(usr);
  });

  test("on the host: the host's /usr, no /etc bind", () => {
    const { sandbox: l } = sandboxFor(null);
    const args = bwrapArgs('alice', l);
    expect(bwrapBind(args, '/usr', '/usr')).toBeGreaterThanOrEqual(0);
    expect(args.some((a, i) => a === '--ro-bind' && args[i + 2] === '/etc')).toBe(false);
  });
});

// ── configuration ────────────────────────────────────────────────────────────

describe('packages in agent.toml', () => {
  const parse = (toml: string) => parseAgentConfig(toml, 'agent.toml').config;
  const refusal = (toml: string): HiveError => hiveError(() => parse(toml));

  test('packages are kept sorted without duplicates; none by default', () => {
    expect(parse('packages = ["jq", "ripgrep", "jq"]').packages).toEqual(['jq', 'ripgrep']);
    expect(parse('packages = ["ripgrep", "jq"]').packages).toEqual(['jq', 'ripgrep']);
    expect(parse('').packages).toEqual([]);
    expect(parse('packages = []').packages).toEqual([]);
    expect(DEFAULT_AGENT_CONFIG.packages).toEqual([]);
  });

  test('nixpkgs attribute names pass the config (the images refuse them as Debian names)', () => {
    expect(parse('packages = ["python3Packages.requests", "g++"]').packages).toEqual(['g++', 'python3Packages.requests']);
  });

  test('a name with a space is refused as bad_config naming packages.N', () => {
    const err = refusal('packages = ["bad name"]');
    expect(err.code).toBe('bad_config');
    expect(err.message).toStartWith('agent.toml: packages.0: ');
    expect(refusal('packages = ["jq", "-x"]').message).toContain('packages.1');
    expect(refusal('packages = "jq"').message).toContain('packages');
  });

  test(`at most ${MAX_PACKAGES} entries, each at most 128 characters`, () => {
    const list = (n: number) => `packages = [${Array.from({ length: n }, (_, i) => `"p${i}"`).join(', ')}]`;
    expect(parse(list(MAX_PACKAGES)).packages).toHaveLength(MAX_PACKAGES);
    const err = refusal(list(MAX_PACKAGES + 1));
    expect(err.code).toBe('bad_config');
    expect(err.message).toContain('agent.toml: packages: ');
    expect(refusal(`packages = ["${'a'.repeat(129)}"]`).message).toContain('packages.0');
  });
});

describe('the core: --images-dir and --host-root', () => {
  const dataDir = '/tmp/hv-img-settings/data';
  const load = (flags: Record<string, unknown> = {}, env: Record<string, string> = {}) => loadCoreConfig({ 'data-dir': dataDir, ...flags }, env);

  test('images are kept in <data-dir>/images by default', () => {
    expect(load().imagesDir).toBe(join(dataDir, 'images'));
  });

  test('--images-dir and HIVE_IMAGES_DIR are honoured, made absolute; the flag wins', () => {
    expect(load({ 'images-dir': '/srv/images' }).imagesDir).toBe('/srv/images');
    expect(load({ 'images-dir': 'rel/images' }).imagesDir).toBe(resolve('rel/images'));
    expect(load({}, { HIVE_IMAGES_DIR: '/var/cache/hive-images' }).imagesDir).toBe('/var/cache/hive-images');
    expect(load({}, { HIVE_IMAGES_DIR: 'env-rel' }).imagesDir).toBe(resolve('env-rel'));
    expect(load({ 'images-dir': '/from/flag' }, { HIVE_IMAGES_DIR: '/from/env' }).imagesDir).toBe('/from/flag');
  });

  test('host-root is off by default, on with --host-root or HIVE_HOST_ROOT=1 only', () => {
    expect(load().hostRoot).toBe(false);
    expect(load({ 'host-root': true }).hostRoot).toBe(true);
    expect(load({}, { HIVE_HOST_ROOT: '1' }).hostRoot).toBe(true);
    expect(load({}, { HIVE_HOST_ROOT: '0' }).hostRoot).toBe(false);
    expect(load({}, { HIVE_HOST_ROOT: '' }).hostRoot).toBe(false);
  });
});

describe('hive ctl images', () => {
  const env = { HIVE_DATA_DIR: '/tmp/hv-img-ctl' };
  const args = (argv: string[]) => {
    const r = parseCtlArgs(argv, env);
    if (!('args' in r)) throw new Error(`help instead of args for ${argv.join(' ')}`);
    return r.args;
  };
  const usage = (argv: string[]): CtlUsageError => {
    try {
      parseCtlArgs(argv, env);
    } catch (err) {
      expect(err).toBeInstanceOf(CtlUsageError);
      return err as CtlUsageError;
    }
    throw new Error(`accepted: ${argv.join(' ')}`);
  };

  test('`images` lists; `images --prune` prunes first; the option may come first', () => {
    expect(args(['images'])).toMatchObject({ command: 'images', positionals: [], prune: false, dataDir: '/tmp/hv-img-ctl' });
    expect(args(['images', '--prune'])).toMatchObject({ command: 'images', positionals: [], prune: true });
    expect(args(['--prune', 'images', '--json'])).toMatchObject({ command: 'images', prune: true, json: true });
  });

  test('images takes no argument; --prune takes no value and belongs to images only', () => {
    const extra = usage(['images', 'foo']);
    expect(extra.message).toBe('images takes no arguments; unexpected "foo"');
    expect(extra.command).toBe('images');
    expect(usage(['images', '--prune=yes']).message).toBe('--prune takes no value');
    expect(usage(['list', '--prune']).message).toBe('list does not take --prune');
  });

  test('`images --help` shows its form', () => {
    const r = parseCtlArgs(['images', '--help'], env);
    expect('help' in r && r.help).toContain('images [--prune]');
  });
});
