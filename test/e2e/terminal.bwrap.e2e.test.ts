/** The agent's terminal under the `bwrap` runtime (see `terminal-suite.ts`). */
import { terminalSuite } from './terminal-suite.ts';

terminalSuite('bwrap');
