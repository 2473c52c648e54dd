/** @jsxImportSource @kitajs/html */
/**
 * The federation on the dashboard (`views/dashboard/federation.tsx`): the chrome strip's hive name,
 * NATS link and outbox depth, and the "other hives" section under the swarm table, rendered from
 * fabricated props (link up, down with a waiting outbox, connecting; hives reachable and
 * unreachable with their agents; none heard); on a real hive without `--nats`, none of it on the
 * page or the stream; on a real hive with `--nats` pointing at a closed port, the hive's name, a
 * link connecting or down, the outbox after a send to another hive on a page load and live, a
 * `federation` event re-rendering the chrome on an open stream, and remote hives and agents as the
 * presence watch would deliver them.
 */
import { describe as plainDescribe, expect, test as plainTest } from 'bun:test';
import { createDashboard } from '../../src/core/dashboard/dashboard.tsx';
import { OPERATOR, SYSTEM } from '../../src/shared/names.ts';
import { FederationLink, OtherHives, type FederationLinkState, type RemoteAgentItem, type RemoteHiveItem } from '../../views/dashboard/federation.tsx';
import { DashboardClient } from '../support/dashboard.ts';
import { openTestHive } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';
import { readSse } from '../support/sse.ts';

const withGit = requires('core dashboard federation', 'git');

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const MIN = 60_000;

/** What a reader sees of `html`: tags dropped, entities decoded, spaces collapsed. */
function visible(html: string): string {
  return html
    .replace(/<\/?(?:div|p|ul|li|table|tbody|tr|td)\b(?:[^>"]|"[^"]*")*>/g, ' ')
    .replace(/<(?:[^>"]|"[^"]*")*>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
}

/** A port on 127.0.0.1 that nothing listens on (taken, then let go). */
function closedPort(): number {
  const listener = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

const link = (o: Partial<FederationLinkState>): string =>
  String(<FederationLink state={{ hive: 'ha', link: 'up', since: NOW - 3 * MIN, outbox: 0, last_error: null, ...o }} now={NOW} />);

const hives = (h: RemoteHiveItem[], a: RemoteAgentItem[]): string => String(<OtherHives hives={h} agents={a} now={NOW} />);

plainDescribe('the federation, rendered', () => {
  plainTest('link up: the hive and "NATS up", nothing marked, no outbox while it is empty', () => {
    const html = link({});
    expect(visible(html)).toBe('hive ha · NATS up');
    expect(html).toContain('<span class="federation-state up" data-link="up"');
    expect(html).not.toContain('warn');
    expect(html).not.toContain('waiting');
  });

  plainTest('link down with 20 waiting: its age since it went down, both marked warn, the last error in the title', () => {
    const html = link({ link: 'down', outbox: 20, last_error: 'connect: "refused" <x>' });
    expect(visible(html)).toBe('hive ha · NATS down 3m · 20 waiting');
    expect(html).toContain('<span class="federation-state warn" data-link="down"');
    expect(html).toMatch(/NATS down <time class="age" data-since="\d+"[^>]*>3m<\/time>/);
    expect(html).toContain('<span class="federation-outbox warn" data-outbox="20"');
    // in an attribute: its quotes escaped, so it cannot end the attribute
    expect(html).toContain('title="the link to the federation\'s NATS servers: down since 2026-11-22 11:57:00 UTC · last error: connect: &#34;refused&#34; <x>"');
  });

  plainTest('link up with envelopes in flight: the depth shows, not marked; connecting is dim, not warn', () => {
    const busy = link({ outbox: 3 });
    expect(visible(busy)).toBe('hive ha · NATS up · 3 waiting');
    expect(busy).not.toContain('warn');
    const connecting = link({ link: 'connecting' });
    expect(visible(connecting)).toBe('hive ha · NATS connecting');
    expect(connecting).toContain('<span class="federation-state dim" data-link="connecting"');
    expect(connecting).not.toContain('warn');
    expect(visible(link({ link: 'connecting', outbox: 1 }))).toBe('hive ha · NATS connecting · 1 waiting');
    expect(link({ link: 'connecting', outbox: 1 })).toContain('federation-outbox warn');
  });

  plainTest('hives reachable and unreachable, by name: last heard, agent count, each agent as name@hive with its status and model', () => {
    const html = hives(
      [
        { name: 'hc', heard_at: NOW - 12 * MIN, reachable: false, agents: 1 },
        { name: 'hb', heard_at: NOW - 20_000, reachable: true, agents: 2 },
      ],
      [
        { hive: 'hb', name: 'alice', role: 'agent', status: 'idle', model: 'haiku', at: NOW - 30_000 },
        { hive: 'hb', name: 'manager', role: 'manager', status: 'thinking', model: 'opus', at: NOW - 10_000 },
        { hive: 'hc', name: 'carol', role: 'agent', status: 'offline', model: 'sonnet', at: NOW - 13 * MIN },
      ],
    );
    const text = visible(html);
    expect(text.indexOf('hb')).toBeLessThan(text.indexOf('hc'));
    expect(text).toContain('hb reachable heard 20s ago · 2 agents');
    expect(text).toContain('alice@hb idle as of 11:59:30 UTC haiku');
    expect(text).toContain('manager@hb manager thinking as of 11:59:50 UTC opus');
    expect(text).toContain('hc unreachable heard 12m ago · 1 agent');
    expect(text).toContain('carol@hc offline as of 11:47:00 UTC sonnet');
    // unreachable stands out; reachable does not
    expect(html).toMatch(/<li id="hive-hc" data-reachable="false">.*<span class="badge warn"[^>]*>unreachable<\/span>/);
    expect(html).toMatch(/<li id="hive-hb" data-reachable="true">.*<span class="badge ok">reachable<\/span>/);
    expect(html.match(/warn/g)).toHaveLength(1);
    expect(html).toContain('<span class="badge idle">idle</span>');
    // the ages are live
    expect(html).toContain(`data-since="${NOW - 12 * MIN}"`);
  });

  plainTest('a hive known only from its agents, one with no agents known, and none heard at all', () => {
    const html = hives([{ name: 'hd', heard_at: NOW, reachable: true, agents: 0 }], [{ hive: 'he', name: 'eve', role: 'agent', status: 'idle', model: 'haiku', at: NOW }]);
    expect(visible(html)).toContain('hd reachable heard 0s ago · 0 agents no agents known');
    expect(visible(html)).toContain('he no heartbeat heard yet eve@he idle');
    expect(hives([], [])).toBe('<p class="dim empty">no other hive heard yet</p>');
    // a state reported on another day says the date; one without a time says none
    const old = visible(hives([], [{ hive: 'hb', name: 'a', role: 'agent', status: 'offline', model: 'haiku', at: NOW - 2 * 86_400_000 }]));
    expect(old).toContain('a@hb offline as of 2026-11-20 12:00:00 UTC haiku');
    expect(visible(hives([], [{ hive: 'hb', name: 'a', role: 'agent', status: 'idle', model: 'haiku', at: 0 }]))).toContain('a@hb idle haiku');
  });

  plainTest('what other hives said is escaped', () => {
    const html = hives([], [{ hive: 'hb', name: 'x', role: '<b>r</b>', status: '"><script>s</script>', model: '<img src=x onerror=alert(1)>', at: NOW }]);
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).toContain('<span class="badge unknown">&quot;&gt;&lt;script&gt;s&lt;/script&gt;</span>');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });
});

withGit.describe('a hive on its own (no --nats): no federation on the dashboard', () => {
  let t: Awaited<ReturnType<typeof openTestHive>>;
  let tab: DashboardClient;
  withGit.beforeAll(async () => {
    t = await openTestHive();
    tab = await DashboardClient.open(createDashboard(t.hive));
  });
  withGit.afterAll(() => t.close());

  withGit.test('the page has no federation strip or other hives section; their fragments and the stream are empty of them', async () => {
    expect(t.hive.federation).toBeNull();
    const page = await (await tab.get('/')).text();
    expect(page).toContain('id="agents-body"');
    for (const absent of ['federation-link', 'NATS', 'hives-body', 'other hives', `hive ${t.hive.config.hive}`]) expect(page).not.toContain(absent);
    expect(await (await tab.get('/fragments/federation')).text()).toBe('');
    expect(await (await tab.get('/fragments/hives')).text()).toBe('');
    const sse = readSse(await tab.get('/events'));
    await sse.until('#approvals-body');
    t.hive.bus.emit({ type: 'federation' });
    // a frame after it, to know the stream has had its chance to send anything for it
    t.hive.bus.emit({ type: 'build', agent: 'nobody', approval: null, line: 'the end of the test', at: Date.now() });
    await sse.until('the end of the test');
    await sse.cancel();
    expect(sse.text).not.toContain('#federation-link');
    expect(sse.text).not.toContain('#hives-body');
  });
});

withGit.describe('a hive with --nats whose NATS cannot be reached', () => {
  let t: Awaited<ReturnType<typeof openTestHive>>;
  let tab: DashboardClient;
  withGit.beforeAll(async () => {
    t = await openTestHive({ hive: 'ha', nats: `nats://127.0.0.1:${closedPort()}` });
    tab = await DashboardClient.open(createDashboard(t.hive));
  });
  withGit.afterAll(() => t.close());

  const page = async () => (await tab.get('/')).text();
  /** The chrome strip's federation part of a page. */
  const strip = (html: string) => /<span id="federation-link" class="federation">([^]*?)<\/span><a href="\/login"/.exec(html)?.[1] ?? '';

  withGit.test('the chrome names the hive and a link connecting or down, no outbox; the swarm pane says no other hive is heard', async () => {
    const html = await page();
    expect(html).toContain('<span id="federation-link" class="federation">');
    expect(visible(strip(html))).toMatch(/^hive ha · NATS (connecting|down \d+s)$/);
    if (t.hive.federation!.status().link === 'down') expect(html).toContain('<span class="federation-state warn" data-link="down"');
    expect(html).toMatch(/<div class="pane" id="pane-swarm"[^]*<tbody id="agents-body">[^]*<section class="panel hives-panel" aria-labelledby="hives-h">[^]*other hives of the federation[^]*<div id="hives-body"><p class="dim empty">no other hive heard yet<\/p><\/div>/);
    expect(html.indexOf('id="hives-body"')).toBeLessThan(html.indexOf('id="pane-flow"'));
  });

  withGit.test('a send to bob@hb waits in the outbox: a page load shows 1 waiting, and an open stream follows the send', async () => {
    const sse = readSse(await tab.get('/events'));
    await sse.until('"#hives-body"');
    expect(sse.text).toMatch(/<hx-partial hx-target="#federation-link" hx-swap="innerHTML"><span class="federation-hive"[^>]*>hive ha<\/span>/);
    t.hive.policy.send('operator', 'bob@hb', 'x');
    expect(t.hive.federation!.status().outbox).toBe(1);
    const html = await page();
    expect(html).toContain('<span class="federation-outbox warn" data-outbox="1"');
    expect(visible(strip(html))).toMatch(/^hive ha · NATS (connecting|down \d+s) · 1 waiting$/);
    // the message's own event re-renders the chrome (the federation emits only after a publish)
    await sse.until('data-outbox="1"');
    await sse.cancel();
  });

  withGit.test('a federation event sends the chrome again to an open stream, rendered once for all streams', async () => {
    const a = readSse(await tab.get('/events'));
    const b = readSse(await tab.get('/events'));
    await a.until('"#hives-body"');
    await b.until('"#hives-body"');
    // an outbox row the federation itself would announce (as after a publish batch): nothing is sent until it does
    t.hive.db.run("INSERT INTO outbox (to_hive, kind, message_id, payload, queued_at) VALUES ('hb', 'receipt', NULL, '{}', 0)");
    const depth = t.hive.federation!.status().outbox;
    expect(depth).toBeGreaterThanOrEqual(2);
    // a change the stream does send (a notice for the operator) shows it has caught up with the store
    t.hive.broker.send(SYSTEM, OPERATOR, 'outbox marker');
    await a.until('outbox marker');
    expect(a.text).not.toContain(`data-outbox="${depth}"`);
    let renders = 0;
    const status = t.hive.federation!.status.bind(t.hive.federation!);
    t.hive.federation!.status = () => {
      renders++;
      return status();
    };
    try {
      t.hive.bus.emit({ type: 'federation' });
      await a.until(`data-outbox="${depth}"`);
      await b.until(`data-outbox="${depth}"`);
      expect(renders).toBe(1);
      expect(a.text).toMatch(new RegExp(`<hx-partial hx-target="#federation-link" hx-swap="innerHTML">.*${depth} waiting</span></hx-partial>`));
    } finally {
      t.hive.federation!.status = status;
      await a.cancel();
      await b.cancel();
    }
  });

  withGit.test('remote hives and agents as the presence watch delivers them: on a page load and live', async () => {
    const sse = readSse(await tab.get('/events'));
    await sse.until('no other hive heard yet');
    const presence = t.hive.federation!.presence;
    presence.take('hive.hb', 'PUT', JSON.stringify({ at: Date.now(), agents: 1 }));
    presence.take('agent.hb.alice', 'PUT', JSON.stringify({ role: 'agent', status: 'idle', model: 'haiku', at: Date.now() }));
    // this hive's own entries are not other hives
    presence.take('hive.ha', 'PUT', JSON.stringify({ at: Date.now(), agents: 0 }));
    await sse.until('alice@hb');
    await sse.cancel();
    expect(sse.text).toMatch(/<hx-partial hx-target="#hives-body" hx-swap="innerHTML"><ul class="remote-hives"><li id="hive-hb" data-reachable="true">/);
    const html = await page();
    const section = visible(/<div id="hives-body">[^]*?<\/ul><\/div>/.exec(html)?.[0] ?? '');
    expect(section).toMatch(/^hb reachable heard \d+s ago · 1 agent alice@hb idle as of \d\d:\d\d:\d\d UTC haiku$/);
    expect(html).not.toContain('id="hive-ha"');
    expect(await (await tab.get('/fragments/hives')).text()).toContain('alice@hb');
    // the send form offers her by the address that reaches her
    expect(/<datalist id="agent-names">[^]*?<\/datalist>/.exec(html)?.[0]).toContain('<option value="alice@hb">alice@hb</option>');
  });
});
