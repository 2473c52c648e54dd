/** @jsxImportSource @kitajs/html */
/**
 * @module views/dashboard/login
 * The hive's model credentials, as the operator sees them: the link in the dashboard's chrome strip
 * saying which credential is in use, and the login page (`GET /login`) with its status, "check
 * again", "log out" and the form that takes an API key or a `claude setup-token` token. No secret is
 * ever rendered, only its kind and last four characters. The page's forms swap `#login-body`
 * with the answer, which carries the outcome in `#login-notice` inside the form.
 */
import { Layout, Panel } from '../layout.tsx';
import { Clock } from '../time.tsx';

/** How one check of a credential with the upstream went (`at` epoch ms; `status` null when the upstream gave none). */
export interface LoginCheck {
  ok: boolean;
  at: number;
  status: number | null;
  message: string;
}

/** The credential status the page shows: the core's `CredentialStatus` (`src/core/gateway/credentials.ts`). */
export interface LoginStatus {
  inUse: 'stored' | 'environment' | 'none';
  upstream: string;
  stored: { kind: 'api_key' | 'oauth_token'; tail: string; setAt: number; check: LoginCheck | null } | null;
  environment: Array<{ variable: string; kind: 'api_key' | 'oauth_token' | 'auth_token'; tail: string; sent: boolean }>;
  environmentCheck: LoginCheck | null;
  fileError: string | null;
}

/** An outcome to show in the form: what was done, or why not. */
export interface LoginNotice {
  ok: boolean;
  text: string;
}

/**
 * On the page's posts: a refusal by the dashboard's own checks (403: CSRF, Origin, Host) is not
 * swapped over the form; its failure toast says what happened.
 */
const KEEP_ON_REFUSAL = { 'hx-status:403': 'swap:none' };

/** Words for each kind of credential. */
const KIND: Record<string, string> = { api_key: 'API key', oauth_token: 'setup-token', auth_token: 'bearer token' };

/** The credential in use in a few words, e.g. `API key …a1b2` or `ANTHROPIC_API_KEY …a1b2`. */
function inUseText(s: LoginStatus): string {
  if (s.stored) return `${KIND[s.stored.kind]} ${s.stored.tail}`;
  const sent = s.environment.filter((e) => e.sent);
  if (sent.length) return sent.map((e) => `${e.variable} ${e.tail}`).join(', ');
  return 'none';
}

/** The last check of the credential in use, or null. */
function lastCheck(s: LoginStatus): LoginCheck | null {
  return s.stored ? s.stored.check : s.inUse === 'environment' ? s.environmentCheck : null;
}

/**
 * The chrome strip's link to the login page, `#login-link`: the credential in use, marked `bad`
 * when there is none or its last check failed.
 */
export function LoginLink({ status }: { status: LoginStatus }): JSX.Element {
  const check = lastCheck(status);
  const bad = status.inUse === 'none' || (check !== null && !check.ok);
  const text = status.inUse === 'none' ? '▲ no model key' : `model key: ${inUseText(status)}${check && !check.ok ? ' ✗' : ''}`;
  return (
    <a href="/login" id="login-link" class={bad ? 'login-link bad' : 'login-link'} title="the hive's model credentials: set, check again, log out" safe>
      {text}
    </a>
  );
}

/** One check as a line: `✓ upstream 200: accepted · 2026-… UTC`. */
function CheckLine({ check }: { check: LoginCheck | null }): JSX.Element {
  if (!check) return <span class="dim">not checked yet: use check again</span>;
  return (
    <span class={check.ok ? 'check ok' : 'check bad'}>
      <span safe>{`${check.ok ? '✓' : '✗'} ${check.message}`}</span> · <Clock ms={check.at} />
    </span>
  );
}

/** The status, the actions and the form: the content of `#login-body`, swapped whole by each action. */
export function LoginBody({ status, notice }: { status: LoginStatus; notice?: LoginNotice | null }): JSX.Element {
  const s = status;
  const check = lastCheck(s);
  return (
    <>
      <dl class="login-status">
        <dt>in use</dt>
        <dd id="login-in-use" data-source={s.inUse}>
          {s.stored ? (
            <>
              <span safe>{`${KIND[s.stored.kind]} ${s.stored.tail}`}</span> <span class="dim">set on this page</span> <Clock ms={s.stored.setAt} />
            </>
          ) : s.inUse === 'environment' ? (
            <>
              <span safe>{inUseText(s)}</span> <span class="dim">from the core's environment</span>
            </>
          ) : (
            <span class="bad">none: agents' model requests are refused until you set a key below</span>
          )}
        </dd>
        <dt>last check</dt>
        <dd id="login-check">{s.inUse === 'none' ? <span class="dim">—</span> : <CheckLine check={check} />}</dd>
        <dt>environment</dt>
        <dd>
          {s.environment.length === 0 ? (
            <span class="dim">no ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN or CLAUDE_CODE_OAUTH_TOKEN</span>
          ) : (
            <>
              <span safe>{s.environment.map((e) => `${e.variable} ${e.tail}${e.sent ? '' : ' (not sent: ANTHROPIC_AUTH_TOKEN is)'}`).join(', ')}</span>{' '}
              <span class="dim">{s.stored ? 'used once you log out' : 'in use while nothing is set here'}</span>
            </>
          )}
        </dd>
        <dt>upstream</dt>
        <dd safe>{s.upstream}</dd>
      </dl>
      {s.fileError ? (
        <p class="error" role="alert" safe>
          {s.fileError}
        </p>
      ) : (
        ''
      )}
      <div class="login-actions">
        {s.inUse === 'none' ? (
          ''
        ) : (
          <button type="button" id="login-recheck" hx-post="/login/check" hx-target="#login-body" hx-swap="innerHTML" {...KEEP_ON_REFUSAL}>
            <span class="spin">◐</span> check again
          </button>
        )}
        {s.stored || s.fileError ? (
          <button type="button" id="logout" class="danger" hx-post="/logout" hx-target="#login-body" hx-swap="innerHTML" {...KEEP_ON_REFUSAL}>
            <span class="spin">◐</span> log out
          </button>
        ) : (
          ''
        )}
      </div>
      <form id="login-form" class="login" hx-post="/login" hx-target="#login-body" hx-swap="innerHTML" {...KEEP_ON_REFUSAL} autocomplete="off">
        <div id="login-notice" aria-live="polite">
          {notice ? (
            <p class={notice.ok ? 'notice ok' : 'error'} role={notice.ok ? 'status' : 'alert'} safe>
              {notice.text}
            </p>
          ) : (
            ''
          )}
        </div>
        <label>
          key or token{' '}
          <input type="password" name="secret" aria-label="API key or setup-token" placeholder="sk-ant-…" autocomplete="off" spellcheck="false" required />
        </label>
        <label>
          kind{' '}
          <select name="kind" aria-label="kind of credential">
            <option value="auto">by its prefix (sk-ant-oat… is a setup-token)</option>
            <option value="api_key">API key (sent as x-api-key)</option>
            <option value="oauth_token">setup-token (sent as a bearer token)</option>
          </select>
        </label>
        <button type="submit">
          <span class="spin">◐</span> check and use
        </button>
        <p class="dim">
          The key is checked with one free call to the upstream (POST /v1/messages/count_tokens) and kept only if it is accepted; it
          replaces the environment's while it is set, and is never shown again. For a subscription, run <code>claude setup-token</code>{' '}
          (in an agent's terminal, or anywhere claude runs) and paste the token it prints.
        </p>
      </form>
    </>
  );
}

/** The login page, `GET /login`; `csrf` is the session's token for its posts. */
export function LoginPage({ version, csrf, status }: { version: string; csrf: string; status: LoginStatus }): JSX.Element {
  return (
    <Layout
      title="login · hyperhive"
      csrf={csrf}
      live={false}
      chrome={
        <>
          <span safe>{`v${version}`}</span>
          <a href="/">← dashboard</a>
        </>
      }
    >
      <main>
        <Panel id="login" glyph="◈" name="L0G1N" sub="the hive's model credentials: agents never hold them" wide>
          <div id="login-body">
            <LoginBody status={status} />
          </div>
        </Panel>
      </main>
    </Layout>
  );
}
