/**
 * @module ports
 * Each agent's page listens on a port derived from its name, so the operator can bookmark it and
 * it stays the same across restarts. The hash is 32-bit FNV-1a (a public-domain hash by Fowler,
 * Noll and Vo), reduced into the configured range (default 8100–8999).
 */

/** Inclusive port range for agent pages. */
export interface PortRange {
  first: number;
  last: number;
}

/** The default agent page range, 8100–8999. */
export const DEFAULT_PAGE_PORTS: PortRange = { first: 8100, last: 8999 };

/** 32-bit FNV-1a of the UTF-8 bytes of `text`. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * The page port of agent `name` within `range`.
 * @example agentPort('alice') // a stable number in 8100..8999
 */
export function agentPort(name: string, range: PortRange = DEFAULT_PAGE_PORTS): number {
  return range.first + (fnv1a(name) % (range.last - range.first + 1));
}

/**
 * Parses `first-last`.
 * @throws Error naming the problem when the range is malformed or outside 1024–65535.
 */
export function parsePortRange(text: string): PortRange {
  const m = /^(\d+)-(\d+)$/.exec(text.trim());
  const first = Number(m?.[1]);
  const last = Number(m?.[2]);
  if (!m || first < 1024 || last > 65535 || first > last)
    throw new Error(`port range "${text}": expected first-last within 1024-65535, e.g. 8100-8999`);
  return { first, last };
}
