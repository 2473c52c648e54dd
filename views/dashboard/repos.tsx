/** @jsxImportSource @kitajs/html */
/**
 * @module views/dashboard/repos
 * The config-repo browser: an agent's applied repo (head, tags with their approval chain, a
 * rollback to each deploy, log), one commit's diff, and the swarm's deploy log (the meta repo).
 */
import { stageRank, type RepoCommit, type RepoTag } from '../../src/shared/repo-tags.ts';
import { Layout, Panel } from '../layout.tsx';
import { Diff } from './approvals.tsx';
import { label } from '../format.ts';

const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

/** Newest approval first, each approval's chain from its outcome back to its proposal; other tags by date. */
function byChain(tags: RepoTag[]): RepoTag[] {
  return [...tags].sort((a, b) => (b.approval ?? -1) - (a.approval ?? -1) || stageRank(b) - stageRank(a) || b.created_at - a.created_at);
}

function Chrome({ version }: { version: string }): JSX.Element {
  return (
    <>
      <span safe>{`v${version}`}</span>
      <a href="/">← dashboard</a>
      <a href="/deploys">deploy log</a>
    </>
  );
}

/**
 * An agent's applied config repo. Each `deployed/<id>` tag offers "roll back to this", which queues
 * an approval; `csrf` is the session's token for that post.
 */
export function RepoPage({
  version,
  name,
  head,
  tags,
  log,
  csrf,
}: {
  version: string;
  name: string;
  head: string | null;
  tags: RepoTag[];
  log: RepoCommit[];
  csrf?: string;
}): JSX.Element {
  return (
    <Layout title={`${name} config · hyperhive`} chrome={<Chrome version={version} />} live={false} csrf={csrf}>
      <main>
        <Panel id="repo" glyph="◆" name={`C0NF1G ${label(name)}`} sub={`applied repo, head ${head?.slice(0, 12) ?? '(none)'}`} wide>
          <p>
            <a href={`/repos/${name}/file/HEAD`}>agent.toml at the head</a>
          </p>
          <table>
            <thead>
              <tr>
                <th>tag</th>
                <th>commit</th>
                <th>when</th>
                <th>message</th>
              </tr>
            </thead>
            <tbody>
              {tags.length === 0 ? (
                <tr>
                  <td colspan="4" class="dim">no tags</td>
                </tr>
              ) : (
                ''
              )}
              {byChain(tags).map((t) => (
                <tr>
                  <td>
                    <span class={`badge ${t.stage ?? ''}`} safe>{t.name}</span>
                  </td>
                  <td>
                    <a href={`/repos/${name}/commit/${t.commit}`} safe>
                      {t.commit.slice(0, 12)}
                    </a>{' '}
                    <a class="dim" href={`/repos/${name}/file/${t.name}`}>
                      agent.toml
                    </a>
                  </td>
                  <td class="dim" safe>{when(t.created_at)}</td>
                  <td>
                    <span safe>{t.message}</span>
                    {t.stage === 'deployed' && t.approval !== null ? (
                      <>
                        {' '}
                        <button hx-post={`/repos/${name}/rollback/${t.approval}`} hx-swap="none" class="quiet" aria-label={`roll ${label(name)} back to ${t.name}`}>
                          <span class="spin">◐</span> roll back to this
                        </button>
                      </>
                    ) : (
                      ''
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Panel>
        <Panel id="log" glyph="▚" name="L0G" sub="commits, newest first" wide>
          <ul class="decided">
            {log.map((c) => (
              <li>
                <a href={`/repos/${name}/commit/${c.sha}`} safe>
                  {c.sha.slice(0, 12)}
                </a>{' '}
                <span class="dim" safe>{when(c.at)}</span> <span safe>{c.subject}</span>
              </li>
            ))}
          </ul>
        </Panel>
      </main>
    </Layout>
  );
}

/** One commit of an applied repo with its diff. */
export function CommitPage({ version, name, sha, text }: { version: string; name: string; sha: string; text: string }): JSX.Element {
  return (
    <Layout title={`${name} ${sha.slice(0, 12)} · hyperhive`} chrome={<Chrome version={version} />} live={false}>
      <main>
        <Panel id="commit" glyph="◆" name={`C0MM1T ${sha.slice(0, 12)}`} sub={`in ${name}'s applied repo`} wide>
          <p>
            <a href={`/repos/${name}`} safe>{`← ${name}'s config repo`}</a> · <a href={`/repos/${name}/file/${sha}`}>agent.toml at this commit</a>
          </p>
          <Diff text={text} />
        </Panel>
      </main>
    </Layout>
  );
}

/** The meta repo's log: every deploy in the swarm. */
export function DeploysPage({ version, deploys }: { version: string; deploys: RepoCommit[] }): JSX.Element {
  return (
    <Layout title="deploy log · hyperhive" chrome={<Chrome version={version} />} live={false}>
      <main>
        <Panel id="deploys" glyph="▤" name="D3PL0YS" sub="the meta repo, newest first" wide>
          {deploys.length === 0 ? <p class="dim">no deploys yet</p> : ''}
          <ul class="decided">
            {deploys.map((c) => {
              const agent = /^([a-z][a-z0-9-]{0,8}|manager):/.exec(c.subject)?.[1];
              return (
                <li>
                  <span class="dim" safe>{when(c.at)}</span>{' '}
                  {agent ? (
                    <a href={`/repos/${agent}`} safe>
                      {c.subject}
                    </a>
                  ) : (
                    <span safe>{c.subject}</span>
                  )}
                </li>
              );
            })}
          </ul>
        </Panel>
      </main>
    </Layout>
  );
}
