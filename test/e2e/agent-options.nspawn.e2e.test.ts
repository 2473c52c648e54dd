/** env, mounts, /shared and the manager's /logs under the `nspawn` runtime (see `agent-options-suite.ts`). */
import { agentOptionsSuite } from './agent-options-suite.ts';

agentOptionsSuite('nspawn');
