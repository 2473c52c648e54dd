/** @jsxImportSource @kitajs/html */
/**
 * @module views/dashboard/turns
 * Recent claude turns across the swarm: agent, status, what woke it, tools called, cost, result.
 */
import type { TurnRecord } from '../../src/shared/wire.ts';
import { label, preview, usd } from '../format.ts';
import { Clock } from '../time.tsx';

/** Tool names of a turn, the hive's own without their `mcp__hyperhive__` prefix. */
function toolList(tools: string[]): string {
  return tools.length ? tools.map((n) => n.replace(/^mcp__hyperhive__/, '')).join(', ') : '—';
}

/** Rows for `#turns-body`, newest first. */
export function TurnRows({ turns }: { turns: TurnRecord[] }): JSX.Element {
  if (turns.length === 0)
    return (
      <tr>
        <td colspan="6" class="dim">no turns yet</td>
      </tr>
    );
  return (
    <>
      {turns.map((t) => (
        <tr id={`turn-${t.id}`} data-agent={t.agent} data-status={t.status}>
          <td class="dim">
            <Clock ms={t.started_at} />
          </td>
          <td safe>{label(t.agent)}</td>
          <td data-label="status">
            <span class={`badge ${t.status}`}>{t.status}</span>
          </td>
          <td data-label="woke by" class="dim" safe>{t.trigger_message_id === null ? '—' : `#${t.trigger_message_id}`}</td>
          <td data-label="tools" safe>{toolList(t.tools)}</td>
          <td data-label="result">
            <span class="dim" safe>{`${t.duration_ms === null ? '' : `${(t.duration_ms / 1000).toFixed(1)}s `}${usd(t.cost_usd)}`}</span>{' '}
            <span safe>{preview(t.result ?? '', 80)}</span>
          </td>
        </tr>
      ))}
    </>
  );
}
