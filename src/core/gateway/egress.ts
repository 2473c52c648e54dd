/**
 * @module egress
 * The core's egress proxy: one HTTP proxy per agent, on a unix socket in that agent's socket dir
 * (`proxy.sock`, see `shared/paths.ts`). The socket an agent reaches is its identity; nothing the
 * agent says over it is trusted for that. Inside the sandbox the harness forwards
 * `127.0.0.1:<port>` to the socket (`agent/egress-forward.ts`) so that `HTTPS_PROXY` works.
 *
 * Policy, per request (CONNECT tunnel or plain-HTTP absolute-form request):
 *
 * 1. The destination must match one of the agent's `network.allow` entries (the entry grammar is
 *    in `shared/egress.ts`). If not, 403 before any name is looked up or anything is dialled.
 * 2. A destination the operator lists with `--egress-allow-internal HOST:PORT` is then dialled
 *    whatever it resolves to (loopback included).
 * 3. Any other destination is dialled only at a public address. An IP literal is judged as it is
 *    written; a loopback name (`localhost`, `*.localhost`) is refused outright; any other name is
 *    resolved once, addresses that are loopback, link-local, private (RFC 1918, CGNAT, ULA),
 *    multicast, cloud metadata or this host's own are dropped, and a surviving address is the one
 *    dialled (no second lookup in between). An agent's own IP-literal entry for a non-public
 *    address therefore grants nothing by itself.
 *
 * Refusals are answered 403 (400 for a request the proxy cannot read) with `X-Hive-Egress: <code>`
 * and a body, and on CONNECT also the status text, that starts `hive egress:` and names the rule.
 * Every decision is logged with the agent's name, one line per request: when it is made, or, for a
 * name whose address is still to be checked, when the name is resolved for the dial (so a client
 * that goes away before that leaves no line).
 *
 * The proxy itself is `createHttpProxyServer` from `@anthropic-ai/sandbox-runtime` 0.0.83
 * (`dist/sandbox/http-proxy.js`, Claude Code's own sandbox proxy: tunnelling, hop-by-hop header
 * stripping, half-close and teardown handling). From the same package: `domain-pattern.js`
 * (`matchesDomainPatternWithPort`: entry matching), `resolved-address-guard.js`
 * (`createResolvedAddressGuard`: the address check of step 3, whose built-in classes are loopback,
 * unspecified, link-local, multicast, broadcast, cloud metadata and this host's interface
 * addresses), `parent-proxy.js` (`canonicalizeHost`: the spelling every comparison uses),
 * `address.js` (`isLoopbackName`) and `request-filter.js` (`rawDenied`, `respondDenied`: the
 * refusal responses). Our own handlers run in front of the package's: they judge and answer every
 * refusal so the answer can name the agent's policy (the package's plain-HTTP refusal has a fixed
 * text), and pass allowed requests on to the package's handlers unchanged.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { removeStaleSocket } from '../../shared/jsonl.ts';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { isIP, type LookupFunction, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import { isLoopbackName } from '@anthropic-ai/sandbox-runtime/dist/sandbox/address.js';
import {
  matchesDomainPattern,
  matchesDomainPatternWithPort,
  stripDomainPatternPort,
} from '@anthropic-ai/sandbox-runtime/dist/sandbox/domain-pattern.js';
import { createHttpProxyServer } from '@anthropic-ai/sandbox-runtime/dist/sandbox/http-proxy.js';
import { canonicalizeHost, stripBrackets } from '@anthropic-ai/sandbox-runtime/dist/sandbox/parent-proxy.js';
import { rawDenied, respondDenied } from '@anthropic-ai/sandbox-runtime/dist/sandbox/request-filter.js';
import {
  createResolvedAddressGuard,
  isResolvedAddressDenied,
  ResolvedAddressDeniedError,
  type ResolvedAddressGuard,
  type Resolver,
} from '@anthropic-ai/sandbox-runtime/dist/sandbox/resolved-address-guard.js';
import { allowEntryProblem } from '../../shared/egress.ts';

/** Response header that marks every refusal the proxy answers itself; its value is a {@link RefusalCode}. */
export const EGRESS_DENY_HEADER = 'X-Hive-Egress';

/**
 * Why a request was refused, as sent in {@link EGRESS_DENY_HEADER}: `host_not_allowed` (not in
 * `network.allow`, or the allow list could not be read), `address_not_allowed` (loopback, private,
 * link-local or this host's address without the operator's permit), `bad_request` (a request the
 * proxy cannot read).
 */
export type RefusalCode = 'host_not_allowed' | 'address_not_allowed' | 'bad_request';

/**
 * Address ranges refused in addition to the guard's built-in classes: private-use space, which the
 * package leaves to the embedder. RFC 1918 (IPv4 private), RFC 6598 (carrier-grade NAT), RFC 4193
 * (IPv6 unique local), RFC 3879 (deprecated IPv6 site-local).
 */
export const PRIVATE_RANGES: readonly string[] = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10',
  'fc00::/7',
  'fec0::/10',
];

/** What the refusal of a non-public address tells the agent to do about it. */
const INTERNAL_HINT = 'only destinations the operator lists with --egress-allow-internal may';

/** One decision, as passed to `onDecision`. */
export interface EgressDecision {
  agent: string;
  /** Canonical host (lowercase, IPv6 without brackets), or as sent when it is not a valid host. */
  host: string;
  port: number;
  allowed: boolean;
  /** Why it was refused (the text after `hive egress: `); null when allowed. */
  reason: string | null;
  /** Epoch milliseconds. */
  at: number;
}

/** Options of {@link EgressProxy}. */
export interface EgressProxyOptions {
  /**
   * The agent's `network.allow` entries now. Read on every request, so a config change applies to
   * the next one. May throw (a `HiveError` `bad_config` for a broken config): every request of that
   * agent is then refused with the error's message. Entries that fail `allowEntryProblem` are
   * ignored (they would have been refused when the config was read).
   */
  allowFor(agent: string): string[];
  /**
   * Destinations (host, port) the operator permits although they are loopback, private or this
   * host's (core flag `--egress-allow-internal HOST:PORT`, repeatable; parse with
   * `parseInternalDestination`). An agent still needs a matching `network.allow` entry.
   */
  internal: Array<{ host: string; port: number }>;
  /** One line per CONNECT or plain-HTTP request: agent, host:port, allowed or refused and why. */
  log(line: string): void;
  /** Called with every decision, after `log`. */
  onDecision?(d: EgressDecision): void;
  /** Name resolution for dials; default `node:dns` `lookup`. Test seam: lets a test map names to 127.0.0.1 without DNS. */
  resolve?: Resolver;
}

/** The outcome of judging a destination before anything is resolved or dialled. */
type Verdict =
  | { allowed: false; host: string; reason: string; code: RefusalCode }
  /** `checkAddress`: a name whose resolved address the guard still has to pass at dial time. */
  | { allowed: true; host: string; why: string; checkAddress: boolean };

interface Running {
  server: Server;
  socketPath: string;
  /** Every client connection, including CONNECT sockets the HTTP server no longer tracks. */
  sockets: Set<Socket | Duplex>;
}

/**
 * The per-agent egress proxies of the core.
 *
 * @example
 * const egress = new EgressProxy({ allowFor: (a) => configs.get(a).network.allow, internal: [], log: console.log });
 * await egress.listen('alice', layout.agent('alice').proxySocket);
 * // … inside alice's sandbox: HTTPS_PROXY=http://127.0.0.1:<forwarder port>
 * await egress.closeAll();
 */
export class EgressProxy {
  private readonly opts: EgressProxyOptions;
  private readonly internal: ReadonlyArray<{ host: string; port: number }>;
  private readonly resolve: Resolver;
  private readonly guard: ResolvedAddressGuard;
  private readonly running = new Map<string, Running>();

  constructor(opts: EgressProxyOptions) {
    this.opts = opts;
    this.internal = opts.internal.map((d) => ({ host: canonicalizeHost(d.host) ?? d.host.toLowerCase(), port: d.port }));
    this.resolve = opts.resolve ?? (dnsLookup as unknown as Resolver);
    // No allowedDomains: an address the built-in classes or PRIVATE_RANGES deny stays denied for
    // every name. Internal destinations bypass the guard by exact host and port instead.
    this.guard = createResolvedAddressGuard({ deniedResolvedAddresses: PRIVATE_RANGES, resolve: this.resolve });
  }

  /**
   * Starts `agent`'s proxy on the unix socket `socketPath` (mode 0600). A stale socket file there is
   * removed first; if the agent's proxy is already running it is closed and replaced.
   * @throws Error when `socketPath` exists and is not a socket, or the listen fails (path too long,
   *   directory not writable).
   */
  async listen(agent: string, socketPath: string): Promise<void> {
    if (this.running.has(agent)) await this.close(agent);
    mkdirSync(dirname(socketPath), { recursive: true });
    removeStaleSocket(socketPath);
    const sockets = new Set<Socket | Duplex>();
    const run: Running = { server: this.createServer(agent, sockets), socketPath, sockets };
    run.server.on('connection', (s: Socket) => track(sockets, s));
    await new Promise<void>((resolve, reject) => {
      run.server.once('error', reject);
      run.server.listen(socketPath, () => {
        run.server.off('error', reject);
        resolve();
      });
    });
    run.server.on('error', (err) => this.safeLog(`egress ${agent} proxy error: ${err.message}`));
    chmodSync(socketPath, 0o600);
    this.running.set(agent, run);
  }

  /** Stops `agent`'s proxy: open connections and tunnels are cut and the socket file removed. No-op when not running. */
  async close(agent: string): Promise<void> {
    const run = this.running.get(agent);
    if (!run) return;
    this.running.delete(agent);
    await new Promise<void>((resolve) => {
      run.server.close(() => resolve());
      for (const s of run.sockets) s.destroy();
      run.sockets.clear();
    });
    rmSync(run.socketPath, { force: true });
  }

  /** Stops every agent's proxy. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.running.keys()].map((a) => this.close(a)));
  }

  /** The package's proxy for one agent, with our judging handlers in front of its own. */
  private createServer(agent: string, sockets: Set<Socket | Duplex>): Server {
    const server = createHttpProxyServer({
      // Reached only for requests our handlers below passed on; judged again (not logged) so that
      // the package never dials anything the policy does not allow right now.
      filter: (port, host, _socket, _command, explain) => {
        const v = this.judge(agent, host, port);
        if (!v.allowed) explain?.(`hive egress: ${v.reason}`);
        return v.allowed;
      },
      lookupFor: (port) => this.lookupFor(agent, port),
      denyHeader: EGRESS_DENY_HEADER,
      requireAsciiHost: true,
      foldHopByHop: true,
    });
    const theirRequest = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
    const theirConnect = server.listeners('connect') as Array<(req: IncomingMessage, socket: Duplex, head: Buffer) => void>;
    server.removeAllListeners('request');
    server.removeAllListeners('connect');

    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      req.on('error', () => {});
      const target = absoluteTarget(req.url ?? '');
      if (!target) {
        respondDenied(
          res,
          `hive egress: this is a proxy; it takes CONNECT host:port and absolute http:// URLs with a plain ASCII host, not ${JSON.stringify((req.url ?? '').slice(0, 100))}`,
          { name: EGRESS_DENY_HEADER, value: 'bad_request' },
          400,
        );
        return;
      }
      const v = this.judge(agent, target.host, target.port);
      if (!v.allowed) {
        this.record(agent, v.host, target.port, false, v.reason);
        respondDenied(res, `hive egress: ${v.reason}`, { name: EGRESS_DENY_HEADER, value: v.code });
        return;
      }
      if (!v.checkAddress) this.record(agent, v.host, target.port, true, v.why);
      for (const l of theirRequest) l.call(server, req, res);
    });

    server.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      track(sockets, socket);
      socket.on('error', () => socket.destroy());
      const target = connectTarget(req.url ?? '');
      if (!target) {
        // Answered here rather than by the package, so that nothing we could not judge reaches it.
        const text = `hive egress: CONNECT needs host:port with a plain ASCII host, not ${JSON.stringify((req.url ?? '').slice(0, 100))}`;
        socket.end(
          `HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n${EGRESS_DENY_HEADER}: bad_request\r\nConnection: close\r\n\r\n${text}\n`,
        );
        return;
      }
      const v = this.judge(agent, target.host, target.port);
      if (!v.allowed) {
        this.record(agent, v.host, target.port, false, v.reason);
        const text = `hive egress: ${v.reason}`;
        socket.end(rawDenied(`${text}\n`, { name: EGRESS_DENY_HEADER, value: v.code }, text));
        return;
      }
      if (!v.checkAddress) this.record(agent, v.host, target.port, true, v.why);
      for (const l of theirConnect) l.call(server, req, socket, head);
    });
    return server;
  }

  /** The policy for `agent` reaching `rawHost:port`, decided without resolving or dialling anything. */
  private judge(agent: string, rawHost: string, port: number): Verdict {
    const host = canonicalizeHost(rawHost);
    if (!host) return { allowed: false, host: rawHost, code: 'bad_request', reason: `${JSON.stringify(rawHost)} is not a valid host` };
    let entries: string[];
    try {
      entries = this.opts.allowFor(agent).filter((e) => allowEntryProblem(e) === null);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return { allowed: false, host, code: 'host_not_allowed', reason: message };
    }
    const entry = entries.find((e) => matchesDomainPatternWithPort(host, port, e));
    if (entry === undefined) {
      const hostOnly = entries.some((e) => matchesDomainPattern(host, stripDomainPatternPort(e)));
      const label = hostOnly ? authority(host, port) : host;
      const list = entries.length ? entries.join(', ') : 'which is empty';
      return {
        allowed: false,
        host,
        code: 'host_not_allowed',
        reason: `${JSON.stringify(label)} is not in ${agent}'s network.allow (${list})`,
      };
    }
    if (this.isInternal(host, port))
      return { allowed: true, host, checkAddress: false, why: `matches "${entry}"; an internal destination the operator permits` };
    if (isIP(host)) {
      const cls = this.literalClass(host, port);
      if (cls !== null)
        return { allowed: false, host, code: 'address_not_allowed', reason: `${JSON.stringify(host)} is ${cls}; ${INTERNAL_HINT}` };
      return { allowed: true, host, checkAddress: false, why: `matches "${entry}"; a public address` };
    }
    if (isLoopbackName(host))
      return { allowed: false, host, code: 'address_not_allowed', reason: `${JSON.stringify(host)} resolves to a loopback address; ${INTERNAL_HINT}` };
    return { allowed: true, host, checkAddress: true, why: `matches "${entry}"` };
  }

  private isInternal(host: string, port: number): boolean {
    return this.internal.some((d) => d.host === host && d.port === port);
  }

  /**
   * The guard's refusal class for the IP literal `address` at `port` ("a loopback address", …), or
   * null for a public address. The guard never judges a destination written as an IP literal (it
   * treats one as the user's explicit choice), so the literal is run through a one-off guard as if a
   * name had resolved to it; that guard's resolver answers synchronously, so the result is known
   * when `lookupFor` returns.
   */
  private literalClass(address: string, port: number): string | null {
    const family = isIP(address);
    const guard = createResolvedAddressGuard({
      deniedResolvedAddresses: PRIVATE_RANGES,
      resolve: (_name, _options, callback) => callback(null, [{ address, family }]),
    });
    let result: string | null | undefined;
    guard.lookupFor(port)('ip-literal.invalid', { all: true }, (err) => {
      result = err === null ? null : isResolvedAddressDenied(err) ? describeClass(err.reason) : 'an address that could not be checked';
    });
    return result === undefined ? 'an address that could not be checked' : result;
  }

  /**
   * The `lookup` the package dials `port` with for `agent`. Reached only for names our handlers
   * passed on: an internal destination resolves freely; any other name through the guard, and the
   * decision for it (which waited for the address) is recorded here.
   */
  private lookupFor(agent: string, port: number): LookupFunction {
    return (hostname, options, callback) => {
      const host = canonicalizeHost(hostname) ?? hostname;
      if (this.isInternal(host, port) || isIP(host)) {
        // Judged in full already; the runtime does not call lookup for literals, but be exact if it does.
        if (isIP(host)) return deliver(options.all === true, callback, [{ address: host, family: isIP(host) }]);
        this.resolve(hostname, { ...options, all: true }, (err, addresses) => {
          if (err) callback(err, options.all ? [] : '');
          else deliver(options.all === true, callback, addresses);
        });
        return;
      }
      this.guard.lookupFor(port)(hostname, options, (err, address, family) => {
        if (err === null) {
          const entry = this.entryFor(agent, host, port);
          this.record(agent, host, port, true, `matches "${entry}"; resolves to a public address`);
          callback(null, address, family);
          return;
        }
        if (isResolvedAddressDenied(err)) {
          const reason = `${JSON.stringify(host)} resolves to ${describeClass(err.reason)}; ${INTERNAL_HINT}`;
          this.record(agent, host, port, false, reason);
          callback(new EgressAddressRefused(host, reason, err.addresses), options.all ? [] : '');
          return;
        }
        this.record(agent, host, port, false, `${JSON.stringify(host)} could not be resolved (${err.code ?? err.message})`);
        callback(err, options.all ? [] : '');
      });
    };
  }

  /** The entry that allows `host:port` now, for the log; `?` if the allow list changed or broke meanwhile. */
  private entryFor(agent: string, host: string, port: number): string {
    try {
      return this.opts.allowFor(agent).find((e) => allowEntryProblem(e) === null && matchesDomainPatternWithPort(host, port, e)) ?? '?';
    } catch {
      return '?';
    }
  }

  private record(agent: string, host: string, port: number, allowed: boolean, text: string): void {
    const at = Date.now();
    this.safeLog(`egress ${agent} ${authority(host, port)} ${allowed ? 'allowed' : 'refused'}: ${text}`);
    try {
      this.opts.onDecision?.({ agent, host, port, allowed, reason: allowed ? null : text, at });
    } catch {
      // A failing observer must not break the proxy.
    }
  }

  private safeLog(line: string): void {
    try {
      this.opts.log(line);
    } catch {
      // As above.
    }
  }
}

/**
 * A resolved-address refusal whose message (the 403's body, and on CONNECT its status text) is
 * ours. A subclass, so the package's `isResolvedAddressDenied` still recognises it and answers 403
 * (`address_not_allowed`) instead of 502.
 */
class EgressAddressRefused extends ResolvedAddressDeniedError {
  constructor(hostname: string, reason: string, addresses: readonly string[]) {
    super(hostname, `hive egress: ${reason}`, addresses);
    this.message = `hive egress: ${reason}`;
  }
}

/** The guard's "resolved to a loopback address / a listed address" as "a loopback address / a private address". */
function describeClass(guardReason: string): string {
  return guardReason.replace(/^resolved to /, '').replaceAll('a listed address', 'a private address');
}

/** Hands `addresses` to a lookup callback in the shape `all` asks for. */
function deliver(
  all: boolean,
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  addresses: LookupAddress[],
): void {
  const first = addresses[0];
  if (all) callback(null, addresses);
  else if (first) callback(null, first.address, first.family);
  else callback(Object.assign(new Error('no address'), { code: 'ENOTFOUND' }), '');
}

/** `host:port`, IPv6 in brackets. */
function authority(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/** A host spelled in plain ASCII (letters, digits, `-`, dot-separated, one trailing dot) or an IP literal. */
function plainHost(host: string): boolean {
  if (host.startsWith('[')) return host.endsWith(']') && isIP(host.slice(1, -1)) === 6;
  return isIP(host) === 4 || /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?$/.test(host);
}

/**
 * The destination of a CONNECT request-target (`host:port`, `[v6]:port`), or undefined when it is
 * not one. Same shapes as the package's own parser, and the same plain-ASCII rule as its
 * `requireAsciiHost`, so what we judge is what it would forward.
 */
function connectTarget(target: string): { host: string; port: number } | undefined {
  const m = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(target);
  if (!m || !plainHost(m[1] ?? '')) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: stripBrackets(m[1] ?? ''), port };
}

/** The destination of an absolute-form `http(s)://` request-target, or undefined when it is not one. */
function absoluteTarget(raw: string): { host: string; port: number } | undefined {
  const m = /^https?:\/\/(\[[^\]]*\]|[^/?#:@[\]]*)(?::\d+)?(?:[/?]|$)/i.exec(raw);
  if (!m || !plainHost(m[1] ?? '')) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { host: stripBrackets(url.hostname), port };
}

/** Keeps `s` in `sockets` until it closes. */
function track(sockets: Set<Socket | Duplex>, s: Socket | Duplex): void {
  if (sockets.has(s)) return;
  sockets.add(s);
  s.once('close', () => sockets.delete(s));
}

