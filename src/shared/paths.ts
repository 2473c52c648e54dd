/**
 * @module paths
 * The data-dir layout, in one place. Every path is built from a validated agent name (see
 * `names.ts`), so nothing here can point outside the data dir.
 *
 * ```
 * <data>/hive.db                      broker, registry, turns (sqlite, WAL)
 * <data>/agents/<name>/state/         durable notes and the turn history (/state in a sandbox)
 * <data>/agents/<name>/claude/        claude config, credentials and session transcripts
 * <data>/agents/<name>/config/        applied config repo (git): agent.toml (see agent-config.ts)
 * <data>/proposed/<name>/config/      proposed config repo (git; the manager's /agents/<name>/config)
 * <data>/proposed/<name>/state/       files a draft stages for the new agent's /state
 * <data>/meta/                        deploy log (git): agents/<name>.json per agent
 * <data>/logs/<name>.log              the agent process's stdout/stderr
 * <data>/logs/<name>.build.log        the output of the agent's last rebuild or deploy
 * <data>/shared/                      the hive-wide directory, /shared in every sandbox (kept across purges)
 * <data>/harness/<code id>-<build>/   the harness bundled from this code (main.js and its chunks); /run/hive-harness in a sandbox
 * <data>/run/sandboxes/<name>/        generated files of a sandboxed runtime (/etc/passwd, …)
 * <data>/run/host.sock                admin socket
 * <data>/run/manager/…               the manager's socket dir (as below)
 * <data>/run/agents/<name>/           each agent's socket dir, its /run/hive inside a sandbox:
 *   mcp.sock    the core's JSON-lines socket for the agent (its identity)
 *   model.sock  the core's model gateway for the agent (Anthropic Messages API)
 *   proxy.sock  the core's egress proxy for the agent (network.allow)
 *   page.sock   the agent's own page, served by its harness; the dashboard proxies to it
 *   term.sock   the agent's terminals, served by its harness; the dashboard relays them
 * <data>/secret                       the dashboard's key for CSRF tokens (0600)
 * <data>/credentials.json             model credentials set on the dashboard's login page (0600)
 * ```
 */
import { join } from 'node:path';
import { AGENT_CONFIG_FILE } from './agent-config-shape.ts';
import { MANAGER } from './names.ts';

/** Longest unix socket path Linux accepts (sun_path is 108 bytes including the NUL). */
export const MAX_SOCKET_PATH = 107;

/** Paths of one agent. */
export interface AgentPaths {
  /** Root of the agent's kept data. */
  root: string;
  state: string;
  claude: string;
  /** The agent's config dir and its `agent.toml`. */
  config: string;
  configFile: string;
  /** Directory holding the agent's socket; mounted at /run/hive in a sandbox. */
  socketDir: string;
  socket: string;
  /** The core's model gateway for this agent (see `core/gateway/model-gateway.ts`). */
  modelSocket: string;
  /** The core's egress proxy for this agent (see `core/gateway/egress.ts`). */
  proxySocket: string;
  /** The agent's page, served by its harness (see `agent/page/server.tsx`). */
  pageSocket: string;
  /** The agent's terminals, served by its harness (see `agent/terminal.ts`). */
  termSocket: string;
  log: string;
  /** The output of the agent's last rebuild or deploy (see `core/configs/deploy.ts`). */
  buildLog: string;
}

/** File names of the sockets in every agent's socket dir, the same inside and outside a sandbox. */
export const SOCKET_NAMES = { mcp: 'mcp.sock', model: 'model.sock', proxy: 'proxy.sock', page: 'page.sock', term: 'term.sock' } as const;

/** Paths under one data dir. */
export class DataLayout {
  constructor(readonly dataDir: string) {}

  get db(): string {
    return join(this.dataDir, 'hive.db');
  }
  get runDir(): string {
    return join(this.dataDir, 'run');
  }
  get hostSocket(): string {
    return join(this.runDir, 'host.sock');
  }
  /** The dashboard's secret key (CSRF tokens); no sandbox sees it. */
  get secretFile(): string {
    return join(this.dataDir, 'secret');
  }
  /** The model credentials the operator set on the dashboard (0600; see `core/gateway/credentials.ts`); no sandbox sees it. */
  get credentialsFile(): string {
    return join(this.dataDir, 'credentials.json');
  }
  get agentsDir(): string {
    return join(this.dataDir, 'agents');
  }
  /** The manager's view of every agent's proposed config (`/agents` in its sandbox). */
  get proposedDir(): string {
    return join(this.dataDir, 'proposed');
  }
  /** The deploy log repo. */
  get metaDir(): string {
    return join(this.dataDir, 'meta');
  }
  /** Files a sandboxed runtime generates for agent `name` (its `/etc/passwd`, …); rebuilt at each start. */
  sandboxDir(name: string): string {
    return join(this.runDir, 'sandboxes', name);
  }
  get logsDir(): string {
    return join(this.dataDir, 'logs');
  }
  /** Bundles of the harness, one directory per code id, package path and Bun (see `core/agents/harness-bundle.ts`); a sandbox shows its agent's at `/run/hive-harness`. */
  get harnessDir(): string {
    return join(this.dataDir, 'harness');
  }
  /** The hive-wide directory every agent sees at `/shared` (unless its config says `shared = false`); no agent's purge removes it. */
  get sharedDir(): string {
    return join(this.dataDir, 'shared');
  }

  /** Paths of agent `name` (already validated, or `manager`). */
  agent(name: string): AgentPaths {
    const root = join(this.agentsDir, name);
    const socketDir = name === MANAGER ? join(this.runDir, MANAGER) : join(this.runDir, 'agents', name);
    return {
      root,
      state: join(root, 'state'),
      claude: join(root, 'claude'),
      config: join(root, 'config'),
      configFile: join(root, 'config', AGENT_CONFIG_FILE),
      socketDir,
      socket: join(socketDir, SOCKET_NAMES.mcp),
      modelSocket: join(socketDir, SOCKET_NAMES.model),
      proxySocket: join(socketDir, SOCKET_NAMES.proxy),
      pageSocket: join(socketDir, SOCKET_NAMES.page),
      termSocket: join(socketDir, SOCKET_NAMES.term),
      log: join(this.logsDir, `${name}.log`),
      buildLog: join(this.logsDir, `${name}.build.log`),
    };
  }
}

/**
 * The data dir when none is given: `/var/lib/hyperhive` for root, else
 * `$XDG_STATE_HOME/hyperhive` (default `~/.local/state/hyperhive`), per the XDG base-directory spec.
 */
export function defaultDataDir(env: Record<string, string | undefined> = process.env, uid = process.getuid?.() ?? 0): string {
  if (uid === 0) return '/var/lib/hyperhive';
  const state = env.XDG_STATE_HOME || join(env.HOME || '/tmp', '.local', 'state');
  return join(state, 'hyperhive');
}

/** The data dir from a `--data-dir` flag, then `HIVE_DATA_DIR`, then {@link defaultDataDir}. */
export function resolveDataDir(flag: string | undefined, env: Record<string, string | undefined> = process.env): string {
  return flag || env.HIVE_DATA_DIR || defaultDataDir(env);
}
