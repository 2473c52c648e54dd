/**
 * @module lifecycle/ports
 * Whether an agent's page port (hashed from its name, see `shared/ports.ts`) is free before the
 * core spawns or rebuilds it, and, when it is not, who holds it, so the refusal names both owners.
 */
import net from 'node:net';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { AgentRecord } from '../../shared/wire.ts';

/** How long a rebuild waits for its agent's old instance to release the page port, ms. */
export const PORT_RELEASE_WAIT_MS = 3000;

/**
 * Why `name` cannot take page `port` now, or null when it can: another registered agent has the
 * same hashed port, or a process on this host listens on it. For a rebuild (`waitMs` > 0) the check
 * is repeated for up to `waitMs`, since the agent's own previous instance may still be letting go.
 * @param agents the registered agents (`name` itself, when registered, is skipped).
 */
export async function pagePortConflict(name: string, port: number, agents: AgentRecord[], waitMs = 0): Promise<string | null> {
  const twin = agents.find((a) => a.port === port && a.name !== name);
  if (twin) return `agent "${name}" would take page port ${port}, which agent "${twin.name}" already uses; pick another name`;
  const deadline = Date.now() + waitMs;
  while (!(await portIsFree(port))) {
    if (Date.now() >= deadline) {
      const holder = portOwner(port);
      return `agent "${name}" ${waitMs ? 'needs' : 'would take'} page port ${port}, which ${holder ? `${holder.command} (pid ${holder.pid})` : 'another process on this host'} is using; free the port${waitMs ? '' : ' or pick another name'}`;
    }
    await Bun.sleep(100);
  }
  return null;
}

/** True when nothing listens on 127.0.0.1:`port` (a bind succeeds). */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host: '127.0.0.1', port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * The process listening on TCP `port` (IPv4 or IPv6), found through /proc/net/tcp{,6} and the
 * socket inodes in /proc/<pid>/fd (proc(5)). Null when it cannot be told (no /proc, or the owner is
 * in another pid namespace or not readable).
 */
export function portOwner(port: number): { pid: number; command: string } | null {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address is ADDR:PORT in hex; state 0A is LISTEN; column 9 is the inode
      if (cols[1]?.endsWith(`:${hex}`) && cols[3] === '0A' && cols[9]) inodes.add(`socket:[${cols[9]}]`);
    }
  }
  if (inodes.size === 0) return null;
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return null;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (inodes.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) {
          const command = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
          return { pid: Number(pid), command };
        }
      } catch {}
    }
  }
  return null;
}

