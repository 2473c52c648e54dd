/**
 * What agents' images cost: the first build of a typical package set, the disk each image takes,
 * and what an image adds to a rebuild once it is built.
 *
 *   bun bench/images.ts [--runtime nspawn] [--packages jq,ripgrep,python3] [--rounds 10]
 *
 * 1. **First build.** The real mmdebstrap builds the base image and then the base set plus
 *    `--packages` into a fresh images dir (nothing cached but apt's own downloads of the first build
 *    serve nothing to the second: each build downloads its packages from the mirror again).
 * 2. **Rebuild with an unchanged set.** A core runs in this process (no manager, no model: the agent
 *    starts and waits for mail) with one agent whose config lists `--packages`. It times `--rounds`
 *    rebuilds (stop, start a fresh sandbox, wait for the harness's hello) twice, alternating: on the
 *    image built in 1, and with `--host-root`, the same runtime on the host's `/usr` (the baseline of
 *    the same run). The figure is the difference of the medians.
 *
 * Needs root, mmdebstrap on a Debian or Ubuntu host, the package mirror, and the runtime.
 */
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Images } from '../src/core/images/images.ts';
import { openTestHive } from '../test/support/hive.ts';

const { values } = parseArgs({ options: { runtime: { type: 'string' }, packages: { type: 'string' }, rounds: { type: 'string' } } });
const RUNTIME = values.runtime ?? 'nspawn';
const PACKAGES = (values.packages ?? 'jq,ripgrep,python3').split(',').filter(Boolean);
const ROUNDS = Number(values.rounds ?? 10);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mib = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MiB`;

const dir = mkdtempSync(join(tmpdir(), 'hv-bench-images-'));
try {
  const images = new Images({ dir, log: () => {} });
  if (images.problem) throw new Error(`images cannot be built here: ${images.problem}`);
  const from = images.from!;
  console.log(`images: ${from.distribution} ${from.suite} ${from.architecture}; runtime ${RUNTIME}; Bun ${Bun.version}`);

  let t0 = performance.now();
  const base = await images.ensure([]);
  const baseMs = performance.now() - t0;
  t0 = performance.now();
  const typical = await images.ensure(PACKAGES);
  const typicalMs = performance.now() - t0;
  t0 = performance.now();
  await images.ensure(PACKAGES);
  const cachedMs = performance.now() - t0;
  const sizes = new Map(images.list().map((i) => [i.key, i.bytes]));
  console.log(`first build, base set:                 ${(baseMs / 1000).toFixed(1)} s, ${mib(sizes.get(base.key)!)}`);
  console.log(`first build, base + ${PACKAGES.join(' ')}: ${(typicalMs / 1000).toFixed(1)} s, ${mib(sizes.get(typical.key)!)}`);
  console.log(`ensure() of a built image:             ${cachedMs.toFixed(2)} ms`);

  const withImage = await openTestHive({ runtime: RUNTIME, 'images-dir': dir });
  const hostRoot = await openTestHive({ runtime: RUNTIME });
  try {
    const onImage: number[] = [];
    const onHost: number[] = [];
    // the agent gets its packages as the manager would give them: a commit in its proposed repo, approved
    for (const t of [withImage, hostRoot]) {
      await t.hive.lifecycle.spawn('bench');
      const proposed = join(t.dir, 'proposed', 'bench', 'config');
      writeFileSync(join(proposed, 'agent.toml'), `packages = [${PACKAGES.map((p) => `"${p}"`).join(', ')}]\n`);
      const git = (...args: string[]) => Bun.spawnSync(['git', '-c', 'user.name=bench', '-c', 'user.email=bench@localhost', ...args], { cwd: proposed }).stdout.toString().trim();
      git('commit', '-qam', 'packages');
      const a = await t.hive.gate.requestApplyCommit('manager', 'bench', git('rev-parse', 'HEAD'));
      const done = await t.hive.gate.approve(a.id);
      if (done.status !== 'deployed') throw new Error(`the packages did not deploy: ${done.note}`);
    }
    for (let i = 0; i < ROUNDS; i++) {
      for (const [t, times] of [
        [withImage, onImage],
        [hostRoot, onHost],
      ] as const) {
        const s = performance.now();
        await t.hive.lifecycle.rebuild('bench');
        times.push(performance.now() - s);
      }
    }
    const a = median(onImage);
    const b = median(onHost);
    console.log(`rebuild, unchanged set, on its image:  median ${a.toFixed(0)} ms (${ROUNDS} rounds)`);
    console.log(`rebuild, --host-root (baseline):       median ${b.toFixed(0)} ms`);
    console.log(`added by the image:                    ${(a - b).toFixed(0)} ms (${(a / b).toFixed(2)}×)`);
  } finally {
    await withImage.close();
    await hostRoot.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
