/**
 * The dashboard's SSE stream over real HTTP (the dashboard listening on a loopback port, clients
 * reading with fetch and raw TCP sockets): many clients get the same event, a client that goes
 * away is dropped from the event bus, and a reconnect with `Last-Event-ID` (or the page's
 * `?after=`) replays exactly the messages it missed.
 */
import { expect, setDefaultTimeout } from 'bun:test';
import net from 'node:net';
import { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import { openTestHive, waitFor } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

const { describe, test, beforeAll, afterAll } = requires('core sse', 'git');

setDefaultTimeout(60_000);

let t: Awaited<ReturnType<typeof openTestHive>>;
let app: ReturnType<typeof createDashboard>;
let base: string;

beforeAll(async () => {
  t = await openTestHive();
  await t.hive.lifecycle.spawn('bob', { start: false });
  app = createDashboard(t.hive);
  app.listen({ hostname: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${app.server!.port}`;
});
afterAll(async () => {
  await app?.stop(true);
  await t?.close();
});

/** An SSE client over fetch that collects the stream's text. */
class Client {
  text = '';
  private readonly abort = new AbortController();
  private readonly done: Promise<void>;

  constructor(path = '/events', headers: Record<string, string> = {}) {
    this.done = (async () => {
      const res = await fetch(base + path, { headers, signal: this.abort.signal });
      const reader = res.body!.getReader();
      const dec = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        this.text += dec.decode(value, { stream: true });
      }
    })().catch(() => {});
  }

  /** The `data:` line of the frame with SSE id `id`, once it arrived. */
  frame(id: number): string | undefined {
    const at = this.text.indexOf(`id: ${id}\n`);
    if (at < 0) return undefined;
    const end = this.text.indexOf('\n\n', at);
    return end < 0 ? undefined : this.text.slice(at, end);
  }

  /** Ids of the message frames received, in order. */
  ids(): number[] {
    return [...this.text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
  }
}

describe('SSE', () => {
  test('100 concurrent clients all receive the same event; closed clients leave the bus, the rest keep receiving', async () => {
    const baseline = t.hive.bus.size;
    const clients = Array.from({ length: 100 }, () => new Client());
    await waitFor('every client caught up', () => clients.every((c) => c.text.includes('hx-target="#agents-body"')));
    expect(t.hive.bus.size).toBe(baseline + 100);

    const m = t.hive.policy.send('operator', 'bob', 'to everyone <i>watching</i>');
    await waitFor('the message at every client', () => clients.every((c) => c.frame(m.id)));
    const frames = new Set(clients.map((c) => c.frame(m.id)));
    expect(frames.size).toBe(1);
    expect([...frames][0]).toContain('to everyone &lt;i&gt;watching&lt;/i&gt;');

    await Promise.all(clients.slice(0, 60).map((c) => c.close()));
    await waitFor('the closed clients dropped', () => t.hive.bus.size === baseline + 40);
    const n = t.hive.policy.send('operator', 'bob', 'second');
    await waitFor('the message at the remaining clients', () => clients.slice(60).every((c) => c.frame(n.id)));
    expect(clients.slice(0, 60).some((c) => c.frame(n.id))).toBe(false);

    await Promise.all(clients.slice(60).map((c) => c.close()));
    await waitFor('every client dropped', () => t.hive.bus.size === baseline);
  });

  test('a client whose connection is cut without a goodbye is dropped from the bus', async () => {
    const baseline = t.hive.bus.size;
    const sock = net.createConnection({ host: '127.0.0.1', port: app.server!.port! });
    let got = '';
    sock.on('data', (d) => (got += d.toString()));
    sock.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
    await waitFor('the stream open', () => got.includes(': connected'));
    expect(t.hive.bus.size).toBe(baseline + 1);
    sock.resetAndDestroy();
    // the next event written to the dead socket at the latest shows it gone
    await waitFor('the cut client dropped', () => {
      t.hive.policy.send('operator', 'bob', 'anyone there?');
      return t.hive.bus.size === baseline;
    });
  });

  test('a reconnect replays exactly the messages after Last-Event-ID; the first connect uses the page\'s ?after=', async () => {
    const first = new Client();
    await waitFor('connected', () => first.text.includes('#agents-body'));
    const a = t.hive.policy.send('operator', 'bob', 'seen');
    await waitFor('a seen', () => first.frame(a.id));
    await first.close();
    const missed = [t.hive.policy.send('operator', 'bob', 'missed 1'), t.hive.policy.send('bob', 'operator', 'missed 2')];
    const again = new Client('/events', { 'last-event-id': String(a.id) });
    await waitFor('the missed messages replayed', () => again.frame(missed[1]!.id));
    expect(again.ids()).toEqual(missed.map((m) => m.id));
    const live = t.hive.policy.send('operator', 'bob', 'live again');
    await waitFor('live after the replay', () => again.frame(live.id));
    expect(again.ids()).toEqual([...missed.map((m) => m.id), live.id]);
    await again.close();

    // a page rendered at message `a` whose stream opens later gets what came in between
    const page = new Client(`/events?after=${a.id}`);
    await waitFor('the page caught up', () => page.frame(live.id));
    expect(page.ids()).toEqual([...missed.map((m) => m.id), live.id]);
    // Last-Event-ID wins over ?after= (a reconnecting page has seen more than it was rendered with)
    const both = new Client(`/events?after=${a.id}`, { 'last-event-id': String(missed[1]!.id) });
    await waitFor('caught up from the header', () => both.frame(live.id));
    expect(both.ids()).toEqual([live.id]);
    await Promise.all([page.close(), both.close()]);
    for (const bad of ['/events?after=abc', '/events?after=-1']) {
      const c = new Client(bad);
      await waitFor('connected', () => c.text.includes('#agents-body'));
      expect(c.ids()).toEqual([]);
      await c.close();
    }
  });

  test("a page's stream sends only the sections that changed after the page was rendered; a mark from another run gets them all", async () => {
    const html = await (await fetch(base + '/')).text();
    const connect = /hx-sse:connect="([^"]+)"/.exec(html)![1]!.replaceAll('&amp;', '&');
    expect(connect).toMatch(/^\/events\?after=\d+&seen=[0-9a-f]{8}\.\d+\.[0-9a-f]{8}$/);
    const seen = new URL(connect, base).searchParams.get('seen')!;
    const [run, seq, fingerprint] = seen.split('.') as [string, string, string];
    const partials = (c: Client) => [...c.text.matchAll(/hx-target="(#[a-z-]+)"/g)].map((m) => m[1]);
    // nothing changed since the page: the stream sends no section, only what comes next
    const quiet = new Client(connect);
    await waitFor('the quiet stream connected', () => quiet.text.includes(': connected'));
    // a change to bob touches the swarm table and the names
    t.hive.registry.setModelOverride('bob', 'sonnet');
    const changed = new Client(connect);
    await waitFor('both streams have the change', () => [quiet, changed].every((c) => c.text.includes('#agents-body')));
    expect(partials(quiet)).toEqual(['#agents-body', '#agent-names']);
    // opened after the change: the two sections it touched, and nothing else
    expect(partials(changed)).toEqual(['#agents-body', '#agent-names']);
    const otherHex = (h: string) => (h === '00000000' ? '11111111' : '00000000');
    // another run; nonsense; an event count this run has not reached; the same place, but taken
    // before something no event announces (the credentials, the day, the images dir) changed
    for (const other of [`${otherHex(run)}.${seq}.${fingerprint}`, 'garbage', `${run}.999999999.${fingerprint}`, `${run}.${seq}.${otherHex(fingerprint)}`, `${run}.${seq}`]) {
      const all = new Client(`/events?seen=${other}`);
      await waitFor('a full catch-up', () => all.text.includes('#approvals-body'));
      expect(partials(all)).toEqual(['#agents-body', '#agent-names', '#turns-body', '#questions-body', '#kept-body', '#reminders-body', '#images-body', '#banners', '#alert-count', '#inbox-body', '#waiting', '#approvals-body']);
      await all.close();
    }
    t.hive.registry.setModelOverride('bob', null);
    await Promise.all([quiet.close(), changed.close()]);
  });
});
