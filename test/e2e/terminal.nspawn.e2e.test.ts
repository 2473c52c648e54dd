/** The agent's terminal under the `nspawn` runtime (see `terminal-suite.ts`). */
import { terminalSuite } from './terminal-suite.ts';

terminalSuite('nspawn');
