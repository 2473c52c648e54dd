/**
 * @module reminders
 * How a recurring reminder's schedule reads to people and models: `every 5m, fired 3×, 7 left`.
 * The dashboard, `hive ctl reminders`, the MCP tools and the fired messages all use this, so a
 * schedule reads the same wherever it is shown.
 */
import type { ReminderRecord } from './wire.ts';

const UNITS: ReadonlyArray<readonly [string, number]> = [
  ['d', 86400],
  ['h', 3600],
  ['m', 60],
  ['s', 1],
];

/**
 * An interval in seconds, exactly, in compact units; below a second in milliseconds.
 * @example interval(300) // '5m'
 * @example interval(5400) // '1h30m'
 */
export function interval(seconds: number): string {
  if (seconds < 1) return `${Math.round(seconds * 1000)}ms`;
  let rest = Math.round(seconds);
  let out = '';
  for (const [unit, size] of UNITS) {
    if (rest < size) continue;
    out += `${Math.floor(rest / size)}${unit}`;
    rest %= size;
  }
  return out;
}

/**
 * The repeat part of a reminder: how often, how many times it fired, and how many firings are
 * left (or until when it runs, when uncapped). Empty for a one-shot reminder.
 * @example repeatText(r) // 'every 5m, fired 3×, 7 left'
 * @example repeatText(uncapped) // 'every 1h, fired 0×, until 2027-01-31 09:00 UTC'
 */
export function repeatText(r: Pick<ReminderRecord, 'every' | 'fired' | 'remaining' | 'ends_at'>): string {
  if (r.every === null) return '';
  const end =
    r.remaining !== null ? `${r.remaining} left` : r.ends_at !== null ? `until ${new Date(r.ends_at).toISOString().replace('T', ' ').slice(0, 16)} UTC` : 'no end';
  return `every ${interval(r.every)}, fired ${r.fired}×, ${end}`;
}
