/** @jsxImportSource @kitajs/html */
/**
 * @module dashboard/login
 * The operator sets the hive's model credentials (`gateway/credentials.ts`):
 * - `GET /login`: the page (status, check again, log out, the form), with the session's CSRF token;
 * - `POST /login` (`secret`, `kind` = `auto` | `api_key` | `oauth_token`): checks the secret with
 *   the upstream and keeps it when accepted; 200 when it is in use, 400 when it is malformed or the
 *   upstream refused it (4xx), 502 when the upstream could not be asked or failed (5xx, no answer);
 * - `POST /login/check`: checks the credentials in use again; 200 when they pass, else as above
 *   (409 when there are none);
 * - `POST /logout`: removes the stored credential; the environment's apply again (409 when none was
 *   stored).
 *
 * Every answer is `#login-body` rendered again, with the outcome in the form's notice, and a toast;
 * the posts pass the same Host, Origin and CSRF checks as every dashboard action (`guard.ts`).
 */
import type { AnyElysia } from 'elysia';
import { HiveError } from '../../shared/errors.ts';
import { VERSION } from '../../shared/version.ts';
import { htmlResponse, toastHeader } from '../../shared/web.ts';
import { LoginBody, LoginPage, type LoginNotice } from '../../../views/dashboard/login.tsx';
import { STORED_KINDS, type CredentialCheck, type Credentials, type StoredKind } from '../gateway/credentials.ts';
import { readForm } from './forms.ts';
import type { RequestGuard } from './guard.ts';

/** The HTTP status for a failed check: the upstream refused (400), or could not be asked or failed (502). */
function checkStatus(check: CredentialCheck): number {
  return check.status !== null && check.status >= 400 && check.status < 500 ? 400 : 502;
}

/** `#login-body` with `notice`, at `status`, with a toast of the same text. */
function answer(credentials: Credentials, notice: LoginNotice, status = 200): Response {
  return htmlResponse(String(<LoginBody status={credentials.status()} notice={notice} />), {
    status,
    headers: { 'HX-Trigger': toastHeader(notice.text, notice.ok), 'cache-control': 'no-store' },
  });
}

/** Runs `act`; a `HiveError` it throws is answered in the form, with its status. */
async function inForm(credentials: Credentials, act: () => Promise<Response> | Response): Promise<Response> {
  try {
    return await act();
  } catch (err) {
    if (!(err instanceof HiveError)) throw err;
    return answer(credentials, { ok: false, text: err.message }, err.status);
  }
}

/** The login routes over `credentials`; `guard` gives the page its CSRF session. */
export function loginRoutes(credentials: Credentials, guard: RequestGuard) {
  return (app: AnyElysia) =>
    app
      .get('/login', ({ request }) => {
        const session = guard.session(request);
        const res = htmlResponse(String(<LoginPage version={VERSION} csrf={session.token} status={credentials.status()} />), {
          headers: { 'cache-control': 'no-store' },
        });
        if (session.setCookie) res.headers.append('set-cookie', session.setCookie);
        return res;
      })
      .post('/login', ({ request }) =>
        inForm(credentials, async () => {
          const form = await readForm(request);
          const kind = form.text('kind') || 'auto';
          if (kind !== 'auto' && !(STORED_KINDS as readonly string[]).includes(kind))
            throw new HiveError('bad_request', `"${kind.slice(0, 20)}" is not a kind of credential; use auto, api_key or oauth_token`);
          const check = await credentials.login(form.text('secret') ?? '', kind as StoredKind | 'auto');
          if (!check.ok) return answer(credentials, { ok: false, text: `not kept: ${check.message}` }, checkStatus(check));
          const s = credentials.status().stored;
          const what = s ? `${s.kind === 'api_key' ? 'API key' : 'setup-token'} ${s.tail}` : 'the key';
          return answer(credentials, { ok: true, text: `${what} accepted (${check.message}); it is in use from the next model request` });
        }),
      )
      .post('/login/check', () =>
        inForm(credentials, async () => {
          const check = await credentials.recheck();
          return check.ok
            ? answer(credentials, { ok: true, text: `the credentials in use pass: ${check.message}` })
            : answer(credentials, { ok: false, text: `the credentials in use fail: ${check.message}` }, checkStatus(check));
        }),
      )
      .post('/logout', () =>
        inForm(credentials, () => {
          if (!credentials.logout()) throw new HiveError('conflict', 'no credential is set on this page; the environment\'s cannot be removed from here');
          const inUse = credentials.status().inUse;
          return answer(credentials, {
            ok: true,
            text: `logged out: the stored credential is removed; ${inUse === 'environment' ? "the environment's are in use" : 'agents have no model credentials now'}`,
          });
        }),
      );
}
