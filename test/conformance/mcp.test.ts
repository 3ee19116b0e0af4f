// MCP servers over stdio, WebSocket and REST + SSE: configure (config/update), list, connect
// (stdio server-everything and server-filesystem, Streamable HTTP server-everything), call their
// tools through the scripted model, disconnect, errors, mcp.updated. Transcripts agree.
// The scenario: test/helpers/scenarios/mcp.ts (test/conformance/postgres.test.ts runs it on PostgreSQL too).
import t from 'tap';
import { conformance } from '../helpers/conformance.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { everythingHttp } from '../helpers/mcp.js';
import { tempDir } from '../helpers/rpc-client.js';
import { mcp } from '../helpers/scenarios/mcp.js';

const web = await everythingHttp();
t.teardown(web.stop);
const files = tempDir('agentd-conf-fs-');
writeFileSync(join(files, 'note.txt'), 'a note\n');

await conformance(t, 'mcp', mcp(web, files));
