/** @jsxImportSource @kitajs/html */
/**
 * @module views/dashboard/builds
 * The rebuild output: one line per step or line of sandbox output, streamed as it happens.
 */
import { label } from '../format.ts';

/** One line of rebuild output. */
export interface BuildLineItem {
  agent: string;
  approval: number | null;
  line: string;
  at: number;
}

/** One line of rebuild output, as appended to `#builds`. */
export function BuildLine({ b }: { b: BuildLineItem }): JSX.Element {
  const cls = b.line.startsWith('failed:') ? 'bad' : b.line.startsWith('up:') ? 'good' : b.line.startsWith('rebuild of') ? 'start' : '';
  return (
    <li class={cls}>
      <span class="dim" safe>{new Date(b.at).toISOString().slice(11, 19)}</span> <span class="who" safe>{label(b.agent)}</span>
      {b.approval ? <span class="dim" safe>{` #${b.approval}`}</span> : ''} <span class="line" safe>{b.line}</span>
    </li>
  );
}

/** The recent rebuild output, oldest first. */
export function BuildLines({ lines }: { lines: BuildLineItem[] }): JSX.Element {
  return (
    <>
      <li class="dim empty">no rebuilds since the core started</li>
      {lines.map((b) => (
        <BuildLine b={b} />
      ))}
    </>
  );
}
