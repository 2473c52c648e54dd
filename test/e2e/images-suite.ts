/**
 * Agents' root filesystems end to end, per sandboxed runtime: a real core (`hive core serve
 * --images-dir`) that builds images with the real mmdebstrap from the distribution's package
 * mirror, a manager whose real claude (scripted by the test's model) adds a package to an agent's
 * config, the operator's approval through `hive ctl`, and the agent's next real claude turn running
 * the new program through its Bash tool.
 *
 * Images are slow to build (about 20 s each), so every suite shares one images dir for the whole
 * `bun test` run and beyond ({@link TEST_IMAGES}): the base image is built once, by whichever suite
 * comes first. Each suite adds its own package set, removed before it starts, so that its deploy
 * really builds (and streams) an image; the suite's purge at the end prunes it again.
 */
import { expect } from 'bun:test';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataLayout } from '../../src/shared/paths.ts';
import { isMainTurn, lastUserPrompt, startModelServer, toolResults, type ModelServer } from '../support/model-server.ts';
import { ctlJson, ctlJsonAsync, startCoreProcess, tempDir, turnFor, waitFor } from '../support/hive.ts';
import { allIdle, bashIn, probeModel } from '../support/sandbox-probe.ts';
import { requires, type Prereq } from '../support/prereq.ts';

/** The images dir every image suite shares (a cache: the tests remove only the images they make). */
export const TEST_IMAGES = join(tmpdir(), 'hive-test-images');

/** Registers the suite for one sandboxed runtime. */
export function imagesSuite(runtime: 'bwrap' | 'nspawn'): void {
  const needs: Prereq[] = runtime === 'nspawn' ? ['root', 'nspawn', 'git', 'mmdebstrap'] : ['root', 'bwrap', 'git', 'mmdebstrap'];
  const { describe, test, beforeAll, afterAll } = requires(`agent images under ${runtime}`, ...needs);
  // a set of this suite's own, so each suite's deploy builds an image: jq, and under nspawn bc too
  const PACKAGES = runtime === 'nspawn' ? ['bc', 'jq'] : ['jq'];
  let model: ModelServer;
  let dir: string;
  let layout: DataLayout;
  let core: Awaited<ReturnType<typeof startCoreProcess>>;

  beforeAll(async () => {
    // The scripted manager: "@@PROPOSE <agent> <toml>@@" makes it write the agent's agent.toml in
    // its /agents view and commit with Bash; when the output shows the commit id it calls
    // request_apply_commit. Everything else is the sandbox probe (`@@BASH <command>@@`).
    model = await startModelServer((req) => {
      if (!isMainTurn(req.body)) return [{ type: 'text', text: 'ok' }];
      const results = toolResults(req.body);
      const done = results.length ? /PROPOSED (\w+) SHA=([0-9a-f]{40})/.exec(results.at(-1)!.content) : null;
      if (done) return [{ type: 'tool_use', name: 'mcp__hyperhive__request_apply_commit', input: { agent: done[1], sha: done[2] } }];
      const m = /@@PROPOSE (\w+) (.+?)@@/s.exec(lastUserPrompt(req.body));
      // the end of a probe, or of a proposal (the request_apply_commit answer): what the tool said
      if (!m || results.length) return probeModel(req);
      const repo = `/agents/${m[1]}/config`;
      const command = `cd ${repo} && printf '%s\\n' '${m[2]}' > agent.toml && git commit -qam 'manager: packages for ${m[1]}' && echo PROPOSED ${m[1]} SHA=$(git rev-parse HEAD)`;
      return [{ type: 'tool_use', name: 'Bash', input: { command, description: 'add a package to the config' } }];
    });
    dir = tempDir(`hv-img-${runtime}-`);
    layout = new DataLayout(dir);
    // an image of this suite's set left by an earlier run would make the deploy below build nothing
    for (const key of existsSync(TEST_IMAGES) ? readdirSync(TEST_IMAGES) : []) {
      try {
        const meta = JSON.parse(readFileSync(join(TEST_IMAGES, key, 'image.json'), 'utf8'));
        if (PACKAGES.every((p) => meta.packages.includes(p))) rmSync(join(TEST_IMAGES, key), { recursive: true, force: true });
      } catch {
        // not an image (a build dir, or another file): the core prunes what is its own
      }
    }
    core = await startCoreProcess(dir, ['--runtime', runtime, '--images-dir', TEST_IMAGES], { ...model.env, ANTHROPIC_API_KEY: 'sk-ant-test-key' });
    // the manager's first start may build the base image (about 20 s)
    await waitFor('the manager idle', () => agent('manager')?.status === 'idle', 180_000);
    ctlJson(dir, 'spawn', 'alice');
    await allIdle(dir, ['manager', 'alice']);
  }, 240_000);

  afterAll(async () => {
    await core?.stop();
    await model?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const agent = (name: string) => ctlJson(dir, 'list').agents.find((a: any) => a.name === name);
  const images = () => ctlJson(dir, 'images');
  const imageOf = (name: string) => (images().images as any[]).filter((i) => i.users.includes(name));

  /** The scripted manager commits `toml` as `name`'s config and asks for approval; returns the approval. */
  async function managerProposes(name: string, toml: string) {
    const { id } = ctlJson(dir, 'send', 'manager', `@@PROPOSE ${name} ${toml}@@`);
    const turn = await turnFor(dir, 'manager', id);
    expect({ tools: turn.tools, result: turn.result }).toMatchObject({ tools: ['Bash', 'mcp__hyperhive__request_apply_commit'] });
    const approval = (ctlJson(dir, 'approvals').approvals as any[]).find((a) => a.agent === name && a.status === 'pending');
    expect(approval).toBeTruthy();
    return approval;
  }

  describe(`${runtime}: an agent's root filesystem is an image, and packages come through the gate`, () => {
    test("without packages the agent runs on the base image: Debian's base set, not the host's /usr", async () => {
      const out = await bashIn(dir, 'alice', 'grep ^VERSION_CODENAME= /etc/os-release; git --version; curl --version | head -1; command -v jq || echo NO-JQ; test -e /usr/bin/chromium && echo HOST-USR || echo NOT-HOST-USR');
      expect(out).toMatch(/VERSION_CODENAME=\w+/);
      expect(out).toMatch(/git version \d/);
      expect(out).toMatch(/curl \d/);
      // the host has jq and chromium in its /usr (the test suites install them); the image has neither
      expect(Bun.which('jq')).not.toBeNull();
      expect(out).toContain('NO-JQ');
      expect(out).toContain('NOT-HOST-USR');
      const [base] = imageOf('alice');
      expect(base.packages).toEqual(['bash', 'ca-certificates', 'coreutils', 'curl', 'git']);
      expect(base.users).toEqual(expect.arrayContaining(['alice', 'manager']));
      expect(base.bytes).toBeGreaterThan(50 * 1024 * 1024);
    });

    test('the manager adds a package; the operator approves; the rebuild streams the build; the next turn runs it', async () => {
      const before = agent('alice').pid;
      const approval = await managerProposes('alice', `packages = [${PACKAGES.map((p) => `"${p}"`).join(', ')}]`);
      const decided = ctlJsonAsync(dir, 'approve', String(approval.id));
      // the build's output reaches the build log (and the rebuild panel) while the deploy is still going
      const buildLog = layout.agent('alice').buildLog;
      await waitFor('mmdebstrap output in the build log', () => existsSync(buildLog) && readFileSync(buildLog, 'utf8').includes('I: running apt-get update'), 120_000);
      expect((ctlJson(dir, 'approvals', '--all').approvals as any[]).find((a) => a.id === approval.id).status).toBe('building');
      // and the old sandbox keeps running while the image builds
      expect(agent('alice').pid).toBe(before);
      expect((await decided).approval.status).toBe('deployed');
      const log = readFileSync(buildLog, 'utf8');
      expect(log).toContain(`image: the base set and ${PACKAGES.join(', ')}`);
      expect(log).toMatch(/image [0-9a-f]{16}: built in [\d.]+ s, \d+ MiB/);
      expect(readFileSync(join(dir, 'core.out'), 'utf8') + readFileSync(join(dir, 'core.err'), 'utf8')).toContain('I: running apt-get update');
      await waitFor('alice idle', () => agent('alice').status === 'idle');
      const out = await bashIn(dir, 'alice', 'jq --version');
      expect(out).toMatch(/jq-1\.\d/);
      const [img] = imageOf('alice');
      expect(img.packages).toEqual(expect.arrayContaining(PACKAGES));
      expect(img.users).toEqual(['alice']);
    });

    test('an unknown package fails the deploy with apt\'s message; the agent keeps running its old image', async () => {
      const before = agent('alice');
      const approval = await managerProposes('alice', 'packages = ["jq", "no-such-package-in-debian"]');
      const done = ctlJson(dir, 'approve', String(approval.id)).approval;
      expect(done.status).toBe('failed');
      expect(done.note).toContain('"no-such-package-in-debian" not found in');
      expect(done.note).toContain('Unable to locate package no-such-package-in-debian');
      // not restarted: the same sandbox, still on the previous config and image
      expect(agent('alice')).toMatchObject({ pid: before.pid, status: 'idle' });
      expect(ctlJson(dir, 'alerts').alerts.some((a: any) => a.kind === 'deploy_failed' && a.agent === 'alice')).toBe(true);
      const out = await bashIn(dir, 'alice', 'jq --version');
      expect(out).toMatch(/jq-1\.\d/);
      // no half-built image is left behind
      expect(readdirSync(TEST_IMAGES).filter((e) => e.startsWith('.build-'))).toEqual([]);
    });

    test('images are listed with their users; purging the agent prunes the image only it used', async () => {
      const [img] = imageOf('alice');
      expect(existsSync(join(TEST_IMAGES, img.key, 'root', 'usr', 'bin', 'jq'))).toBe(true);
      ctlJson(dir, 'destroy', 'alice');
      ctlJson(dir, 'purge', 'alice');
      expect(existsSync(join(TEST_IMAGES, img.key))).toBe(false);
      const left = images().images as any[];
      expect(left.find((i) => i.key === img.key)).toBeUndefined();
      // the base image stays: the manager uses it
      expect(left.some((i) => i.users.includes('manager'))).toBe(true);
    });
  });
}
