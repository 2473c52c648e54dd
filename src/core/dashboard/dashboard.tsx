/** @jsxImportSource @kitajs/html */
/**
 * @module dashboard
 * The operator's dashboard on the core (default `127.0.0.1:7000`): one server-rendered page whose
 * sections are kept current by one SSE stream (`/events`) of `<hx-partial>` fragments, and the
 * operator's send form. No full reloads; no client build step.
 *
 * Routes: `GET /` page · `GET /events` SSE · `GET /fragments/agents|flow|turns` · `POST /send`.
 * State-changing routes refuse requests from another origin (see `sameOrigin`).
 */
import { Elysia } from 'elysia';
import { html } from '@elysiajs/html';
import { HiveError } from '../../shared/errors.ts';
import { OPERATOR } from '../../shared/names.ts';
import { sseResponse } from '../../shared/sse.ts';
import { errorResponder, htmlResponse, htmxPartial, sameOrigin, staticFiles, toastHeader } from '../../shared/web.ts';
import { VERSION } from '../../shared/version.ts';
import type { HiveEvent } from '../events.ts';
import type { Hive } from '../hive.ts';
import { DashboardPage } from '../../../views/dashboard/page.tsx';
import { AgentRows } from '../../../views/dashboard/agents.tsx';
import { MessageItem, MessageItems } from '../../../views/dashboard/flow.tsx';
import { TurnRows } from '../../../views/dashboard/turns.tsx';

/** Messages shown at load and replayed at most on reconnect. */
const FLOW_LIMIT = 200;
/** Turns shown. */
const TURN_LIMIT = 30;

/** Builds the dashboard app for `hive`. Call `.listen()` on it, or `.handle()` in tests. */
export function createDashboard(hive: Hive) {
  const sandboxed = hive.runtime.sandboxed;
  const agentsFragment = () => String(<AgentRows agents={hive.registry.list()} sandboxed={sandboxed} />);
  const turnsFragment = () => String(<TurnRows turns={hive.turns.list({ limit: TURN_LIMIT })} />);

  return new Elysia({ name: 'dashboard' })
    .use(html())
    .use(staticFiles())
    .onError(errorResponder(hive.log))
    .get('/', () =>
      htmlResponse(
        String(
          <DashboardPage
            version={VERSION}
            runtime={hive.runtime.name}
            sandboxed={sandboxed}
            dataDir={hive.config.dataDir}
            agents={hive.registry.list()}
            messages={hive.broker.list({ limit: FLOW_LIMIT })}
            turns={hive.turns.list({ limit: TURN_LIMIT })}
            lastMessageId={hive.broker.lastId()}
          />,
        ),
      ),
    )
    .get('/fragments/agents', () => htmlResponse(agentsFragment()))
    .get('/fragments/turns', () => htmlResponse(turnsFragment()))
    .get('/fragments/flow', ({ query }) =>
      htmlResponse(String(<MessageItems messages={hive.broker.list({ limit: FLOW_LIMIT, agent: query.agent || undefined })} />)),
    )
    .get('/events', ({ request }) => {
      const lastSeen = Number(request.headers.get('last-event-id') ?? '');
      return sseResponse((sink) => {
        // Catch up: agents and turns are re-rendered whole; messages after the last one seen are replayed.
        sink.send({ data: htmxPartial('#agents-body', 'innerHTML', agentsFragment()) });
        sink.send({ data: htmxPartial('#turns-body', 'innerHTML', turnsFragment()) });
        if (Number.isSafeInteger(lastSeen) && lastSeen > 0) {
          for (const m of hive.broker.list({ afterId: lastSeen, limit: FLOW_LIMIT }))
            sink.send({ id: m.id, data: htmxPartial('#flow', 'afterbegin', String(<MessageItem m={m} />)) });
        }
        const onEvent = (ev: HiveEvent) => {
          switch (ev.type) {
            case 'message':
              sink.send({ id: ev.message.id, data: htmxPartial('#flow', 'afterbegin', String(<MessageItem m={ev.message} />)) });
              break;
            case 'delivered':
              sink.send({ data: htmxPartial(`#msg-${ev.message.id} .state`, 'innerHTML', '✓') });
              break;
            case 'agent':
            case 'agent_removed':
              sink.send({ data: htmxPartial('#agents-body', 'innerHTML', agentsFragment()) });
              break;
            case 'turn':
              sink.send({ data: htmxPartial('#turns-body', 'innerHTML', turnsFragment()) });
              break;
          }
        };
        return hive.bus.on(onEvent);
      });
    })
    .post('/send', ({ request, body }) => {
      if (!sameOrigin(request)) throw new HiveError('forbidden', 'cross-origin request refused');
      const form = (body ?? {}) as Record<string, unknown>;
      const to = typeof form.to === 'string' ? form.to.trim() : '';
      const text = typeof form.body === 'string' ? form.body : '';
      if (!to) throw new HiveError('bad_request', 'choose a recipient');
      if (!text.trim()) throw new HiveError('bad_request', 'the message is empty');
      const m = hive.send(OPERATOR, to, text);
      return new Response(null, { status: 204, headers: { 'HX-Trigger': toastHeader(`sent #${m.id} to ${to}`) } });
    });
}
