/** Agents' root filesystems (images built with mmdebstrap) under the `nspawn` runtime (see `images-suite.ts`). */
import { imagesSuite } from './images-suite.ts';

imagesSuite('nspawn');
