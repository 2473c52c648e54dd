/**
 * @module peer-setup
 * How to connect a peer, as `hive ctl peer add` prints it and the dashboard shows it: bind the
 * peer's socket dir into its container at `/run/hive` (bwrap, systemd-nspawn, nixos-container,
 * docker, podman), then run `hive mcp` there for an MCP client or `hive agent serve` for the turn
 * loop. One text for both, so they cannot drift.
 */
import { PACKAGE_ROOT, selfCommand } from './version.ts';
import type { PeerRecord } from './wire.ts';

/** Where a peer's socket dir is bound inside its container: the same place as in an agent's sandbox. */
export const PEER_MOUNT = '/run/hive';

/** How the hive runs on this host: the command, and the paths a container needs bound to run it. */
export interface HiveInstall {
  /** e.g. `['/usr/local/bin/bun', '/opt/hyperhive/src/main.ts']`. */
  command: readonly string[];
  /** The bun binary and the hive package (with its pinned claude), bound read-only at the same paths. */
  binds: readonly string[];
}

/** The hive of this process: its bun and its package. */
export function thisHive(): HiveInstall {
  return { command: selfCommand(), binds: [process.execPath, PACKAGE_ROOT] };
}

/**
 * The setup text for `peer`: where its sockets are, how to bind them into a container, and what
 * to run there. Plain text, lines under 140 characters but for the paths.
 * @example peerSetup(peer, thisHive())
 */
export function peerSetup(peer: PeerRecord, hive: HiveInstall = thisHive()): string {
  const dir = peer.socket_dir;
  const sock = `${PEER_MOUNT}/mcp.sock`;
  const cmd = hive.command.join(' ');
  const ro = (flag: (p: string) => string) => hive.binds.map(flag).join(' ');
  const sockets = peer.model_access ? 'mcp.sock (its identity) and model.sock (the model gateway)' : 'mcp.sock (its identity); no model gateway';
  const loop = peer.model_access
    ? `   or the hive's turn loop (one claude turn per message, its model through model.sock):\n     HIVE_SOCKET=${sock} HIVE_STATE_DIR=<a writable dir> ${cmd} agent serve\n`
    : `   (the hive's turn loop, hive agent serve, needs model.sock: add the peer with model access for it)\n`;
  const policy = peer.allowed_recipients
    ? `it may send to ${[...peer.allowed_recipients, 'the manager'].join(', ')}\n`
    : 'it may send to anyone\n';
  return `peer ${peer.name}: socket dir ${dir}
  holds ${sockets}
  the sockets are owner-only: the peer connects as uid ${peer.owner_uid}
${policy}
1. bind the socket dir into the container at ${PEER_MOUNT}, read-write, and the hive read-only:
   bwrap:           bwrap … --bind ${dir} ${PEER_MOUNT} ${ro((p) => `--ro-bind ${p} ${p}`)} …
   systemd-nspawn:  systemd-nspawn … --bind=${dir}:${PEER_MOUNT} ${ro((p) => `--bind-ro=${p}`)} …
   nixos-container: containers.${peer.name}.bindMounts."${PEER_MOUNT}" = { hostPath = "${dir}"; isReadOnly = false; };
   docker:          docker run … -v ${dir}:${PEER_MOUNT} ${ro((p) => `-v ${p}:${p}:ro`)} …
   podman:          podman run … -v ${dir}:${PEER_MOUNT} ${ro((p) => `-v ${p}:${p}:ro`)} …
   a process on this host needs no bind: its socket is ${dir}/mcp.sock
   removing and adding the peer again makes a new dir: bind it again then

2. run inside:
   an MCP client such as your own Claude Code, with the hive's tools (send, recv, ask, remind, …):
     claude mcp add hyperhive -e HIVE_SOCKET=${sock} -- ${cmd} mcp
${loop}`;
}
