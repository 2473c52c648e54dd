/** Isolation and persistence under the `nspawn` runtime (see `sandbox-suite.ts`). */
import { sandboxSuite } from './sandbox-suite.ts';

sandboxSuite('nspawn');
