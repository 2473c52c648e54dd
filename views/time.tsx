/** @jsxImportSource @kitajs/html */
/**
 * @module views/time
 * Ages and timestamps as page elements. An age carries its start in `data-since` (unix ms), and
 * `static/hive.js` keeps its text current while the tab is visible; the text rendered here is the
 * initial value. A timestamp is UTC and says so.
 */
import { age, clock } from './format.ts';

/** A live age (`42s`, `5m` …) since `ms`, as `<time data-since>`. */
export function Age({ ms, now = Date.now() }: { ms: number; now?: number }): JSX.Element {
  return (
    <time class="age" data-since={String(ms)} datetime={new Date(ms).toISOString()} title={`since ${clock(ms)} UTC`} safe>
      {age(ms, now)}
    </time>
  );
}

/** A UTC timestamp `2026-11-21 05:32:14 UTC` (only the time of day with `timeOnly`), as `<time>`. */
export function Clock({ ms, timeOnly = false }: { ms: number; timeOnly?: boolean }): JSX.Element {
  const full = clock(ms);
  return (
    <time datetime={new Date(ms).toISOString()} title={`${full} UTC`} safe>
      {`${timeOnly ? full.slice(11) : full} UTC`}
    </time>
  );
}
