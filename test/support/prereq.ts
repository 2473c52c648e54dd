/**
 * What a test file needs from the machine, and what happens when it is not there.
 *
 * A file that needs more than Bun and `bun install` (root, a sandbox runtime, Chromium, curl, git …)
 * declares it once at the top, and takes its `describe`/`test`/hooks from the declaration:
 *
 * ```ts
 * const { describe, test, beforeAll, afterAll } = requires('browser dashboard', 'chromium', 'git');
 * ```
 *
 * When everything is there these are Bun's own functions. When something is missing, the file's
 * tests are skipped, its hooks do not run, and one line says why:
 * `skip: browser dashboard — Chromium not found on PATH (apt install chromium)`.
 * With `HIVE_TEST_REQUIRE_ALL=1` (as CI runs) a missing prerequisite is a failed test instead,
 * named after the suite, with the same reason.
 *
 * Each check runs at most once per `bun test` process; the sandbox checks start a real container,
 * using the same probes as the core (`src/core/runtime`), so a suite runs exactly when the core
 * would accept its runtime.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, setDefaultTimeout, test } from 'bun:test';
import { tmpdir } from 'node:os';
import { probeRuntime } from '../../src/core/runtime/detect.ts';
import { probeUserNamespaces } from '../../src/core/runtime/nspawn.ts';
import { Images } from '../../src/core/images/images.ts';

/**
 * One thing a suite can need:
 * - `root`: the tests run as uid 0.
 * - `git`, `curl`, `node`, `ps`: that command on `PATH` (`node` runs the `tsc` and `xss-scan` scripts).
 * - `chromium`: a Chromium that starts, for playwright-core (see {@link chromiumPath}).
 * - `nspawn`: the `nspawn` runtime works here (root, `systemd-nspawn`, a test container runs).
 * - `nspawn-userns`: as `nspawn`, and its containers get a private user namespace (root inside is
 *   not root on the host).
 * - `bwrap`: the `bwrap` runtime works here (`bwrap`, a test sandbox with a user namespace runs).
 * - `nix-instantiate`: that command on `PATH` (Debian: `nix-bin`), to parse and evaluate `.nix` files
 *   without nixpkgs.
 * - `netns`: network namespaces can be made here (root and iproute2's `ip`): test hosts joined by
 *   veth pairs (`test/support/netns.ts`).
 * - `nats-server`: that command on `PATH` (Debian: `nats-server`, 2.9 with JetStream), for the federation's tests.
 * - `mmdebstrap`: that command on `PATH` and a Debian or Ubuntu host, so the core can build agents'
 *   root filesystems (`src/core/images/`); the builds also need the distribution's package mirror.
 */
export type Prereq = 'root' | 'git' | 'curl' | 'node' | 'ps' | 'chromium' | 'nspawn' | 'nspawn-userns' | 'bwrap' | 'nix-instantiate' | 'mmdebstrap' | 'nats-server' | 'netns';

/** True when `HIVE_TEST_REQUIRE_ALL=1`: a missing prerequisite fails the run instead of skipping. */
export const REQUIRE_ALL = process.env.HIVE_TEST_REQUIRE_ALL === '1';

/** The Debian package that provides each command checked on `PATH`. */
const PACKAGES: Record<string, string> = { git: 'git', curl: 'curl', node: 'nodejs', ps: 'procps', 'nix-instantiate': 'nix-bin', mmdebstrap: 'mmdebstrap', 'nats-server': 'nats-server' };

const cache = new Map<Prereq, string | null>();
let chromium: string | null = null;
let nspawnBin: string | null = null;

/** Runs `argv` briefly; null when it exits 0, else the last line it wrote to stderr (or why it could not start). */
function runs(argv: string[]): string | null {
  try {
    const r = Bun.spawnSync(argv, { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', timeout: 15_000 });
    if (r.exitCode === 0) return null;
    const last = r.stderr.toString().trim().split('\n').at(-1) ?? '';
    return `exit ${r.exitCode ?? 'timeout'}${last ? `: ${last}` : ''}`;
  } catch (err) {
    return (err as Error).message;
  }
}

/** `cmd` on PATH, or why not. */
function command(cmd: string): string | null {
  return Bun.which(cmd) ? null : `${cmd} not found on PATH (apt install ${PACKAGES[cmd] ?? cmd})`;
}

/** Runs the check for `p` (uncached). */
function check(p: Prereq): string | null {
  const uid = process.getuid?.() ?? -1;
  switch (p) {
    case 'root':
      return uid === 0 ? null : `needs root (running as uid ${uid})`;
    case 'git':
    case 'curl':
    case 'node':
    case 'ps':
    case 'nix-instantiate':
    case 'nats-server':
      return command(p);
    case 'chromium': {
      const bin = Bun.which('chromium') ?? Bun.which('chromium-browser');
      if (!bin) return `Chromium not found on PATH (apt install chromium)`;
      const why = runs([bin, '--headless', '--version']);
      if (why) return `Chromium at ${bin} does not start (${why})`;
      chromium = bin;
      return null;
    }
    case 'nspawn': {
      const probe = probeRuntime('nspawn');
      nspawnBin = probe.bin;
      if (probe.available) return null;
      if (!probe.bin) return 'systemd-nspawn not found (apt install systemd-container)';
      if (uid !== 0) return missing('root');
      return `systemd-nspawn cannot run a container here: ${probe.reason}`;
    }
    case 'nspawn-userns': {
      const nspawn = missing('nspawn');
      if (nspawn) return nspawn;
      const why = probeUserNamespaces(nspawnBin!, tmpdir());
      return why ? `systemd-nspawn cannot give its containers a private user namespace: ${why}` : null;
    }
    case 'netns': {
      if (uid !== 0) return 'needs root to make network namespaces';
      if (!Bun.which('ip', { PATH: `${process.env.PATH}:/usr/sbin:/sbin` })) return 'ip not found (apt install iproute2)';
      const ns = `hvprobe-${process.pid}`;
      const why = runs(['ip', 'netns', 'add', ns]);
      if (why) return `ip netns add failed (${why})`;
      runs(['ip', 'netns', 'del', ns]);
      return null;
    }
    case 'mmdebstrap': {
      const images = new Images({ dir: tmpdir(), log: () => {} });
      return images.problem;
    }
    case 'bwrap': {
      const probe = probeRuntime('bwrap');
      if (probe.available) return null;
      if (!probe.bin) return 'bwrap not found (apt install bubblewrap)';
      return `bwrap cannot run a sandbox here: ${probe.reason}`;
    }
  }
}

/** Why `p` is not met on this machine, or null when it is. Checked once, then cached. */
export function missing(p: Prereq): string | null {
  if (!cache.has(p)) cache.set(p, check(p));
  return cache.get(p)!;
}

/**
 * The Chromium executable that the `chromium` check found, for playwright-core's `executablePath`.
 * @throws Error when there is none (a suite that calls this should have required `chromium`).
 */
export function chromiumPath(): string {
  const why = missing('chromium');
  if (why || !chromium) throw new Error(why ?? 'Chromium was not found');
  return chromium;
}

/** The test functions a suite uses, as given by {@link requires}. */
export interface Gated {
  /** True when every prerequisite is met and the suite runs. */
  ok: boolean;
  /** What is missing, one entry per unmet prerequisite. */
  missing: string[];
  /** Bun's `describe`, or `describe.skip` when something is missing; likewise `test` and the hooks (which then never run). */
  describe: typeof describe;
  test: typeof test;
  beforeAll: typeof beforeAll;
  afterAll: typeof afterAll;
  beforeEach: typeof beforeEach;
  afterEach: typeof afterEach;
}

/** A hook that is never run. */
const noHook = (() => {}) as typeof beforeAll;

/** How long one test may run, ms: end-to-end tests drive the real claude, sandboxes and a browser. */
export const TEST_TIMEOUT_MS = 120_000;

/**
 * Declares that the suite named `suite` (as the skip line will name it) needs `needs`. Call it at
 * the top of the test file (or of a shared suite's function) and use the returned `describe`,
 * `test` and hooks in place of Bun's.
 *
 * All met: Bun's own functions. Something missing: prints `skip: <suite> — <what is missing>`, and
 * the functions skip every test and never run a hook. Something missing under
 * `HIVE_TEST_REQUIRE_ALL=1`: the same, plus one failing test `<suite>: prerequisites` whose error
 * names what is missing, so the run fails.
 *
 * It also gives the calling file's tests {@link TEST_TIMEOUT_MS} each: Bun 1.4.5 applies a
 * `setDefaultTimeout` made in the preload (`test/support/setup.ts`) to the first test file of a run
 * only, and later files would get Bun's 5 s.
 */
export function requires(suite: string, ...needs: Prereq[]): Gated {
  setDefaultTimeout(TEST_TIMEOUT_MS);
  const gaps = [...new Set(needs.map(missing).filter((m): m is string => m !== null))];
  if (gaps.length === 0) return { ok: true, missing: [], describe, test, beforeAll, afterAll, beforeEach, afterEach };
  const why = gaps.join('; ');
  if (REQUIRE_ALL) {
    console.error(`FAIL: ${suite} — ${why} (HIVE_TEST_REQUIRE_ALL=1)`);
    test(`${suite}: prerequisites`, () => {
      throw new Error(`HIVE_TEST_REQUIRE_ALL=1, and ${suite} cannot run here: ${why}`);
    });
  } else {
    console.warn(`skip: ${suite} — ${why}`);
  }
  return { ok: false, missing: gaps, describe: describe.skip, test: test.skip, beforeAll: noHook, afterAll: noHook, beforeEach: noHook, afterEach: noHook };
}
