/**
 * Interrupted turns end to end, with the real `hive core serve`, real harnesses and real `claude`
 * turns against the scripted Messages API on loopback (the `process` runtime). The scripted model
 * holds alice's reply open for messages marked `HOLD-ONCE` (the first attempt only) or
 * `HOLD-ALWAYS` (every attempt), so a turn is still running when the test kills something:
 *
 * - the core killed with SIGKILL mid-turn: after a restart the same message starts a new turn,
 *   whose prompt says the previous attempt was interrupted;
 * - the harness killed mid-turn: its claude is ended with it, the supervisor restarts it and the
 *   message is re-run;
 * - interrupted twice: the manager is told, and there is no third run;
 * - the operator stopping the agent mid-turn cancels the turn, which is not re-run;
 * - a graceful core restart (SIGTERM) mid-turn interrupts it, and it is re-run;
 * - a host reboot, as the core and every process under it (harnesses, claudes, standby claudes)
 *   dying at once with SIGKILL: after the core starts again every agent that was running is back,
 *   the interrupted turn is re-run in the same conversation, and `hive ctl turns` shows it.
 */
import { expect, setDefaultTimeout } from 'bun:test';
import { rmSync } from 'node:fs';
import { isMainTurn, lastUserPrompt, systemText, startModelServer, type ModelServer } from '../support/model-server.ts';
import { ctlJson, hive, processAlive, processTree, startCoreProcess, tempDir, turnFor, waitFor } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('interrupted turns e2e', 'git');

// Each test waits for crash restarts and several real claude turns.
setDefaultTimeout(120_000);

/** What the wake prompt of a re-run says (see `wakePromptVars`). */
const RETRY_TEXT = 'your previous turn on this message was interrupted';

let model: ModelServer;
let dir: string;
let core: Awaited<ReturnType<typeof startCoreProcess>>;
/** Alice's main-turn requests the model is holding open, with the wake prompt each carried. */
const held: Array<{ prompt: string; release: () => void }> = [];

const alice = () => (ctlJson(dir, 'list').agents as any[]).find((a) => a.name === 'alice');
const turnsOf = (id: number) =>
  (ctlJson(dir, 'turns', '--agent', 'alice', '--limit', '100').turns as any[]).filter((t) => t.trigger_message_id === id).reverse();
const messageOf = (id: number) => (ctlJson(dir, 'messages', '--agent', 'alice', '--limit', '1000').messages as any[]).find((m) => m.id === id);
const heldFor = (marker: string) => held.filter((h) => h.prompt.includes(marker));

/** Waits until alice runs with a harness other than `oldPid` and is idle. @returns her record. */
const aliceBack = (oldPid: number | null) => waitFor('alice back and idle', () => {
  const a = alice();
  return a?.status === 'idle' && a.pid && a.pid !== oldPid ? a : null;
}, 60_000);

beforeAll(async () => {
  model = await startModelServer((req) => {
    if (!isMainTurn(req.body)) return [{ type: 'text', text: 'ok' }];
    const prompt = lastUserPrompt(req.body);
    const retry = prompt.includes(RETRY_TEXT);
    const isAlice = systemText(req.body).includes('You are alice');
    if (isAlice && (prompt.includes('HOLD-ALWAYS') || (prompt.includes('HOLD-ONCE') && !retry)))
      return new Promise((resolve) => held.push({ prompt, release: () => resolve([{ type: 'text', text: 'released' }]) }));
    return [{ type: 'text', text: retry ? 'done on the re-run' : 'done' }];
  });
  dir = tempDir('hv-rr-');
  core = await startCoreProcess(dir, [], model.env);
  await waitFor('the manager idle', () => (ctlJson(dir, 'list').agents as any[]).find((a) => a.name === 'manager' && a.status === 'idle'), 60_000);
  ctlJson(dir, 'spawn', 'alice');
  await aliceBack(null);
});

afterAll(async () => {
  // a claude left behind by a killed harness gets its reply and ends
  for (const h of held) h.release();
  await core?.stop();
  await model?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a turn interrupted by a crash is re-run once', () => {
  test('core killed with SIGKILL mid-turn: after the restart a new turn handles the message, told it was interrupted', async () => {
    const sent = ctlJson(dir, 'send', 'alice', 'HOLD-ONCE core kill');
    await waitFor('alice thinking on it', () => heldFor('core kill').length === 1);
    expect(turnsOf(sent.id).map((t) => t.status)).toEqual(['running']);
    const pid = alice().pid as number;

    core.proc.kill('SIGKILL');
    await core.proc.exited;
    await waitFor('alice to exit with the core', () => !processAlive(pid), 15_000);
    core = await startCoreProcess(dir, [], model.env);

    const rerun = await waitFor('the re-run to finish', () => turnsOf(sent.id).find((t) => t.status === 'ok'), 60_000);
    expect(rerun.result).toBe('done on the re-run');
    const [first, second, ...more] = turnsOf(sent.id);
    expect(more).toEqual([]);
    expect(first).toMatchObject({ status: 'interrupted', result: 'interrupted: core restarted; re-queued as attempt 2' });
    expect(second.id).toBe(rerun.id);
    expect(messageOf(sent.id)).toMatchObject({ attempt: 2, body: 'HOLD-ONCE core kill' });
    expect(messageOf(sent.id).delivered_at).not.toBeNull();
    const prompts = model.requests.filter((r) => isMainTurn(r.body)).map((r) => lastUserPrompt(r.body)).filter((p) => p.includes('core kill'));
    expect(prompts[0]).not.toContain(RETRY_TEXT);
    expect(prompts.at(-1)).toContain(`This is attempt 2: ${RETRY_TEXT}`);
    expect(prompts.at(-1)).toContain(`New message #${sent.id} from operator`);

    // hive ctl turns shows both
    const text = hive(['ctl', 'turns', '--agent', 'alice', '--data-dir', dir]).stdout;
    expect(text).toContain('interrupted: core restarted; re-queued as attempt 2');
  });

  test('harness killed mid-turn: the supervisor restarts it and the message is re-run', async () => {
    await aliceBack(null);
    const sent = ctlJson(dir, 'send', 'alice', 'HOLD-ONCE harness kill');
    await waitFor('alice thinking on it', () => heldFor('harness kill').length === 1);
    const pid = alice().pid as number;
    const below = processTree(pid).filter((p) => p !== pid);
    expect(below.length).toBeGreaterThan(0); // the turn's claude
    process.kill(pid, 'SIGKILL');
    // the core ends what the harness left: no claude of the killed harness goes on
    await waitFor("the killed harness's claude gone", () => below.every((p) => !processAlive(p)), 15_000);

    const rerun = await waitFor('the re-run to finish', () => turnsOf(sent.id).find((t) => t.status === 'ok'), 60_000);
    expect(rerun.result).toBe('done on the re-run');
    const turns = turnsOf(sent.id);
    expect(turns.map((t) => t.status)).toEqual(['interrupted', 'ok']);
    expect(turns[0].result).toBe('interrupted: agent signal SIGKILL; re-queued as attempt 2');
    expect(alice().pid).not.toBe(pid);
    expect(messageOf(sent.id).attempt).toBe(2);
  });

  test('interrupted twice: the manager is told and there is no third run', async () => {
    const before = await aliceBack(null);
    const sent = ctlJson(dir, 'send', 'alice', 'HOLD-ALWAYS twice over');
    await waitFor('the first attempt', () => heldFor('twice over').length === 1);
    process.kill(before.pid, 'SIGKILL');

    await waitFor('the second attempt', () => heldFor('twice over').length === 2, 60_000);
    expect(heldFor('twice over')[1]!.prompt).toContain(RETRY_TEXT);
    const second = await waitFor('alice thinking on the re-run', () => {
      const a = alice();
      return a.status === 'thinking' && a.pid !== before.pid ? a : null;
    });
    process.kill(second.pid, 'SIGKILL');

    const notice = await waitFor('a notice to the manager', () =>
      (ctlJson(dir, 'messages', '--agent', 'manager', '--limit', '1000').messages as any[]).find(
        (m) => m.from === 'hive' && m.to === 'manager' && m.body.includes(`message #${sent.id}`),
      ),
    );
    expect(notice.kind).toBe('notice');
    expect(notice.body).toContain(`alice's turn on message #${sent.id} from operator ("HOLD-ALWAYS twice over")`);
    expect(notice.body).toContain('not run again');

    // alice comes back and handles newer mail; the given-up message stays delivered
    await aliceBack(second.pid);
    const next = ctlJson(dir, 'send', 'alice', 'after the double interruption');
    expect((await turnFor(dir, 'alice', next.id)).status).toBe('ok');
    const turns = turnsOf(sent.id);
    expect(turns.map((t) => t.status)).toEqual(['interrupted', 'interrupted']);
    expect(turns[0].result).toContain('re-queued as attempt 2');
    expect(turns[1].result).toBe('interrupted: agent signal SIGKILL; not re-run: manager told');
    expect(heldFor('twice over')).toHaveLength(2);
    expect(messageOf(sent.id)).toMatchObject({ attempt: 2 });
    expect(messageOf(sent.id).delivered_at).not.toBeNull();
  });

  test('a turn the operator cancels by stopping the agent is not re-run', async () => {
    await aliceBack(null);
    const sent = ctlJson(dir, 'send', 'alice', 'HOLD-ALWAYS stop me');
    await waitFor('alice thinking on it', () => heldFor('stop me').length === 1);
    ctlJson(dir, 'stop', 'alice');
    ctlJson(dir, 'start', 'alice');
    await aliceBack(null);
    const next = ctlJson(dir, 'send', 'alice', 'after the stop');
    expect((await turnFor(dir, 'alice', next.id)).status).toBe('ok');
    const turns = turnsOf(sent.id);
    expect(turns).toHaveLength(1);
    expect(turns[0].status).toBe('error');
    expect(turns[0].result).toStartWith('cancelled');
    expect(messageOf(sent.id)).toMatchObject({ attempt: 1 });
    expect(heldFor('stop me')).toHaveLength(1);
  });

  test('core stopped with SIGTERM mid-turn: the turn is interrupted and re-run after the restart', async () => {
    await aliceBack(null);
    const sent = ctlJson(dir, 'send', 'alice', 'HOLD-ONCE graceful stop');
    await waitFor('alice thinking on it', () => heldFor('graceful stop').length === 1);
    await core.stop();
    core = await startCoreProcess(dir, [], model.env);
    const rerun = await waitFor('the re-run to finish', () => turnsOf(sent.id).find((t) => t.status === 'ok'), 60_000);
    expect(rerun.result).toBe('done on the re-run');
    const turns = turnsOf(sent.id);
    expect(turns.map((t) => t.status)).toEqual(['interrupted', 'ok']);
    expect(turns[0].result).toMatch(/^interrupted: .*; re-queued as attempt 2$/);
  });

  test('a host reboot: everything dies at once; after the core starts, every agent is back and the interrupted turn is re-run in its conversation', async () => {
    await aliceBack(null);
    ctlJson(dir, 'spawn', 'bob');
    await waitFor('bob idle', () => (ctlJson(dir, 'list').agents as any[]).find((a) => a.name === 'bob' && a.status === 'idle'), 60_000);
    const earlier = ctlJson(dir, 'send', 'alice', 'remember the word PELICAN');
    expect((await turnFor(dir, 'alice', earlier.id)).status).toBe('ok');
    const sent = ctlJson(dir, 'send', 'alice', 'HOLD-ONCE power cut');
    await waitFor('alice thinking on it', () => heldFor('power cut').length === 1);

    // the power goes: the core and everything it started, at once
    const all = processTree(core.proc.pid);
    expect(all.length).toBeGreaterThan(4); // the core, three harnesses, alice's claude
    for (const pid of all) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await core.proc.exited;
    await waitFor('every process of the hive gone', () => all.every((pid) => !processAlive(pid)), 15_000);

    core = await startCoreProcess(dir, [], model.env);
    const back = await waitFor('every agent back and idle or re-running', () => {
      const agents = ctlJson(dir, 'list').agents as any[];
      return ['manager', 'alice', 'bob'].every((n) => agents.find((a) => a.name === n && a.pid && !all.includes(a.pid) && ['idle', 'thinking'].includes(a.status)))
        ? agents
        : null;
    }, 60_000);
    expect(back.map((a: any) => a.name).sort()).toEqual(['alice', 'bob', 'manager']);

    const rerun = await waitFor('the re-run to finish', () => turnsOf(sent.id).find((t) => t.status === 'ok'), 60_000);
    expect(rerun.result).toBe('done on the re-run');
    expect(turnsOf(sent.id).map((t) => t.status)).toEqual(['interrupted', 'ok']);
    // the same conversation: the re-run's request carries the exchange from before the reboot
    const req = model.requests.filter((r) => isMainTurn(r.body) && lastUserPrompt(r.body).includes('power cut')).at(-1)!;
    expect(lastUserPrompt(req.body)).toContain(RETRY_TEXT);
    expect(JSON.stringify(req.body.messages)).toContain('remember the word PELICAN');
    // and the operator sees it
    const text = hive(['ctl', 'turns', '--agent', 'alice', '--data-dir', dir]).stdout;
    expect(text).toMatch(/interrupted: core restarted; re-queued as attempt 2/);
  });
});
