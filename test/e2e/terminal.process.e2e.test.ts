/** The agent's terminal under the `process` runtime (see `terminal-suite.ts`). */
import { terminalSuite } from './terminal-suite.ts';

terminalSuite('process');
