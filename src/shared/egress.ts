/**
 * @module egress
 * The checks shared by everyone who reads an egress setting: an agent's `network.allow` entries
 * (validated when its config is read) and the operator's `--egress-allow-internal HOST:PORT`
 * destinations (parsed when the core starts). The proxy that enforces them is
 * `core/gateway/egress.ts`.
 *
 * Entry grammar and matching come from `@anthropic-ai/sandbox-runtime` 0.0.83 (Claude Code's own
 * sandbox), module `dist/sandbox/domain-pattern.js`: `isValidAllowedDomainEntry` is the final word
 * on what an entry may be. Host spelling is normalised with `canonicalizeHost` from
 * `dist/sandbox/parent-proxy.js` (the WHATWG URL host parser: case, trailing dot, `127.1` →
 * `127.0.0.1`, IPv6 compression). The checks below run first only so that a refusal can say what
 * exactly is wrong.
 */
import { isIP } from 'node:net';
import { isValidAllowedDomainEntry } from '@anthropic-ai/sandbox-runtime/dist/sandbox/domain-pattern.js';
import { canonicalizeHost } from '@anthropic-ai/sandbox-runtime/dist/sandbox/parent-proxy.js';

/** Longest accepted allow-list entry: a 253-byte DNS name plus `:65535`. */
export const MAX_ALLOW_ENTRY_LENGTH = 259;

/** Letters, digits, `-`, `_` and `.`: what a DNS name may be spelled with in an entry. */
const HOST_CHARS = /^[A-Za-z0-9._-]+$/;

/**
 * Whether `entry` is a valid `network.allow` entry, and if not, why.
 *
 * Accepted: a domain (`api.github.com`, matches that host only), a wildcard (`*.example.org`,
 * matches every name under example.org but not example.org itself), `localhost`, an IPv4 literal
 * (`203.0.113.7`), a bracketed IPv6 literal (`[2001:db8::1]`), each with an optional `:port`
 * (1–65535) that restricts the entry to that port. Refused: `*`, wildcards with fewer than two
 * labels after `*.` (`*.com`), a wildcard anywhere but the front, schemes (`http://x`), paths,
 * spaces, single-label names other than `localhost`, unbracketed IPv6, ports out of range, and IP
 * addresses in shorthand spellings (`127.1`, `0x7f.0.0.1`), which would never match.
 *
 * An entry naming a loopback, private or link-local address is valid but grants nothing by itself:
 * the proxy dials such addresses only for destinations the operator lists with
 * `--egress-allow-internal`.
 *
 * @returns null when valid, else a short sentence naming the problem (no trailing period).
 * @example allowEntryProblem('*.example.org') // null
 * @example allowEntryProblem('*.com') // '"*.com" is too broad: a wildcard needs …'
 */
export function allowEntryProblem(entry: string): string | null {
  const q = JSON.stringify(entry);
  if (entry.length === 0) return 'an empty entry allows nothing; remove it';
  if (entry.length > MAX_ALLOW_ENTRY_LENGTH) return `${q.slice(0, 40)}…" is longer than ${MAX_ALLOW_ENTRY_LENGTH} characters`;
  if (/[\s\x00-\x1f\x7f]/.test(entry)) return `${q} contains a space or control character`;
  if (entry.includes('://')) return `${q} has a scheme; write the host alone, e.g. "${hostOfUrl(entry)}"`;
  if (entry.includes('/')) return `${q} has a path; write the host alone (an entry allows every path on its host)`;
  if (entry.includes('@')) return `${q} has user info; write the host alone`;
  if (entry === '*') return '"*" would allow every host; list the hosts the agent needs instead';

  const first = entry.indexOf(':');
  if (first !== -1 && entry.indexOf(':', first + 1) !== -1 && !entry.startsWith('['))
    return `${q} looks like an IPv6 address; write it in brackets, e.g. "[2001:db8::1]" or "[2001:db8::1]:443"`;

  // The port, if any: whatever follows the last ':' outside the brackets.
  const close = entry.startsWith('[') ? entry.indexOf(']') : -1;
  if (entry.startsWith('[') && close === -1) return `${q} has an unclosed "["`;
  const portSep = entry.indexOf(':', close + 1);
  if (portSep !== -1) {
    const port = entry.slice(portSep + 1);
    if (!/^[1-9][0-9]{0,4}$/.test(port) || Number(port) > 65535)
      return `${q} has port "${port}"; a port is a number from 1 to 65535`;
  } else if (close !== -1 && close !== entry.length - 1) {
    return `${q} has text after "]"; only ":port" may follow a bracketed address`;
  }
  const host = entry.slice(0, portSep === -1 ? entry.length : portSep);

  if (host.startsWith('[')) {
    if (isIP(host.slice(1, -1)) !== 6) return `${q} has no IPv6 address inside its brackets`;
  } else {
    if (host.includes('*')) {
      if (!host.startsWith('*.') || host.indexOf('*', 1) !== -1)
        return `${q} has a "*" in the wrong place; a wildcard may only be a leading "*." (e.g. "*.example.org")`;
      const base = host.slice(2);
      if (base.split('.').filter((l) => l.length > 0).length < 2)
        return `${q} is too broad: a wildcard needs at least two labels after "*." (e.g. "*.example.org")`;
    }
    const name = host.startsWith('*.') ? host.slice(2) : host;
    if (!HOST_CHARS.test(name)) return `${q} has characters a host name cannot have (letters, digits, "-", "_" and "." only)`;
    if (name.startsWith('.') || name.includes('..')) return `${q} has an empty label`;
    if (name.endsWith('.')) return `${q} ends with "."; drop the trailing dot`;
    if (!name.includes('.') && name.toLowerCase() !== 'localhost')
      return `${q} is a single-label name; write the full domain (e.g. "intranet.example.org")`;
    // A numeric host that the URL parser reads as an IPv4 address must be spelled as one, or it
    // would never equal the canonical spelling of a destination.
    const canonical = canonicalizeHost(name);
    if (canonical !== undefined && isIP(canonical) === 4 && canonical !== name)
      return `${q} is an IPv4 address in shorthand; write it as "${canonical}"`;
  }

  if (!isValidAllowedDomainEntry(entry))
    return `${q} is not a domain, "*.domain", IPv4 address or bracketed IPv6 address (each with an optional ":port")`;
  return null;
}

/** The host part of `http://host:port/path`, for a hint; the input itself when it does not parse. */
function hostOfUrl(text: string): string {
  try {
    return new URL(text).host || text;
  } catch {
    return text;
  }
}

/** A destination the operator permits although it is loopback, private or this host's own. */
export interface InternalDestination {
  /** Canonical host: lowercase name without trailing dot, dotted IPv4, or IPv6 without brackets. */
  host: string;
  port: number;
}

/**
 * Parses one `--egress-allow-internal` value: `HOST:PORT`, where HOST is a domain name
 * (`localhost`, `db.internal`), an IPv4 address or a bracketed IPv6 address (`[::1]:8080`). The
 * host is returned canonical (see {@link InternalDestination}), so it compares equal to the
 * proxy's spelling of a destination.
 *
 * @throws Error naming the value and the expected shape when the text is not `HOST:PORT`, the port
 *   is not 1–65535, or the host is not a valid name or address. Wildcards are refused: an internal
 *   destination is always one exact host and port.
 * @example parseInternalDestination('127.0.0.1:5432') // { host: '127.0.0.1', port: 5432 }
 * @example parseInternalDestination('[::1]:8080') // { host: '::1', port: 8080 }
 */
export function parseInternalDestination(text: string): InternalDestination {
  const fail = (why: string): never => {
    throw new Error(
      `--egress-allow-internal ${JSON.stringify(text)}: ${why}; expected HOST:PORT, e.g. 127.0.0.1:5432, localhost:8080 or [::1]:8080`,
    );
  };
  const m = /^(\[[^\]]*\]|[^:[\]]+):([0-9]+)$/.exec(text.trim());
  if (!m) return fail(text.includes(':') ? 'not of the form HOST:PORT' : 'no port');
  const [, rawHost = '', rawPort = ''] = m;
  const port = Number(rawPort);
  if (!/^[1-9][0-9]{0,4}$/.test(rawPort) || port > 65535) fail(`port "${rawPort}" is not a number from 1 to 65535`);
  if (rawHost.includes('*')) fail('wildcards are not allowed; name one host');
  const bare = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost;
  if (rawHost.startsWith('[') && isIP(bare) !== 6) fail(`"${rawHost}" has no IPv6 address inside its brackets`);
  if (!rawHost.startsWith('[') && !HOST_CHARS.test(bare)) fail(`"${rawHost}" is not a host name or IPv4 address`);
  const host = canonicalizeHost(bare);
  if (!host) return fail(`"${rawHost}" is not a host name or address`);
  return { host, port };
}
