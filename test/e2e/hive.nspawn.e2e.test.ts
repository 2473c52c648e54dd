/** The end-to-end suite of `relay-suite.ts` under the `nspawn` runtime. */
import { relaySuite } from './relay-suite.ts';

relaySuite('nspawn');
