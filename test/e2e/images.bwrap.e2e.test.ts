/** Agents' root filesystems (images built with mmdebstrap) under the `bwrap` runtime (see `images-suite.ts`). */
import { imagesSuite } from './images-suite.ts';

imagesSuite('bwrap');
