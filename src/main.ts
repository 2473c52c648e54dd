#!/usr/bin/env bun
/**
 * @module main
 * The `hive` executable: one binary for the core daemon, agent mode inside sandboxes, the stdio MCP
 * server claude spawns, and the operator's CLI. This is the only module that handles signals and
 * calls `process.exit`.
 */
import { parseArgs } from 'node:util';
import { toErrorInfo } from './shared/errors.ts';
import { VERSION } from './shared/version.ts';

const HELP = `hive ${VERSION} — a swarm of Claude Code agents on one host

usage: hive <command> [options]

commands:
  core serve      run the core daemon: broker, agents, sockets, dashboard
  agent serve     run agent mode (the turn loop and the agent's page); started by the core in each sandbox
  mcp             the stdio MCP server claude spawns inside a sandbox; forwards tools to the agent's socket
  ctl             the operator's CLI over the admin socket (hive ctl --help)
  doctor          which sandbox runtimes work on this host, and which --runtime auto picks
  version         print the version

Run \`hive <command> --help\` for a command's options.
`;

const CORE_HELP = `hive core serve — run the hive core daemon

It keeps the broker (sqlite), supervises agents through a runtime, serves the sockets agents and
\`hive ctl\` talk to, and the dashboard. The manager agent is created on first start.

options (flag, env, default):
  --data-dir DIR     HIVE_DATA_DIR       /var/lib/hyperhive as root, else $XDG_STATE_HOME/hyperhive
  --listen H:P       HIVE_LISTEN         127.0.0.1:7000 (dashboard)
  --runtime NAME     HIVE_RUNTIME        auto: nixos-container or nspawn (as root), else bwrap,
                                         else process (nixos-container | nspawn | bwrap | process;
                                         \`hive doctor\` says what works)
  --model MODEL      HIVE_DEFAULT_MODEL  haiku
  --claude PATH      HIVE_CLAUDE_BIN     the pinned claude from node_modules, else claude on PATH
  --no-manager       HIVE_NO_MANAGER=1   do not create or run the manager
  --tag-retention-days N  HIVE_TAG_RETENTION_DAYS  30 (failed/ and denied/ tags older than
                                         this are dropped from the config repos, daily)
  --token-file FILE  HIVE_OPERATOR_TOKEN none: the dashboard asks for this token (open it once as
                                         /?token=…, or send Authorization: Bearer …); required
                                         when --listen is not a loopback address
  --allowed-hosts H,…  HIVE_ALLOWED_HOSTS  none: more Host names the dashboard answers to
                                         (loopback names and the listen address always)
  --egress-allow-internal H:P,…  HIVE_EGRESS_ALLOW_INTERNAL  none: destinations agents' egress
                                         may reach although loopback, private or this host's
  --notify-url URL   HIVE_NOTIFY_URL     none: POST an ntfy-style notification there when the
                                         operator is needed (question, approval, alert, message)
  --notify-token-file FILE               none: bearer token for --notify-url (first line)
  --stuck-turn-minutes M  HIVE_STUCK_TURN_MINUTES  30: a turn this long raises an agent_stuck alert
  --stuck-inbox-minutes M  HIVE_STUCK_INBOX_MINUTES  5: messages waiting this long for an idle
                                         agent raise an agent_stuck alert
  --stats-raw-days N  HIVE_STATS_RAW_DAYS  7: days raw telemetry is kept (then hourly, 400 days)
  --allow-mount DIR  HIVE_ALLOW_MOUNTS   none: host directories agents' \`mounts\` may bind paths from
                                         (repeat the flag, or list them comma-separated)
  --images-dir DIR   HIVE_IMAGES_DIR     <data>/images: where agents' root filesystems are built
                                         (with mmdebstrap; \`hive ctl images\` lists them)
  --host-root        HIVE_HOST_ROOT=1    sandboxes show this host's /usr instead of an image built
                                         for the agent, and agents' \`packages\` are not installed
  --hive NAME        HIVE_NAME           this host's name: agents of other hives reach this one's
                                         as name@NAME
  --nats URL,…       HIVE_NATS           none: join the federation on these NATS servers (JetStream)
  --nats-creds FILE  HIVE_NATS_CREDS     none: the NATS credentials file this hive signs in with
  --nats-replicas N  HIVE_NATS_REPLICAS  1: replicas of the federation's stream when this hive
                                         creates it
  --hive-unreachable-minutes M  HIVE_UNREACHABLE_MINUTES  5: another hive unheard this long (or
                                         this one cut off from NATS) raises hive_unreachable
  --standby-seconds N  HIVE_STANDBY_SECONDS  30: after a turn, an agent keeps its next turn's
                                         claude started for this long (0: never)

Agents never see credentials. Their claude reaches the model through the core's model gateway
(a unix socket in each agent's socket dir), which forwards to ANTHROPIC_BASE_URL (default
https://api.anthropic.com) with the core's ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN or
CLAUDE_CODE_OAUTH_TOKEN. Their tools reach only the hosts in their network.allow, through the
core's egress proxy. See docs/security.md.
`;

const AGENT_HELP = `hive agent serve — run agent mode (normally started by the core, not by hand)

Long-polls the agent's inbox over its socket; runs one claude turn per message; keeps history in
the state dir; serves the agent's page on page.sock beside its socket (the dashboard shows it at
/agents/<name>/page/); forwards a loopback port to the core's egress proxy for claude's tools.

environment:
  HIVE_SOCKET        the agent's socket (default /run/hive/mcp.sock)
  HIVE_STATE_DIR     durable state (default /state)
  CLAUDE_CONFIG_DIR  claude's config and credentials (default ~/.claude)
  HIVE_CLAUDE_BIN    the claude binary
`;

const MCP_HELP = `hive mcp — the hive's stdio MCP server (claude starts it; not for interactive use)

Serves the hive's tools (send, recv, ask, answer, questions, remind, reminders, cancel_reminder;
with HIVE_ROLE=manager also agents, request_spawn, kill, start, restart, ask_operator) on
stdin/stdout and forwards each call to the agent's socket. The core decides what the socket may do.

environment:
  HIVE_SOCKET        the agent's socket (default /run/hive/mcp.sock)
  HIVE_ROLE          agent | manager: which tools to offer (default agent)
`;

const DOCTOR_HELP = `hive doctor — report which sandbox runtimes work here

Tries each runtime (a test sandbox runs /usr/bin/true; for nixos-container, root and
\`nixos-container list\`) and prints why each is or is not usable, and which one
\`hive core serve --runtime auto\` would pick. For nspawn it also tries a container in
a private user namespace with an id-mapped bind, which keeps container root from being host root.
It then says whether agents' root filesystems (images, built with mmdebstrap for nspawn and bwrap)
can be built here, and from which distribution.
`;

function fail(message: string, code = 2): never {
  process.stderr.write(`hive: ${message}\n`);
  process.exit(code);
}

function wantsHelp(args: string[]): boolean {
  return args.includes('--help') || args.includes('-h');
}

/** Runs `fn` until SIGINT/SIGTERM, then calls the returned stop function and exits. */
async function serveUntilSignal(start: () => Promise<{ stop(): Promise<void>; done?: Promise<void> }>): Promise<void> {
  const handle = await start();
  let stopping = false;
  const shutdown = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`hive: ${sig}, shutting down\n`);
    await handle.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  if (handle.done) {
    await handle.done;
    if (!stopping) {
      await handle.stop();
      process.exit(0);
    }
  }
}

async function main(argv: string[]): Promise<void> {
  const [cmd, sub, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(HELP);
    return;
  }
  if (cmd === 'version' || cmd === '--version') {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  if (cmd === 'doctor') {
    if (sub !== undefined && wantsHelp([sub, ...rest])) return void process.stdout.write(DOCTOR_HELP);
    const { probeRuntimes } = await import('./core/runtime/detect.ts');
    const probes = probeRuntimes();
    const auto = probes.find((p) => p.available && p.name !== 'process')?.name ?? 'process';
    const lines: string[] = [];
    for (const p of probes) {
      lines.push(`${p.available ? 'ok  ' : 'no  '} ${p.name.padEnd(16)} ${p.reason}`);
      if (p.available)
        lines.push(
          `${''.padEnd(22)}${p.name === 'process' ? 'network: shared with the host; agents can reach the dashboard and act as the operator' : 'network: isolated (a private namespace with loopback only; the model and allowed hosts through the core)'}`,
        );
      if (p.name === 'nixos-container' && p.available)
        lines.push(`${''.padEnd(22)}containers h-<name>, built with nix from each agent's generated configuration when it starts; a private user range with id-mapped binds (kernel 5.12 or later); see docs/nixos.md`);
      if (p.name !== 'nspawn' || !p.available || !p.bin) continue;
      const { probeUserNamespaces } = await import('./core/runtime/nspawn.ts');
      const { tmpdir } = await import('node:os');
      const why = probeUserNamespaces(p.bin, tmpdir());
      lines.push(
        `${''.padEnd(22)}${why ? `no user namespace: container root would be host root (${why})` : `user namespaces with id-mapped binds work (tried on ${tmpdir()}; the core tries its data dir at start): container root is not host root`}`,
      );
    }
    const { Images } = await import('./core/images/images.ts');
    const images = new Images({ dir: '/nonexistent', log: () => {} });
    const from = images.from;
    const imageLine = from
      ? `ok   images: built with mmdebstrap from ${from.distribution} ${from.suite} ${from.architecture} (the first build needs the package mirror; see docs/images.md)`
      : `no   images: ${images.problem}; nspawn and bwrap agents cannot start unless the core runs with --host-root (this host's /usr, no packages)`;
    process.stdout.write(`runtimes (in --runtime auto order):\n${lines.join('\n')}\n\n--runtime auto picks: ${auto}${auto === 'process' ? ' (unsandboxed!)' : ''}\n\n${imageLine}\n`);
    return;
  }
  if (cmd === 'core') {
    if (sub !== 'serve') {
      if (sub === undefined || wantsHelp([sub])) return void process.stdout.write(CORE_HELP);
      fail(`unknown command "core ${sub}"; try: hive core serve --help`);
    }
    if (wantsHelp(rest)) return void process.stdout.write(CORE_HELP);
    const { values } = parseArgs({
      args: rest,
      options: {
        'data-dir': { type: 'string' },
        listen: { type: 'string' },
        runtime: { type: 'string' },
        model: { type: 'string' },
        claude: { type: 'string' },
        'allowed-hosts': { type: 'string' },
        'egress-allow-internal': { type: 'string' },
        'no-manager': { type: 'boolean' },
        'tag-retention-days': { type: 'string' },
        'token-file': { type: 'string' },
        'notify-url': { type: 'string' },
        'notify-token-file': { type: 'string' },
        'stuck-turn-minutes': { type: 'string' },
        'stuck-inbox-minutes': { type: 'string' },
        'stats-raw-days': { type: 'string' },
        'allow-mount': { type: 'string', multiple: true },
        'images-dir': { type: 'string' },
        'host-root': { type: 'boolean' },
        hive: { type: 'string' },
        nats: { type: 'string' },
        'nats-creds': { type: 'string' },
        'nats-replicas': { type: 'string' },
        'hive-unreachable-minutes': { type: 'string' },
        'standby-seconds': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    });
    const { loadCoreConfig } = await import('./core/settings.ts');
    const { startCore } = await import('./core/serve.ts');
    const config = loadCoreConfig(values);
    return serveUntilSignal(() => startCore(config));
  }
  if (cmd === 'agent') {
    if (sub !== 'serve' || wantsHelp(rest)) {
      if (sub === undefined || wantsHelp([sub]) || wantsHelp(rest)) return void process.stdout.write(AGENT_HELP);
      fail(`unknown command "agent ${sub}"; try: hive agent serve --help`);
    }
    const { startAgent } = await import('./agent/serve.ts');
    return serveUntilSignal(() => startAgent());
  }
  if (cmd === 'mcp') {
    if (sub !== undefined && wantsHelp([sub, ...rest])) return void process.stdout.write(MCP_HELP);
    const { runMcpStdio } = await import('./mcp/server.ts');
    await runMcpStdio(process.env.HIVE_SOCKET || '/run/hive/mcp.sock', process.env.HIVE_ROLE || 'agent');
    return;
  }
  if (cmd === 'ctl') {
    const { ctlMain } = await import('./ctl/ctl.ts');
    process.exit(await ctlMain(argv.slice(1)));
  }
  fail(`unknown command "${cmd}"; run hive --help`);
}

main(process.argv.slice(2)).catch((err) => {
  const { code, message } = toErrorInfo(err);
  const isArgError = (err as { code?: string }).code?.startsWith?.('ERR_PARSE_ARGS');
  fail(isArgError ? `${(err as Error).message}; see --help` : `${code}: ${message}`, isArgError ? 2 : 1);
});
