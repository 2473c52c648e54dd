/** @jsxImportSource @kitajs/html */
/**
 * @module dashboard
 * The operator's dashboard on the core (default `127.0.0.1:7000`): one server-rendered page whose
 * sections are kept current by one SSE stream of `<hx-partial>` fragments, and the operator's
 * actions. No full reloads; no client build step. This module puts the parts together:
 * - `sections.tsx`: the page `GET /` and each section as `GET /fragments/…`;
 * - `live.ts`: the stream `GET /events`;
 * - `actions.tsx`: the operator's POSTs (send, answer, approve/deny, dismiss, model, agent
 *   actions, spawn, destroy, spawn again from kept state and purge, discard a draft, roll back,
 *   cancel a reminder, mark inbox messages read and reply to them, send a test notification, prune
 *   unused images), their forms read by `forms.ts`;
 * - `repo-browser.tsx`: the config-repo browser, `GET /repos/…` and `GET /deploys`;
 * - `shared-browser.tsx`: the hive-wide shared directory, read-only, `GET /shared/…`;
 * - `stats-api.ts`: telemetry series as JSON, `GET /api/stats`, for the charts;
 * - `login.tsx`: the hive's model credentials, `GET /login` and its posts (set, check again, log out);
 * - `agent-page-proxy.ts`: `/agents/:name/page/*`, the agent's own page, proxied to the
 *   `page.sock` its harness serves;
 * - `agent-status.ts`: `GET /agents/:name/status`, the core's view of one agent's state (JSON or
 *   SSE), which its page shows while its harness is away;
 * - `terminal.ts`: `/agents/:name/terminal`, a WebSocket to a shell in the agent's sandbox, relayed
 *   to the `term.sock` its harness serves (the only WebSocket; `TERMINAL_WEBSOCKET` sets its limits);
 * - `GET /static/<file>`: the page's CSS and scripts.
 *
 * Every request must name this dashboard in its `Host`, and every state-changing one must carry
 * the session's CSRF token and no foreign `Origin` (see `guard.ts`); the agent pages are behind the
 * same checks. With an operator token configured, every route (pages, fragments, the stream, static
 * files, agent pages) asks for it first (see `auth.ts`). Errors become responses in one place
 * (`errorResponder`): the status of a `HiveError`, with its message on a page linking back to `/`
 * for a navigation, else as the body and a failure toast.
 */
import { Elysia } from 'elysia';
import { errorResponder, staticFiles } from '../../shared/web.ts';
import type { Hive } from '../hive.ts';
import { actionRoutes } from './actions.tsx';
import { agentPageRoutes } from './agent-page-proxy.ts';
import { agentStatusRoutes } from './agent-status.ts';
import { OperatorAuth } from './auth.ts';
import { loadSecret, RequestGuard } from './guard.ts';
import { LiveUpdates, liveRoutes, RecentBuilds } from './live.ts';
import { loginRoutes } from './login.tsx';
import { repoRoutes } from './repo-browser.tsx';
import { sharedRoutes } from './shared-browser.tsx';
import { Sections, sectionRoutes, unannounced } from './sections.tsx';
import { statsRoutes } from './stats-api.ts';
import { TERMINAL_WEBSOCKET, terminalRoutes } from './terminal.ts';

/** Builds the dashboard app for `hive`. Call `.listen()` on it, or `.handle()` in tests. */
export function createDashboard(hive: Hive) {
  const auth = hive.config.operatorToken ? new OperatorAuth(hive.config.operatorToken) : null;
  const guard = new RequestGuard(loadSecret(hive.layout.secretFile), hive.config.listen.host, hive.config.allowedHosts);
  const onError = errorResponder(hive.log);
  const builds = new RecentBuilds(hive.bus);
  const sections = new Sections(hive, () => builds.list());
  const live = new LiveUpdates(hive, sections, () => unannounced(sections, hive));

  return new Elysia({ name: 'dashboard', websocket: TERMINAL_WEBSOCKET })
    .onRequest(async ({ request }) => {
      const denied = auth?.check(request);
      if (denied) return denied;
      try {
        await guard.check(request);
      } catch (err) {
        return onError({ error: err, code: 'FORBIDDEN', request });
      }
    })
    .use(staticFiles())
    .onError(onError)
    .use(agentPageRoutes(hive, guard))
    .use(agentStatusRoutes(hive))
    .use(terminalRoutes(hive, guard))
    .use(sectionRoutes(sections, guard, live))
    .use(liveRoutes(live))
    .use(repoRoutes(hive, guard))
    .use(sharedRoutes(hive))
    .use(statsRoutes(hive))
    .use(actionRoutes(hive, sections))
    .use(loginRoutes(hive.credentials, guard));
}
