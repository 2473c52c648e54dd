/**
 * A real `nats-server` with JetStream for the federation's tests: on 127.0.0.1, a port of its own,
 * its store in a directory the test owns, so that a stop and a start again (a partition, a server
 * restart) keep the stream and the consumers.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { nkeys } from '@nats-io/transport-node';
import { join } from 'node:path';
import { waitFor } from './hive.ts';

/** A running (or stopped) nats-server. */
export interface NatsServer {
  /** `nats://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** Stops it (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and store; resolves once it accepts connections. */
  start(): Promise<void>;
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
async function accepts(port: number): Promise<boolean> {
  try {
    const s = await Bun.connect({ hostname: '127.0.0.1', port, socket: { data() {} } });
    s.end();
    return true;
  } catch {
    return false;
  }
}

/** A NATS user signing in with an nkey, and the subjects it may publish and subscribe to. */
export interface NatsUser {
  /** Its public nkey (`U…`). */
  nkey: string;
  publish: string[];
  subscribe: string[];
}

/** A new user nkey pair: the seed (`SU…`, as a `--nats-creds` file holds it) and the public key. */
export function newUserKey(): { seed: string; publicKey: string } {
  const kp = nkeys.createUser();
  return { seed: new TextDecoder().decode(kp.getSeed()), publicKey: kp.getPublicKey() };
}

/**
 * The permissions of hive `hive` on a federation's server, as docs/federation.md gives them: it
 * publishes only on subjects that name it as the sender (`hive.*.<hive>`) and on its own keys of
 * the presence bucket, plus JetStream's API and acknowledgements; it receives on its inboxes.
 */
export function hiveUser(hive: string, nkey: string): NatsUser {
  return { nkey, publish: [`hive.*.${hive}`, `$KV.hive-presence.hive.${hive}`, `$KV.hive-presence.agent.${hive}.>`, '$JS.API.>', '$JS.ACK.>'], subscribe: ['_INBOX.>'] };
}

/**
 * Starts `nats-server -js` on 127.0.0.1 with its store under `dir` (its log in `dir/nats.log`);
 * with `users`, only they may sign in (nkeys), each with its permissions.
 * @throws when it does not accept connections within 10 s.
 */
export async function startNats(dir: string, users: NatsUser[] = []): Promise<NatsServer> {
  const port = 24000 + Math.floor(Math.random() * 4000);
  const store = join(dir, 'jetstream');
  mkdirSync(store, { recursive: true });
  const conf = join(dir, 'nats.conf');
  const list = (xs: string[]) => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;
  writeFileSync(
    conf,
    [
      `host: "127.0.0.1"`,
      `port: ${port}`,
      `jetstream { store_dir: ${JSON.stringify(store)} }`,
      ...(users.length
        ? [
            'authorization {',
            '  users = [',
            ...users.map((u) => `    { nkey: "${u.nkey}", permissions: { publish: { allow: ${list(u.publish)} }, subscribe: { allow: ${list(u.subscribe)} } } }`),
            '  ]',
            '}',
          ]
        : []),
    ].join('\n') + '\n',
  );
  let proc: ReturnType<typeof Bun.spawn> | null = null;
  const server: NatsServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    async start() {
      proc = Bun.spawn([Bun.which('nats-server', { PATH: `${process.env.PATH}:/usr/sbin` })!, '-c', conf, '-l', join(dir, 'nats.log')], {
        stdout: 'ignore',
        stderr: 'ignore',
      });
      await waitFor(`nats-server on port ${port}`, () => accepts(port), 10_000);
    },
    async stop() {
      if (!proc) return;
      proc.kill('SIGTERM');
      await proc.exited;
      proc = null;
    },
  };
  await server.start();
  return server;
}
