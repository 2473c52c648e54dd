/**
 * @module agent/serve
 * `hive agent serve`: agent mode, run inside each sandbox. Announces itself to the core, opens its
 * history, serves its page on `page.sock` in its socket dir (retrying forever; the dashboard proxies
 * to it), forwards a loopback port to the core's egress proxy for claude's tools, serves the hive's
 * MCP tools on a loopback port for claude to connect to (`mcp/http.ts`; `hive mcp` over stdio only
 * if that cannot listen), serves the operator's terminals on `term.sock` (`terminal.ts`), and runs
 * the turn loop until stopped. A peer's harness (role `peer`: in a container the hive does not run)
 * serves no page and no terminal and forwards nothing to an egress proxy (its tools use the
 * container's own network): it runs the turn loop and the MCP endpoint only.
 */
import { startEgressForwarder } from './egress-forward.ts';
import { serveMcpHttp } from '../mcp/http.ts';
import { httpHiveServer } from './claude/argv.ts';
import { JsonLineClient } from '../shared/jsonl.ts';
import { AgentOps } from '../shared/wire.ts';
import { loadAgentEnv } from './env.ts';
import { History } from './history.ts';
import { TurnLoop, type Identity } from './loop.ts';
import { LazyPage, listenWithRetry, stateClock } from './page/listen.ts';
import { shellEnv, startTerminals } from './terminal.ts';

/** A running agent; `stop` ends the loop (cancelling a running turn) and the page. */
export interface AgentHandle {
  identity: Identity;
  done: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts agent mode.
 * @throws when the core's socket keeps refusing `hello` for 60 s.
 */
export async function startAgent(log: (line: string) => void = console.log): Promise<AgentHandle> {
  const env = loadAgentEnv();
  const client = new JsonLineClient(env.socket, AgentOps);
  let identity: Identity | null = null;
  for (let attempt = 1; !identity; attempt++) {
    try {
      identity = await client.call('hello', { pid: process.pid });
    } catch (err) {
      if (attempt >= 60) throw new Error(`the core did not answer on ${env.socket}: ${(err as Error).message}`);
      await Bun.sleep(1000);
    }
  }
  log(`agent ${identity.name} (${identity.role}) up; model ${identity.model}`);
  const history = new History(env.stateDir);
  const loop = new TurnLoop(env, identity, client, history, log);
  // a peer's tools use its own network; the core serves it no egress proxy, page or terminal
  const peer = identity.role === 'peer';
  // Claude's tools reach allowed hosts through HTTPS_PROXY=http://127.0.0.1:<port>, which this
  // forwards to the core's egress proxy; in a sandbox that loopback is the agent's own.
  const egress = peer
    ? null
    : await startEgressForwarder({ socketPath: env.proxySocket }).catch((err) => {
        log(`WARN egress forwarder: ${(err as Error).message}; tools get no proxy`);
        return null;
      });
  loop.proxyPort = egress?.port ?? null;
  // aborted first thing on stop: the page's open event streams end then (a page left open must
  // not hold the stop up), and serving stops retrying
  const pageAbort = new AbortController();
  // the page's code loads on its first request; its badge's clock runs from now
  const stateNow = stateClock(loop, history);
  const app = new LazyPage(async () => {
    const { createAgentPage } = await import('./page/server.tsx');
    return createAgentPage(loop, history, log, { shutdown: pageAbort.signal, stateNow });
  }, log);
  if (!peer)
    void listenWithRetry(app, { unix: env.pageSocket, log, signal: pageAbort.signal })
      .then(() => log(`page on ${env.pageSocket}`))
      .catch((err) => log(`page: ${(err as Error).message}`));
  const terminals = peer
    ? null
    : startTerminals({ socketPath: env.termSocket, cwd: env.stateDir, env: shellEnv(env, egress?.port ?? null), name: identity.name, log, signal: pageAbort.signal });
  // One MCP endpoint for the agent's life: a turn's claude connects to it instead of starting `hive
  // mcp`. Loopback is the sandbox's own, or the host's under `process` (hence the token).
  const mcp = await serveMcpHttp({ client, socket: env.socket, role: identity.role, log }).catch((err) => {
    log(`WARN mcp endpoint: ${(err as Error).message}; claude starts hive mcp each turn`);
    return null;
  });
  loop.hiveMcp = mcp ? httpHiveServer(mcp.url, mcp.token) : null;
  // Under the process runtime stdin is a pipe from the core: its end means the core is gone.
  const coreGone = env.exitWithCore
    ? new Promise<void>((resolve) => {
        process.stdin.on('end', () => {
          log('the core went away; exiting');
          resolve();
        });
        process.stdin.on('error', () => resolve());
        process.stdin.resume();
      })
    : new Promise<void>(() => {});
  const done = Promise.race([loop.run(), coreGone]);
  return {
    identity,
    done,
    async stop() {
      pageAbort.abort();
      await terminals?.close().catch((err) => log(`terminal: close failed: ${(err as Error).message}`));
      loop.stop(true);
      // the page's event streams ended with pageAbort; this also drops any other open connection
      if (!peer) await app.stop(true).catch((err) => log(`page: stop failed: ${(err as Error).message}`));
      await egress?.close().catch((err) => log(`egress forwarder: close failed: ${(err as Error).message}`));
      await Promise.race([done, Bun.sleep(6000)]);
      await mcp?.close().catch((err) => log(`mcp endpoint: close failed: ${(err as Error).message}`));
      history.close();
    },
  };
}
