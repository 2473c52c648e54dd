/**
 * Test hosts in network namespaces this test run makes itself: `n` namespaces, each with one veth
 * into a bridge that lives in a namespace of its own, on a /24 no one else uses. Traffic stays
 * between these namespaces; nothing is routed anywhere else. A host is cut off by taking its veth's
 * bridge end down, and healed by bringing it up again (iproute2's `ip`, as root).
 */
import { HiveError } from '../../src/shared/errors.ts';

/** One test host: its namespace and its address on the test network. */
export interface NetHost {
  ns: string;
  ip: string;
}

/** The test network. */
export interface TestNetwork {
  hosts: NetHost[];
  /** `argv` run inside host `i`'s namespace (`ip netns exec`). */
  inside(i: number, argv: string[]): string[];
  /** Cuts host `i` off the network (its bridge port down). */
  cut(i: number): void;
  /** Reconnects host `i`. */
  heal(i: number): void;
  /** Removes every namespace (and so every interface) it made. */
  destroy(): void;
}

/** Runs `ip` with `args`. @throws HiveError `internal` with ip's message when it fails. */
function ip(...args: string[]): void {
  const r = Bun.spawnSync(['ip', ...args], { stdout: 'ignore', stderr: 'pipe' });
  if (r.exitCode !== 0) throw new HiveError('internal', `ip ${args.join(' ')}: ${r.stderr.toString().trim()}`);
}

/**
 * Makes `n` hosts (at most 9) on 10.231.<net>.0/24, `.11` to `.1n`, named after `tag` (a few letters
 * and digits, so that interface names stay within 15 characters).
 * @throws HiveError `internal` when a namespace or link cannot be made (everything made is removed).
 */
export function makeNetwork(tag: string, n: number): TestNetwork {
  const net = 1 + (process.pid % 250);
  const br = `${tag}-br`;
  const made: string[] = [];
  const hosts: NetHost[] = [];
  const destroy = () => {
    for (const ns of made.reverse()) Bun.spawnSync(['ip', 'netns', 'del', ns], { stdout: 'ignore', stderr: 'ignore' });
  };
  try {
    ip('netns', 'add', br);
    made.push(br);
    ip('-n', br, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', br, 'link', 'set', 'br0', 'up');
    for (let i = 1; i <= n; i++) {
      const ns = `${tag}-n${i}`;
      ip('netns', 'add', ns);
      made.push(ns);
      const [inner, outer] = [`${tag}h${i}`, `${tag}b${i}`];
      ip('link', 'add', inner, 'type', 'veth', 'peer', 'name', outer);
      ip('link', 'set', inner, 'netns', ns);
      ip('link', 'set', outer, 'netns', br);
      ip('-n', br, 'link', 'set', outer, 'master', 'br0');
      ip('-n', br, 'link', 'set', outer, 'up');
      const addr = `10.231.${net}.1${i}`;
      ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', inner);
      ip('-n', ns, 'link', 'set', inner, 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      hosts.push({ ns, ip: addr });
    }
  } catch (err) {
    destroy();
    throw err;
  }
  return {
    hosts,
    inside: (i, argv) => ['ip', 'netns', 'exec', hosts[i]!.ns, ...argv],
    cut: (i) => ip('-n', br, 'link', 'set', `${tag}b${i + 1}`, 'down'),
    heal: (i) => ip('-n', br, 'link', 'set', `${tag}b${i + 1}`, 'up'),
    destroy,
  };
}
