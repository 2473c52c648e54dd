/** @jsxImportSource @kitajs/html */
/**
 * @module views/agent/tail
 * One history event of an agent as a line (or several) of the live tail on its page.
 */
import { blocksOf, isInit, isMessage, isResult, type ClaudeEvent } from '../../src/shared/stream-json.ts';
import { preview, usd } from '../format.ts';
import { Clock } from '../time.tsx';

/**
 * One history event as the tail renders it: the shape of the agent's history rows. `kind` is
 * `wake`, `claude` (a stream-json event), `raw`, `note` or `turn_end`; `data` is that kind's payload.
 */
export interface TailEvent {
  id: number;
  ts: number;
  kind: string;
  data: unknown;
}

const line = (id: number, ts: number, kind: string, cls: string, text: string) => (
  <li id={`ev-${id}`} data-kind={kind}>
    <span class="dim">
      <Clock ms={ts} timeOnly />
    </span> <span class={`k ${cls}`} safe>{kind}</span> <span safe>{text}</span>
  </li>
);

const json = (v: unknown) => {
  const s = JSON.stringify(v) ?? '';
  return s.length > 300 ? s.slice(0, 300) + '…' : s;
};

function contentText(c: unknown): string {
  if (typeof c === 'string') return c;
  if (Array.isArray(c)) return c.map((b) => (b && typeof b === 'object' && 'text' in b ? String(b.text) : '')).join(' ');
  return json(c);
}

/** Renders one event (claude message events may become several lines). */
export function EventLines({ ev }: { ev: TailEvent }): JSX.Element {
  const { id, ts } = ev;
  const d = (ev.data ?? {}) as Record<string, unknown>;
  switch (ev.kind) {
    case 'wake':
      return line(id, ts, 'wake', 'wake', `#${d.id} from ${d.from}: ${preview(String(d.body ?? ''), 400)}`);
    case 'note':
      return line(id, ts, 'note', d.level === 'error' ? 'error' : '', String(d.text ?? ''));
    case 'raw':
      return line(id, ts, String(d.stream ?? 'raw'), 'error', String(d.line ?? ''));
    case 'turn_end':
      return line(id, ts, 'turn end', d.status === 'ok' ? 'text' : 'error',
        `${d.status} in ${((Number(d.duration_ms) || 0) / 1000).toFixed(1)}s, ${usd((d.cost_usd as number | null) ?? null)}`);
    case 'claude': {
      const e = ev.data as ClaudeEvent;
      if (isInit(e)) {
        const mcp = (e.mcp_servers ?? []).map((s) => `${s.name} ${s.status}`).join(', ');
        return line(id, ts, 'session', '', `${e.session_id} · ${e.model ?? ''} · mcp: ${mcp || 'none'}`);
      }
      if (isResult(e)) return line(id, ts, 'result', e.is_error ? 'error' : 'text', preview(e.result ?? e.subtype, 400));
      if (isMessage(e)) {
        return (
          <>
            {blocksOf(e).map((b) => {
              if (b.type === 'text') return line(id, ts, e.type === 'assistant' ? 'says' : 'user', 'text', b.text ?? '');
              if (b.type === 'tool_use') return line(id, ts, 'tool', 'tool', `${b.name}(${json(b.input)})`);
              if (b.type === 'tool_result') return line(id, ts, b.is_error ? 'tool error' : 'tool result', b.is_error ? 'error' : '', preview(contentText(b.content), 400));
              if (b.type === 'thinking') return line(id, ts, 'thinks', '', preview(String((b as { thinking?: string }).thinking ?? ''), 200));
              return line(id, ts, b.type, '', json(b));
            })}
          </>
        );
      }
      return line(id, ts, e.type, '', json(e));
    }
    default:
      return line(id, ts, ev.kind, '', json(ev.data));
  }
}
