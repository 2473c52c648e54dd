/**
 * @module agent/serve
 * `hive agent serve`: agent mode, run inside each sandbox. Announces itself to the core, opens its
 * history, binds its page (retrying forever) and runs the turn loop until stopped.
 */
import { JsonLineClient } from '../shared/jsonl.ts';
import { AgentOps } from '../shared/wire.ts';
import { loadAgentEnv } from './config.ts';
import { History } from './history.ts';
import { TurnLoop, type Identity } from './loop.ts';
import { createAgentPage, listenWithRetry } from './page.tsx';

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
  log(`agent ${identity.name} (${identity.role}) up; model ${identity.model}; page port ${identity.port}`);
  const history = new History(env.stateDir);
  const loop = new TurnLoop(env, identity, client, history, log);
  const app = createAgentPage(loop, history, log);
  const pageAbort = new AbortController();
  void listenWithRetry(app, { hostname: env.pageHost, port: identity.port, log, signal: pageAbort.signal })
    .then(() => log(`page on http://${env.pageHost}:${identity.port}/`))
    .catch((err) => log(`page: ${(err as Error).message}`));
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
      loop.stop(true);
      await app.stop?.().catch(() => {});
      await Promise.race([done, Bun.sleep(6000)]);
      history.close();
    },
  };
}
