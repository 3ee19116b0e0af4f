// Approvals over stdio, WebSocket and REST + SSE, answered with tool/approve (the way every
// transport can): allow once, allow always, deny with a reason, timeout, a policy deny rule,
// answering twice, unknown ids. MCP tools (server-everything) ask by default. Transcripts agree.
// The scenario: test/helpers/scenarios/approval.ts (test/conformance/postgres.test.ts runs it on PostgreSQL too).
import t from 'tap';
import { conformance } from '../helpers/conformance.js';
import { approvals } from '../helpers/scenarios/approval.js';

await conformance(t, 'approvals', approvals);
