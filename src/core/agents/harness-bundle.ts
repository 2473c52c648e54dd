/**
 * @module core/agents/harness-bundle
 * The harness agents run, bundled. Started from the source tree, every harness transpiles and
 * keeps some eighty TypeScript modules; bundled once by the core (`bun build --splitting`), it
 * loads one file and the chunk `agent serve` needs, which takes 8–9 MiB off each harness's
 * resident set (docs/performance.md#memory-benchmemoryts).
 *
 * The bundle goes to `<data>/harness/<code id>-<build>/` (`DataLayout.harnessDir`), where
 * `<build>` hashes what else a bundle depends on: the package's path, which the bundle names for
 * its prompts and static files (a NixOS rebuild moves it without changing the code id), and the
 * Bun version. A sandboxed runtime binds that directory read-only at `/run/hive-harness`
 * (`runtime/sandbox.ts` `sandboxLayout`). It is built when the core first starts an agent, unless
 * it is there already; other bundles are removed then. A harness still running one of those (a
 * container that outlived a core) has loaded all its code at start-up; it loses only the source
 * maps of its stack traces. If the build fails, or the bundle does not report this core's
 * {@link VERSION}, agents run from the source tree as before and the log says why.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CODE_ID, ENTRY, PACKAGE_ROOT, VERSION, selfCommand } from '../../shared/version.ts';

/** How long `bun build` (and the bundle's version check) may take before the source tree is used, ms. */
export const BUNDLE_TIMEOUT_MS = 60_000;

/** Where a bundle comes from and goes; the defaults are this package's. */
export interface HarnessBundleOptions {
  /** `<data>/harness`: one directory per code id. */
  dir: string;
  /** The code id the bundle is named after; default this package's {@link CODE_ID}. */
  codeId?: string;
  /** The entry point to bundle; default `src/main.ts`. */
  entry?: string;
  /** The package the bundle's `PACKAGE_ROOT` names (prompts, static files); default this one. */
  packageRoot?: string;
  /** The version the bundle must print for `version`; default this core's {@link VERSION}. */
  version?: string;
  log: (line: string) => void;
}

/**
 * Builds the harness bundle once per code id and says how to start a harness.
 * {@link command} never throws: a bundle that cannot be built means the source tree.
 */
export class HarnessBundle {
  private building: Promise<string[]> | null = null;

  constructor(private readonly opts: HarnessBundleOptions) {}

  /** The directory this bundle lives in: `<dir>/<code id>-<hash of the package path and the Bun version>`. */
  get outDir(): string {
    const build = new Bun.CryptoHasher('sha256').update(`${this.packageRoot}\0${Bun.version}`).digest('hex').slice(0, 8);
    return join(this.opts.dir, `${this.opts.codeId ?? CODE_ID}-${build}`);
  }

  private get packageRoot(): string {
    return this.opts.packageRoot ?? PACKAGE_ROOT;
  }

  /**
   * The command that runs the hive for a harness: `[bun, <bundle>/main.js]`, or
   * `[bun, src/main.ts]` when the bundle could not be built. The first call builds (about 0.2 s);
   * later calls share its result.
   */
  command(): Promise<string[]> {
    this.building ??= this.build().then(
      (entry) => [process.execPath, entry],
      (err) => {
        this.opts.log(`WARN harness bundle: ${(err as Error).message}; agents run from the source tree`);
        return selfCommand();
      },
    );
    return this.building;
  }

  private async build(): Promise<string> {
    const { dir, log } = this.opts;
    const out = this.outDir;
    const main = join(out, 'main.js');
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    // other bundles, and builds a crash left half done (see the module's note on harnesses that
    // may still run one)
    for (const name of readdirSync(dir)) if (join(dir, name) !== out) rmSync(join(dir, name), { recursive: true, force: true });
    if (existsSync(main)) return main;
    const tmp = `${out}.tmp-${process.pid}`; // a leftover of that name went with the others above
    const started = performance.now();
    const root = this.packageRoot;
    try {
      await run(
        [
          process.execPath,
          'build',
          this.opts.entry ?? ENTRY,
          '--target=bun',
          '--splitting',
          '--sourcemap=linked',
          `--outdir=${tmp}`,
          `--define=HIVE_PACKAGE_ROOT=${JSON.stringify(root)}`,
        ],
        root,
        'bun build',
      );
      const printed = (await run([process.execPath, join(tmp, 'main.js'), 'version'], root, 'the bundle')).trim();
      const want = this.opts.version ?? VERSION;
      if (printed !== want) throw new Error(`the bundle reports version ${JSON.stringify(printed.slice(0, 80))}, not ${want}`);
      readableByAll(tmp);
      rmSync(out, { recursive: true, force: true }); // a directory without main.js is no bundle
      renameSync(tmp, out);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    log(`harness bundle: built ${out} in ${Math.round(performance.now() - started)} ms`);
    return main;
  }
}

/**
 * Makes `dir` and everything in it readable by every user (directories 0755, files 0644), whatever
 * the core's umask (the NixOS service's is 0077): a sandbox with its own user range sees the
 * bundle's files as owned by nobody, so only the permissions for others let its harness read them.
 */
function readableByAll(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) readableByAll(path);
    else chmodSync(path, 0o644);
  }
}

/**
 * Runs `argv` to its end.
 * @returns its stdout.
 * @throws Error naming `what` and the end of its stderr when it exits non-zero or outlasts
 *   {@link BUNDLE_TIMEOUT_MS}.
 */
async function run(argv: string[], cwd: string, what: string): Promise<string> {
  const child = Bun.spawn(argv, { cwd, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', timeout: BUNDLE_TIMEOUT_MS, env: { ...process.env, NO_COLOR: '1' } });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) {
    const why = child.signalCode ? `was killed (${child.signalCode})` : `exited ${code}`;
    throw new Error(`${what} ${why}: ${stderr.trim().split('\n').slice(-3).join(' / ').slice(0, 400) || '(no output)'}`);
  }
  return stdout;
}
