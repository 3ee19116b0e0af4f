/** The bundled server's entry: `node dist/server/agentd.cjs serve --stdio`. */
import { main } from '../../server/cli.js';

void main();
