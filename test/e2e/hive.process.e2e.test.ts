/** The end-to-end suite of `relay-suite.ts` under the `process` runtime. */
import { relaySuite } from './relay-suite.ts';

relaySuite('process');
