/** Isolation and persistence under the `bwrap` runtime (see `sandbox-suite.ts`). */
import { sandboxSuite } from './sandbox-suite.ts';

sandboxSuite('bwrap');
