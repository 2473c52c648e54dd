/**
 * @module egress-forward
 * Inside a sandbox the agent has no network but `lo`, and the core's egress proxy for it is a unix
 * socket (`/run/hive/proxy.sock`, see `shared/paths.ts`). curl, git and claude's tools take a proxy
 * as an `http://host:port` URL only, so the harness runs this small TCP listener on 127.0.0.1 and
 * sets `HTTPS_PROXY=http://127.0.0.1:<port>` (and `HTTP_PROXY`) for them. Each TCP connection is
 * copied byte for byte to a new connection on the unix socket; the proxy behind it does all the
 * HTTP. The socket, not anything said over it, tells the core which agent is asking.
 */
import { createConnection, createServer, type Socket } from 'node:net';

/** A running forwarder. */
export interface EgressForwarder {
  /** The TCP port it listens on (the one asked for, or the one the system picked for port 0). */
  port: number;
  /** Stops listening and closes every open connection on both sides. Resolves once closed. */
  close(): Promise<void>;
}

/**
 * Starts the TCP → unix-socket forwarder.
 *
 * Both legs are half-open capable: when one side finishes sending, the other side's write half is
 * ended and the reverse direction keeps flowing, so a client that sends its request and shuts down
 * its write half still gets the whole answer. An error or reset on either leg destroys both. The
 * unix socket is dialled once per TCP connection; if it cannot be reached, that TCP connection is
 * closed (the listener stays up, so a restarted proxy is picked up by the next connection).
 *
 * @param opts.socketPath the core's egress proxy socket for this agent.
 * @param opts.host address to listen on; default `127.0.0.1`. Nothing but loopback makes sense in a
 *   sandbox with only `lo`; outside one, a non-loopback address would lend the agent's identity to
 *   anyone who can reach it.
 * @param opts.port TCP port; default 0 (the system picks one; read it from the result).
 * @throws the listen error (e.g. `EADDRINUSE`) when the TCP listener cannot be opened.
 */
export async function startEgressForwarder(opts: {
  socketPath: string;
  host?: string;
  port?: number;
}): Promise<EgressForwarder> {
  const open = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = createConnection({ path: opts.socketPath, allowHalfOpen: true });
    open.add(client);
    open.add(upstream);
    let done = false;
    const teardown = (): void => {
      if (done) return;
      done = true;
      client.destroy();
      upstream.destroy();
    };
    client.on('error', teardown);
    upstream.on('error', teardown);
    client.on('close', () => {
      open.delete(client);
      // The client is gone both ways: nothing more can be delivered to it.
      teardown();
    });
    upstream.on('close', () => {
      open.delete(upstream);
      // Let what the proxy already sent reach the client, then finish.
      if (!done) client.end();
    });
    // pipe() ends the destination's write half when the source ends: FIN is forwarded both ways.
    client.pipe(upstream);
    upstream.pipe(client);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Later accept errors (EMFILE and the like) must not crash the harness.
  server.on('error', () => {});
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('egress forwarder: listener has no TCP address');

  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        open.clear();
        server.close(() => resolve());
      }),
  };
}
