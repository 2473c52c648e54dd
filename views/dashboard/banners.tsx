/** @jsxImportSource @kitajs/html */
/**
 * @module views/dashboard/banners
 * Banners across the top of the dashboard for conditions that need the operator: a model request
 * the gateway refused, a failed deploy, a crash loop, an audit record that could not be written, an agent that looks stuck. Each says what happened in words, links to where to look, and can
 * be dismissed; it also goes away by itself once the condition clears.
 */
import type { AlertKind, AlertRecord } from '../../src/shared/wire.ts';
import { label } from '../format.ts';
import { Age } from '../time.tsx';

/** What each kind of alert is called on its banner. */
const TITLES: Record<AlertKind, string> = {
  gateway_refused: 'model gateway refused',
  deploy_failed: 'deploy failed',
  crash_loop: 'crash loop',
  audit_failed: 'audit trail incomplete',
  agent_stuck: 'agent stuck',
  hive_unreachable: 'hive unreachable',
};

/** The banners (empty when nothing needs the operator), for `#banners`. */
export function Banners({ alerts, now = Date.now() }: { alerts: AlertRecord[]; now?: number }): JSX.Element {
  if (alerts.length === 0) return <></>;
  return (
    <>
      {alerts.map((a) => (
        <div class={`banner ${a.kind}`} id={`alert-${a.id}`} role="alert" data-kind={a.kind} data-agent={a.agent}>
          <strong class="kind" safe>{`▲ ${TITLES[a.kind]}`}</strong> <span class="who" safe>{label(a.agent)}</span>{' '}
          <span class="text" safe>{a.text}</span>{' '}
          <span class="dim">
            <Age ms={a.updated_at} now={now} /> ago{a.count > 1 ? <span safe>{` · ×${a.count}`}</span> : ''}
          </span>{' '}
          {a.kind === 'deploy_failed' || a.kind === 'audit_failed' ? (
            <a href={`/repos/${encodeURIComponent(a.agent)}`} class="dim">
              config repo
            </a>
          ) : (
            ''
          )}{' '}
          <button hx-post={`/alerts/${a.id}/dismiss`} hx-swap="none" aria-label={`dismiss the ${TITLES[a.kind]} alert for ${a.agent}`}>
            <span class="spin">◐</span> dismiss
          </button>
        </div>
      ))}
    </>
  );
}

/** The chrome strip's alert count, a link to the banners (empty when there are none). */
export function AlertCount({ count }: { count: number }): JSX.Element {
  if (count === 0) return <></>;
  return (
    <a href="#banners" class="alert-count" safe>
      {`▲ ${count} alert${count === 1 ? '' : 's'}`}
    </a>
  );
}
