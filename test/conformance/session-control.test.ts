// Session control (issue 16) over stdio, WebSocket and REST + SSE: rename and model switch (the
// scripted Anthropic server sees the new model on the next turn), usage and cost with a
// configured price and with a shipped default, paging through 250 messages, a bounded
// session/get, session/list pages and search, fork at a middle message and while a turn runs,
// permission/list. The transcripts must agree modulo ids and times.
// The scenario: test/helpers/scenarios/session-control.ts (test/conformance/postgres.test.ts runs it on PostgreSQL too).
import t from 'tap';
import { conformance } from '../helpers/conformance.js';
import { startAnthropicServer } from '../helpers/anthropic-server.js';
import { control } from '../helpers/scenarios/session-control.js';

const api = await startAnthropicServer();
t.teardown(() => api.close());

await conformance(t, 'session control', control(api), { env: { ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: 'sk-test' } });
