/** @jsxImportSource @kitajs/html */
/**
 * @module dashboard/repo-browser
 * The config-repo browser: `GET /repos/:name` (an agent's applied repo: head, tags, log; the page
 * carries the session's CSRF token for the rollback each deploy tag offers, a POST in
 * `actions.tsx`) · `GET /repos/:name/commit/:sha` (one commit's diff) · `GET /repos/:name/file/:ref`
 * (the raw `agent.toml` at a tag or commit; `HEAD` is the applied head) · `GET /deploys` (the meta repo's
 * log). Names are checked before any git command; refs are checked by the repos themselves.
 *
 * What git says is kept in a {@link RepoCache} until the bus says it changed (a deploy, a denial,
 * a rollback, tag retention, a destroy or purge, a new deploy-log commit), so a warm load of any of
 * these pages runs no git; the first load after a change reads what changed once.
 */
import type { AnyElysia } from 'elysia';
import { AGENT_CONFIG_FILE } from '../../shared/agent-config.ts';
import { HiveError } from '../../shared/errors.ts';
import { MANAGER, validateAgentName } from '../../shared/names.ts';
import { VERSION } from '../../shared/version.ts';
import { htmlResponse } from '../../shared/web.ts';
import { CommitPage, DeploysPage, RepoPage } from '../../../views/dashboard/repos.tsx';
import type { Hive } from '../hive.ts';
import type { RequestGuard } from './guard.ts';
import { RepoCache } from './repo-cache.ts';

/** Commits shown in an agent's log. */
const LOG_LIMIT = 100;
/** Deploys shown. */
const DEPLOY_LIMIT = 200;

/**
 * An agent (or the manager) whose config repo may be browsed.
 * @throws HiveError `bad_name`.
 */
function repoName(name: string): string {
  return name === MANAGER ? name : validateAgentName(name);
}

/**
 * The config-repo browser's routes; `guard` gives the repo page its CSRF session. `cache` keeps
 * what git said between loads (by default one of its own, with the default bounds, subscribed to
 * `hive.bus` now).
 */
export function repoRoutes(hive: Hive, guard: RequestGuard, cache = new RepoCache(hive.repos, hive.bus, { meta: hive.meta })) {
  return (app: AnyElysia) =>
    app
      .get('/repos/:name', async ({ params, request }) => {
        const name = repoName(params.name);
        const head = await cache.head(name);
        if (!head) throw new HiveError('not_found', `agent "${name}" has no applied config repo`);
        const [tags, log] = await Promise.all([cache.tags(name), cache.log(name, LOG_LIMIT)]);
        const session = guard.session(request);
        const res = htmlResponse(String(<RepoPage version={VERSION} name={name} head={head} tags={tags} log={log} csrf={session.token} />));
        if (session.setCookie) res.headers.append('set-cookie', session.setCookie);
        return res;
      })
      .get('/repos/:name/commit/:sha', async ({ params }) => {
        const name = repoName(params.name);
        const text = await cache.commitDiff(name, params.sha);
        return htmlResponse(String(<CommitPage version={VERSION} name={name} sha={params.sha} text={text} />));
      })
      .get('/repos/:name/file/*', async ({ params }) => {
        const name = repoName(params.name);
        const ref = params['*'];
        const text = await cache.file(name, ref === 'HEAD' ? ((await cache.head(name)) ?? 'HEAD') : ref, AGENT_CONFIG_FILE);
        return new Response(text, { headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' } });
      })
      .get('/deploys', async () => htmlResponse(String(<DeploysPage version={VERSION} deploys={await cache.deployLog(DEPLOY_LIMIT)} />)));
}
