/**
 * @module views/format
 * Small pure formatters shared by the dashboard and agent pages.
 */

/** `2026-11-21 05:32:14` in UTC from unix ms. */
export function clock(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

/** Compact age: `42s`, `5m`, `3h`, `2d`. */
export function age(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** First line of `text`, cut to `max` characters with an ellipsis. */
export function preview(text: string, max = 120): string {
  const first = text.split('\n', 1)[0] ?? '';
  return first.length > max || text.includes('\n') ? first.slice(0, max) + '…' : first;
}

/** `$0.0123`, or an em dash when unknown. */
export function usd(v: number | null): string {
  return v === null ? '—' : `$${v.toFixed(4)}`;
}

/** Dashboard label of an agent: the manager shows as hm1nd. */
export function label(name: string): string {
  return name === 'manager' ? 'hm1nd' : name;
}

/** The agent name a person typed on the dashboard (trimmed), where `hm1nd` means the manager; the inverse of {@link label}. */
export function nameFromLabel(typed: string): string {
  const t = typed.trim();
  return t === 'hm1nd' ? 'manager' : t;
}

/** Disk use in whole MiB from bytes: `160 MiB` (as `hive ctl images` prints it). */
export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}
