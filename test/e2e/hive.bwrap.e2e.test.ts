/** The end-to-end suite of `relay-suite.ts` under the `bwrap` runtime. */
import { relaySuite } from './relay-suite.ts';

relaySuite('bwrap');
