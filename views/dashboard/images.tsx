/** @jsxImportSource @kitajs/html */
/**
 * @module views/dashboard/images
 * Agents' root filesystems ("images", see docs/images.md), as `hive ctl images` lists them: each
 * image's key, size, when it was built, the agents that use it and its packages (the hive's base
 * set summarised as `base`), the total, and a two-click prune of the images no agent uses. Where
 * this core uses no images, or cannot build them, one line says why.
 */
import type { ImageRecord } from '../../src/shared/wire.ts';
import { TableHead } from '../layout.tsx';
import { label, mib } from '../format.ts';
import { Age } from '../time.tsx';
import { DangerButton, type DangerProps } from './kept.tsx';

/** What the images section shows: `Hive.imageReport`'s answer and the hive's base package set. */
export interface ImagesState {
  /** Where images are kept, or null when this core's sandboxes use none. */
  dir: string | null;
  /** Why images are not used (with `dir` null) or cannot be built here, or null. */
  problem: string | null;
  /** Every stored image, newest first. */
  images: ImageRecord[];
  /** The packages every image is built with (the recipe's base set), shown as `base`. */
  base: readonly string[];
}

/** One image removed by a prune, with its disk use in bytes. */
export interface RemovedImage {
  key: string;
  bytes: number;
}

/**
 * The prune's two clicks: the path both post to, the button's words (`prune unused images`), and
 * the element its confirmed answer (the section's new body) fills.
 */
export const PRUNE_IMAGES: DangerProps = { action: '/images/prune', text: 'prune', name: 'unused images', named: true, target: '#images-body' };

/** What a prune removed, in one line: `removed 2 images, 404 MiB`, or that nothing was unused. */
export function prunedLine(removed: readonly RemovedImage[]): string {
  if (removed.length === 0) return 'nothing to remove: every image is in use';
  const bytes = removed.reduce((n, r) => n + r.bytes, 0);
  return `removed ${removed.length} image${removed.length === 1 ? '' : 's'}, ${mib(bytes)}`;
}

/**
 * An image's packages against the base set: `base` is true when every base package is among them,
 * and `extra` holds the rest (all of them when the base set is not complete), in their order.
 */
export function packageSummary(packages: readonly string[], base: readonly string[]): { base: boolean; extra: string[] } {
  const hasBase = base.length > 0 && base.every((p) => packages.includes(p));
  return { base: hasBase, extra: hasBase ? packages.filter((p) => !base.includes(p)) : [...packages] };
}

/** One image's row: short key (the full one as its title), size, age, users, distribution and packages. */
function ImageRow({ image, base, now }: { image: ImageRecord; base: readonly string[]; now: number }): JSX.Element {
  const pkgs = packageSummary(image.packages, base);
  return (
    <tr id={`image-${image.key}`} data-users={String(image.users.length)}>
      <td data-label="image">
        <code title={image.key} safe>
          {image.key.slice(0, 8)}
        </code>
      </td>
      <td data-label="size" safe>
        {mib(image.bytes)}
      </td>
      <td data-label="built">
        <Age ms={image.built_at} now={now} /> ago{' '}
        <span class="dim" title="how long the build took" safe>{`(${(image.build_ms / 1000).toFixed(1)} s)`}</span>
      </td>
      <td data-label="users">
        {image.users.length ? <span safe>{image.users.map(label).join(', ')}</span> : <span class="dim">unused</span>}
      </td>
      <td data-label="packages">
        <span class="dim" safe>{`${image.distribution} ${image.suite} `}</span>
        {pkgs.base ? (
          <span class="dim" title={`the base set: ${base.join(' ')}`}>
            base
          </span>
        ) : (
          ''
        )}
        {pkgs.extra.length ? <span safe>{`${pkgs.base ? ' + ' : ''}${pkgs.extra.join(' ')}`}</span> : ''}
      </td>
    </tr>
  );
}

/**
 * The body of the images section, `#images-body`.
 * @param removed what a prune just removed: a line above the rest says so (only in a prune's answer).
 * @param now unix ms the ages are counted to.
 */
export function ImageList({ state, removed, now = Date.now() }: { state: ImagesState; removed?: readonly RemovedImage[]; now?: number }): JSX.Element {
  const done = removed ? (
    <p class="pruned" role="status" safe>
      {prunedLine(removed)}
    </p>
  ) : (
    ''
  );
  if (state.dir === null)
    return (
      <>
        {done}
        <p class="dim empty" safe>{`no images: ${state.problem ?? 'this core uses none'}`}</p>
      </>
    );
  const total = state.images.reduce((n, i) => n + i.bytes, 0);
  const unused = state.images.some((i) => i.users.length === 0);
  return (
    <>
      {done}
      <p class="images-dir">
        <span class="dim" safe>
          {state.dir}
        </span>
        {state.problem ? <span class="warn" safe>{` cannot build images here: ${state.problem}`}</span> : ''}
      </p>
      {state.images.length === 0 ? (
        <p class="dim empty">no images yet: each is built the first time an agent needs it</p>
      ) : (
        <table class="images">
          <TableHead columns={['image', 'size', 'built', 'users', 'packages']} />
          <tbody>
            {state.images.map((image) => (
              <ImageRow image={image} base={state.base} now={now} />
            ))}
          </tbody>
        </table>
      )}
      <p class="images-total">
        <span safe>{`${state.images.length} image${state.images.length === 1 ? '' : 's'}, ${mib(total)}`}</span>{' '}
        {unused ? <DangerButton {...PRUNE_IMAGES} /> : ''}
      </p>
    </>
  );
}
