/**
 * @module core/serve
 * `hive core serve`: opens the hive and its dashboard. The entry point owns signals and calls
 * `stop` on SIGINT/SIGTERM.
 */
import type { CoreConfig } from './settings.ts';
import { createDashboard } from './dashboard/dashboard.tsx';
import { Hive } from './hive.ts';

/** A running core. */
export interface CoreHandle {
  hive: Hive;
  /** The dashboard's base URL. */
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts the core and its dashboard.
 * @throws HiveError `conflict` when another core serves the data dir; the listen error when the
 *   dashboard address is taken (the hive is closed again first).
 */
export async function startCore(config: CoreConfig, log: (line: string) => void = console.log): Promise<CoreHandle> {
  const hive = await Hive.open(config, log);
  const app = createDashboard(hive);
  try {
    app.listen({ hostname: config.listen.host, port: config.listen.port });
  } catch (err) {
    await hive.close();
    throw new Error(`dashboard cannot listen on ${config.listen.host}:${config.listen.port}: ${(err as Error).message}`);
  }
  const port = app.server?.port ?? config.listen.port;
  const url = `http://${config.listen.host}:${port}`;
  log(`hive core ${hive.status().version} serving ${config.dataDir}; dashboard ${url}; runtime ${hive.runtime.name}`);
  if (!hive.runtime.sandboxed) log('WARN runtime "process" runs agents unsandboxed, with your user\'s full access');
  return {
    hive,
    url,
    async stop() {
      await app.stop(true).catch((err) => log(`dashboard: stop failed: ${(err as Error).message}`));
      await hive.close();
    },
  };
}
