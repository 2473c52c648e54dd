/**
 * @module shared/repo-tags
 * The tags and commits of an agent's applied config repo, as the core reads them and the dashboard
 * shows them. Each approval leaves a chain of tags `<stage>/<approval id>` in the applied repo, in
 * the order of {@link TAG_STAGES}: its proposal, then its approval, build and outcome.
 */

/** The tag prefixes of an approval's life, in order. */
export const TAG_STAGES = ['proposal', 'approved', 'building', 'deployed', 'failed', 'denied'] as const;
/** One of {@link TAG_STAGES}. */
export type TagStage = (typeof TAG_STAGES)[number];

/** One tag in an applied repo. */
export interface RepoTag {
  name: string;
  stage: TagStage | null;
  /** The approval id for lifecycle tags. */
  approval: number | null;
  commit: string;
  /** Tag creation, unix ms. */
  created_at: number;
  message: string;
}

/** One commit in a log. */
export interface RepoCommit {
  sha: string;
  /** Commit time, unix ms. */
  at: number;
  subject: string;
}

/** Position of a tag in its approval's life (proposal first, the outcome last); -1 for other tags. */
export function stageRank(t: Pick<RepoTag, 'stage'>): number {
  return t.stage ? TAG_STAGES.indexOf(t.stage) : -1;
}
