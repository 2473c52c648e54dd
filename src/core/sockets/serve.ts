/**
 * @module core/sockets/serve
 * The core's unix sockets: the admin socket, and per agent its socket dir's three listeners — the
 * JSON-lines socket (`mcp.sock`, the agent's identity), the model gateway (`model.sock`) and the
 * egress proxy (`proxy.sock`) — opened and closed together.
 */
import type { JsonLineServer } from '../../shared/jsonl.ts';
import { serveJsonLines, type OpHandlers } from '../../shared/jsonl.ts';
import type { DataLayout } from '../../shared/paths.ts';
import { AgentOps, HostOps } from '../../shared/wire.ts';
import type { AgentEndpoints } from '../agents/lifecycle.ts';
import type { EgressProxy } from '../gateway/egress.ts';
import type { ModelGateway } from '../gateway/model-gateway.ts';

/** What {@link HiveSockets} serves. */
export interface HiveSocketsDeps {
  layout: DataLayout;
  gateway: ModelGateway;
  egress: EgressProxy;
  /** The handlers of agent `name`'s socket. */
  agentOps: (name: string) => OpHandlers<typeof AgentOps>;
  hostOps: () => OpHandlers<typeof HostOps>;
  log: (line: string) => void;
}

/** The admin socket and every agent's sockets. */
export class HiveSockets implements AgentEndpoints {
  private agents = new Map<string, JsonLineServer>();
  private host: JsonLineServer | null = null;

  constructor(private readonly deps: HiveSocketsDeps) {}

  /** Opens the admin socket. @throws when its path is taken by something that is not a socket. */
  async openHost(): Promise<void> {
    this.host = await serveJsonLines({
      path: this.deps.layout.hostSocket,
      table: HostOps,
      handlers: this.deps.hostOps(),
      onError: (e) => this.deps.log(`host socket: ${(e as Error).stack ?? e}`),
    });
  }

  /**
   * Opens agent `name`'s socket and, unless `only` leaves them out, its model gateway and egress
   * proxy (no-op when open). A peer gets no egress proxy (it has its own network) and, without
   * model access, no gateway.
   */
  async open(name: string, only: { model: boolean; proxy: boolean } = { model: true, proxy: true }): Promise<void> {
    if (this.agents.has(name)) return;
    const { layout, gateway, egress, log } = this.deps;
    const paths = layout.agent(name);
    const server = await serveJsonLines({
      path: paths.socket,
      table: AgentOps,
      handlers: this.deps.agentOps(name),
      onError: (e) => log(`socket of ${name}: ${(e as Error).stack ?? e}`),
    });
    this.agents.set(name, server);
    if (only.model) await gateway.listen(name, paths.modelSocket);
    if (only.proxy) await egress.listen(name, paths.proxySocket);
  }

  /** Closes agent `name`'s sockets. */
  async close(name: string): Promise<void> {
    await Promise.all([this.agents.get(name)?.close(), this.deps.gateway.close(name), this.deps.egress.close(name)]);
    this.agents.delete(name);
  }

  /** Closes every socket, the admin socket last. */
  async closeAll(): Promise<void> {
    await Promise.all([this.deps.gateway.closeAll(), this.deps.egress.closeAll()]);
    await Promise.all([...this.agents.values()].map((s) => s.close()));
    this.agents.clear();
    await this.host?.close();
    this.host = null;
  }
}
