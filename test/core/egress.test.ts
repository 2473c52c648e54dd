/**
 * The egress proxy end to end on this machine: the core's proxy on a unix socket in a temp dir, the
 * agent-side TCP forwarder in front of it, curl and raw sockets as clients, and target servers on
 * 127.0.0.1. All traffic stays on loopback: names the agents do not allow are refused before any
 * lookup, and every name that is looked up goes through the test resolver below (never DNS).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { Resolver } from '@anthropic-ai/sandbox-runtime/dist/sandbox/resolved-address-guard.js';
import { startEgressForwarder, type EgressForwarder } from '../../src/agent/egress-forward.ts';
import { EgressProxy, type EgressDecision } from '../../src/core/gateway/egress.ts';
import { HiveError } from '../../src/shared/errors.ts';
import { allowEntryProblem, parseInternalDestination } from '../../src/shared/egress.ts';
import { startTestHost } from '../support/hive.ts';
import { requires } from '../support/prereq.ts';

/** The blocks that drive the proxy with curl, and the one that checks what they logged. */
const withCurl = requires('core egress, through curl', 'curl');

setDefaultTimeout(30_000);

/** Names the test resolver knows; anything else fails as unknown. Every call is recorded. */
const NAMES: Record<string, string> = {
  localhost: '127.0.0.1',
  'loopy.example.org': '127.0.0.1',
  'intranet.example.org': '10.1.2.3',
};
const lookups: string[] = [];
const resolve: Resolver = (hostname, _options, callback) => {
  lookups.push(hostname);
  const address = NAMES[hostname];
  if (address) callback(null, [{ address, family: 4 }]);
  else callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
};

let dir: string;
let target: ReturnType<typeof Bun.serve>;
let targetHits: string[] = [];
/** A TCP server that counts connections and echoes bytes back, upper-cased. */
let echo: net.Server;
let echoPort: number;
let echoConnections = 0;
/** A TCP server nobody may reach: any connection to it is a failure of the policy. */
let canary: net.Server;
let canaryPort: number;
let canaryConnections = 0;

const log: string[] = [];
const decisions: EgressDecision[] = [];
const allow: Record<string, string[] | Error> = {
  alice: ['127.0.0.1', 'localhost', '*.example.org'],
  bob: ['api.github.com'],
  carol: new HiveError('bad_config', "carol's agent.toml: network.allow.0: \"*\" would allow every host"),
};
let proxy: EgressProxy;
const fwd: Record<string, EgressForwarder> = {};

function listenTcp(server: net.Server): Promise<number> {
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok((server.address() as net.AddressInfo).port)));
}

beforeAll(async () => {
  dir = mkdtempSync('/tmp/hx-eg-');
  ({ server: target, hits: targetHits } = startTestHost('hello from target'));
  echo = net.createServer((s) => {
    echoConnections++;
    s.on('data', (b) => s.write(b.toString().toUpperCase()));
    s.on('end', () => s.end());
    s.on('error', () => {});
  });
  echoPort = await listenTcp(echo);
  canary = net.createServer((s) => {
    canaryConnections++;
    s.destroy();
  });
  canaryPort = await listenTcp(canary);

  proxy = new EgressProxy({
    allowFor(agent) {
      const a = allow[agent];
      if (a instanceof Error) throw a;
      return a ?? [];
    },
    internal: [
      { host: '127.0.0.1', port: target.port! },
      { host: '127.0.0.1', port: echoPort },
      { host: 'localhost', port: target.port! },
    ],
    log: (line) => log.push(line),
    onDecision: (d) => decisions.push(d),
    resolve,
  });
  for (const agent of ['alice', 'bob', 'carol']) {
    await proxy.listen(agent, join(dir, agent, 'proxy.sock'));
    fwd[agent] = await startEgressForwarder({ socketPath: join(dir, agent, 'proxy.sock') });
  }
});

afterAll(async () => {
  for (const f of Object.values(fwd)) await f.close();
  await proxy?.closeAll();
  target?.stop(true);
  echo?.close();
  canary?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs curl through `agent`'s forwarder; `-i` so the status and headers are in stdout. */
async function curl(agent: string, url: string, ...extra: string[]) {
  const proc = Bun.spawn(
    ['curl', '-sS', '-i', '--max-time', '10', '--noproxy', '', '-x', `http://127.0.0.1:${fwd[agent]!.port}`, ...extra, url],
    { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdout: 'pipe', stderr: 'pipe' },
  );
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, code };
}

/**
 * Opens a raw CONNECT to `authority` through `agent`'s forwarder, sends `payload` once the tunnel
 * is up (then half-closes), and returns the proxy's answer head and everything after it.
 */
function rawConnect(agent: string, authority: string, payload = ''): Promise<{ head: string; rest: string }> {
  return new Promise((ok, fail) => {
    const s = net.connect({ host: '127.0.0.1', port: fwd[agent]!.port, allowHalfOpen: true });
    let buf = '';
    let sent = false;
    s.on('connect', () => s.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`));
    s.on('data', (b) => {
      buf += b.toString();
      const end = buf.indexOf('\r\n\r\n');
      if (!sent && end !== -1 && buf.startsWith('HTTP/1.1 200')) {
        sent = true;
        s.end(payload);
      }
    });
    // The proxy ends its side after a refusal (no Content-Length); end ours then, as curl would.
    s.on('end', () => s.end());
    s.on('error', fail);
    s.on('close', () => {
      const end = buf.indexOf('\r\n\r\n');
      ok(end === -1 ? { head: buf, rest: '' } : { head: buf.slice(0, end), rest: buf.slice(end + 4) });
    });
    const timer = setTimeout(() => s.destroy(new Error(`raw CONNECT ${authority}: no answer in time; got ${JSON.stringify(buf)}`)), 10_000);
    s.on('close', () => clearTimeout(timer));
  });
}

const lastDecision = () => decisions.at(-1)!;

withCurl.describe('allowed destinations', () => {
  test('plain HTTP to an internal destination the agent allows: 200 with the target body', async () => {
    const before = targetHits.length;
    const r = await curl('alice', `http://127.0.0.1:${target.port}/plain`);
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith('HTTP/1.1 200');
    expect(r.stdout).toEndWith('hello from target');
    expect(targetHits.slice(before)).toEqual(['/plain']);
    expect(log).toContain(
      `egress alice 127.0.0.1:${target.port} allowed: matches "127.0.0.1"; an internal destination the operator permits`,
    );
    expect(lastDecision()).toMatchObject({ agent: 'alice', host: '127.0.0.1', port: target.port, allowed: true, reason: null });
  });

  test('CONNECT tunnel (curl --proxytunnel) to an internal destination: bytes flow', async () => {
    const before = targetHits.length;
    const r = await curl('alice', `http://127.0.0.1:${target.port}/tunnel`, '--proxytunnel');
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith('HTTP/1.1 200 Connection Established');
    expect(r.stdout).toEndWith('hello from target');
    expect(targetHits.slice(before)).toEqual(['/tunnel']);
    expect(lastDecision()).toMatchObject({ agent: 'alice', host: '127.0.0.1', port: target.port, allowed: true });
  });

  test('raw CONNECT: both directions flow and a half-close still gets the whole answer', async () => {
    const r = await rawConnect('alice', `127.0.0.1:${echoPort}`, 'ping through the tunnel');
    expect(r.head).toStartWith('HTTP/1.1 200');
    expect(r.rest).toBe('PING THROUGH THE TUNNEL');
    expect(echoConnections).toBe(1);
  });

  test('an internal destination given by name resolves (to loopback) and is dialled', async () => {
    lookups.length = 0;
    const r = await curl('alice', `http://localhost:${target.port}/by-name`);
    expect(r.stdout).toStartWith('HTTP/1.1 200');
    expect(r.stdout).toEndWith('hello from target');
    expect(lookups).toContain('localhost');
    expect(log).toContain(
      `egress alice localhost:${target.port} allowed: matches "localhost"; an internal destination the operator permits`,
    );
  });
});

withCurl.describe('refused destinations', () => {
  test('a host not in network.allow: 403 naming the policy, before any lookup or dial (plain HTTP)', async () => {
    lookups.length = 0;
    const before = targetHits.length;
    const r = await curl('alice', `http://not-allowed.example:${target.port}/`);
    expect(r.stdout).toStartWith('HTTP/1.1 403');
    expect(r.stdout).toContain('X-Hive-Egress: host_not_allowed');
    expect(r.stdout).toContain(
      `hive egress: "not-allowed.example" is not in alice's network.allow (127.0.0.1, localhost, *.example.org)`,
    );
    expect(lookups).toEqual([]);
    expect(targetHits.length).toBe(before);
    expect(log).toContain(
      `egress alice not-allowed.example:${target.port} refused: "not-allowed.example" is not in alice's network.allow (127.0.0.1, localhost, *.example.org)`,
    );
    expect(lastDecision()).toMatchObject({ agent: 'alice', host: 'not-allowed.example', allowed: false });
  });

  test('a host not in network.allow: CONNECT answered 403 with the policy in status text and body', async () => {
    lookups.length = 0;
    const r = await rawConnect('alice', 'not-allowed.example:443');
    expect(r.head).toStartWith('HTTP/1.1 403 hive egress: "not-allowed.example" is not in alice\'s network.allow');
    expect(r.head).toContain('X-Hive-Egress: host_not_allowed');
    expect(r.rest).toContain(`hive egress: "not-allowed.example" is not in alice's network.allow (127.0.0.1, localhost, *.example.org)`);
    expect(lookups).toEqual([]);
    expect(lastDecision()).toMatchObject({ agent: 'alice', host: 'not-allowed.example', port: 443, allowed: false });
  });

  test('the socket is the identity: bob reaching what alice may is refused with bob\'s list', async () => {
    const before = targetHits.length;
    const r = await curl('bob', `http://127.0.0.1:${target.port}/`);
    expect(r.stdout).toStartWith('HTTP/1.1 403');
    expect(r.stdout).toContain(`hive egress: "127.0.0.1" is not in bob's network.allow (api.github.com)`);
    expect(targetHits.length).toBe(before);
    expect(lastDecision()).toMatchObject({ agent: 'bob', allowed: false });
  });

  test('localhost allowed by the agent but not internal: refused as loopback, no lookup', async () => {
    lookups.length = 0;
    const r = await curl('alice', `http://localhost:${canaryPort}/`);
    expect(r.stdout).toStartWith('HTTP/1.1 403');
    expect(r.stdout).toContain('X-Hive-Egress: address_not_allowed');
    expect(r.stdout).toContain(
      'hive egress: "localhost" resolves to a loopback address; only destinations the operator lists with --egress-allow-internal may',
    );
    expect(lookups).toEqual([]);
    expect(canaryConnections).toBe(0);
  });

  test("the agent's own IP-literal entry for 127.0.0.1 does not permit a dial without the operator's permit", async () => {
    const plain = await curl('alice', `http://127.0.0.1:${canaryPort}/`);
    expect(plain.stdout).toStartWith('HTTP/1.1 403');
    expect(plain.stdout).toContain(
      'hive egress: "127.0.0.1" is a loopback address; only destinations the operator lists with --egress-allow-internal may',
    );
    const tunnel = await rawConnect('alice', `127.0.0.1:${canaryPort}`);
    expect(tunnel.head).toStartWith('HTTP/1.1 403');
    expect(tunnel.rest).toContain('"127.0.0.1" is a loopback address');
    // Other spellings of the same address are the same address.
    const shorthand = await rawConnect('alice', `127.1:${canaryPort}`);
    expect(shorthand.head).toStartWith('HTTP/1.1 403');
    expect(canaryConnections).toBe(0);
    expect(log).toContain(
      `egress alice 127.0.0.1:${canaryPort} refused: "127.0.0.1" is a loopback address; only destinations the operator lists with --egress-allow-internal may`,
    );
  });

  test('an allowed name that resolves to loopback or private space is refused at dial time', async () => {
    lookups.length = 0;
    const loopy = await rawConnect('alice', `loopy.example.org:${canaryPort}`);
    expect(loopy.head).toStartWith('HTTP/1.1 403');
    expect(loopy.head).toContain('X-Hive-Egress: address_not_allowed');
    expect(loopy.rest).toContain(
      'hive egress: "loopy.example.org" resolves to a loopback address; only destinations the operator lists with --egress-allow-internal may',
    );
    const intranet = await curl('alice', `http://intranet.example.org:${canaryPort}/`);
    expect(intranet.stdout).toStartWith('HTTP/1.1 403');
    expect(intranet.stdout).toContain('hive egress: "intranet.example.org" resolves to a private address');
    expect(lookups).toEqual(['loopy.example.org', 'intranet.example.org']);
    expect(canaryConnections).toBe(0);
    expect(decisions.filter((d) => d.host === 'loopy.example.org')).toMatchObject([{ agent: 'alice', allowed: false }]);
  });

  test('allowFor throwing: every request refused with its message', async () => {
    lookups.length = 0;
    const r = await curl('carol', `http://127.0.0.1:${target.port}/`);
    expect(r.stdout).toStartWith('HTTP/1.1 403');
    expect(r.stdout).toContain(`hive egress: carol's agent.toml: network.allow.0: "*" would allow every host`);
    const t = await rawConnect('carol', 'api.github.com:443');
    expect(t.head).toStartWith('HTTP/1.1 403');
    expect(t.rest).toContain(`hive egress: carol's agent.toml`);
    expect(lookups).toEqual([]);
    expect(lastDecision()).toMatchObject({ agent: 'carol', host: 'api.github.com', allowed: false });
  });

  test('a request that is not a proxy request, or a CONNECT target it cannot read: 400', async () => {
    const res = await new Promise<string>((ok, fail) => {
      const s = net.connect({ host: '127.0.0.1', port: fwd.alice!.port });
      let buf = '';
      s.on('connect', () => s.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      s.on('data', (b) => (buf += b.toString()));
      s.on('close', () => ok(buf));
      s.on('error', fail);
    });
    expect(res).toStartWith('HTTP/1.1 400');
    expect(res).toContain('hive egress: this is a proxy');
    const odd = await rawConnect('alice', `127.0.0.1:000${target.port}`);
    expect(odd.head).toStartWith('HTTP/1.1 400');
    expect(odd.rest).toContain('hive egress: CONNECT needs host:port');
  });
});

withCurl.describe('logging', () => {
  test('every decision is logged with the agent name, one line per request', () => {
    if (process.env.EGRESS_TEST_SHOW_LOG) console.log(log.join('\n'));
    expect(log.length).toBe(decisions.length);
    for (const [i, d] of decisions.entries()) {
      expect(log[i]).toStartWith(`egress ${d.agent} `);
      expect(log[i]).toContain(d.allowed ? ' allowed: ' : ' refused: ');
    }
    expect(new Set(decisions.map((d) => d.agent))).toEqual(new Set(['alice', 'bob', 'carol']));
  });
});

describe('lifecycle', () => {
  test('listen replaces a stale socket, refuses a non-socket file, close removes the socket', async () => {
    const p = new EgressProxy({ allowFor: () => [], internal: [], log: () => {} });
    const path = join(dir, 'dave', 'proxy.sock');
    await p.listen('dave', path);
    // A second listen (a restart) replaces the first.
    await p.listen('dave', path);
    await p.close('dave');
    expect(await Bun.file(path).exists()).toBe(false);
    writeFileSync(path, 'not a socket');
    await expect(p.listen('dave', path)).rejects.toThrow('exists and is not a socket');
    rmSync(path);
  });

  test('close cuts an open tunnel and removes the socket', async () => {
    const p = new EgressProxy({ allowFor: () => ['127.0.0.1'], internal: [{ host: '127.0.0.1', port: echoPort }], log: () => {} });
    const path = join(dir, 'erin', 'proxy.sock');
    await p.listen('erin', path);
    const s = net.connect({ path });
    const established = new Promise((ok) => s.once('data', ok));
    const closed = new Promise((ok) => s.on('close', ok));
    s.on('error', () => {});
    s.write(`CONNECT 127.0.0.1:${echoPort} HTTP/1.1\r\nHost: 127.0.0.1:${echoPort}\r\n\r\n`);
    expect(String(await established)).toStartWith('HTTP/1.1 200');
    await p.closeAll();
    await closed;
    expect(await Bun.file(path).exists()).toBe(false);
  });

  test('forwarder: no proxy behind it closes that connection, and the listener stays up', async () => {
    const f = await startEgressForwarder({ socketPath: join(dir, 'nobody', 'proxy.sock') });
    for (let i = 0; i < 2; i++) {
      const s = net.connect({ host: '127.0.0.1', port: f.port });
      s.on('error', () => {});
      await new Promise((ok) => s.on('close', ok));
    }
    await f.close();
  });

  test('forwarder close cuts open connections', async () => {
    const f = await startEgressForwarder({ socketPath: join(dir, 'alice', 'proxy.sock') });
    const s = net.connect({ host: '127.0.0.1', port: f.port });
    await new Promise((ok) => s.on('connect', ok));
    const closed = new Promise((ok) => s.on('close', ok));
    s.on('error', () => {});
    await f.close();
    await closed;
  });
});

describe('allowEntryProblem', () => {
  const valid = [
    'api.github.com',
    '*.example.org',
    'API.GitHub.com',
    'localhost',
    '203.0.113.7',
    '127.0.0.1',
    '[::1]',
    '[2001:db8::1]:443',
    'api.github.com:443',
    '*.example.org:8443',
    '_dmarc.example.org',
  ];
  test.each(valid)('accepts %p', (entry) => {
    expect(allowEntryProblem(entry)).toBeNull();
  });

  const invalid: Array<[string, string]> = [
    ['', 'empty'],
    ['*', 'every host'],
    ['*.com', 'too broad'],
    ['*.', 'too broad'],
    ['foo.*.org', 'wrong place'],
    ['http://x', 'scheme'],
    ['https://api.github.com/repos', 'scheme'],
    ['example.org/path', 'path'],
    ['a b', 'space'],
    ['x.org:99999', 'port'],
    ['x.org:0', 'port'],
    ['x.org:http', 'port'],
    ['2001:db8::1', 'brackets'],
    ['[not-v6]', 'no IPv6 address'],
    ['[::1', 'unclosed'],
    ['intranet', 'single-label'],
    ['example.org.', 'trailing dot'],
    ['ex..ample.org', 'empty label'],
    ['127.1', 'shorthand'],
    ['user@example.org', 'user info'],
    ['exämple.org', 'characters'],
  ];
  test.each(invalid)('refuses %p (%s)', (entry, words) => {
    const problem = allowEntryProblem(entry);
    expect(problem).not.toBeNull();
    expect(problem!).toContain(words);
  });
});

describe('parseInternalDestination', () => {
  test.each([
    ['127.0.0.1:5432', { host: '127.0.0.1', port: 5432 }],
    ['localhost:8080', { host: 'localhost', port: 8080 }],
    ['DB.Internal.:6379', { host: 'db.internal', port: 6379 }],
    ['[::1]:8080', { host: '::1', port: 8080 }],
    ['127.1:80', { host: '127.0.0.1', port: 80 }],
  ] as const)('parses %p', (text, want) => {
    expect(parseInternalDestination(text)).toEqual(want);
  });

  test.each(['127.0.0.1', 'localhost:0', 'localhost:65536', ':80', '::1:80', '*.example.org:443', 'a b:80', 'http://x:80'])(
    'refuses %p',
    (text) => {
      expect(() => parseInternalDestination(text)).toThrow(`--egress-allow-internal ${JSON.stringify(text)}`);
    },
  );
});
