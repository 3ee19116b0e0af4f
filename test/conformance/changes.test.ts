// What the agent changed (issue 18) over stdio, WebSocket and REST + SSE, with the scripted
// Anthropic server: a turn writes one file, edits another and deletes a third through
// run_command; turn.diff and session/diff show exactly those; revert restores the bytes and
// modes (and removes the created file), unrevert puts the turn's result back; revert while a turn
// runs is refused; the workspace's own .git (with hooks and an fsmonitor in its config) is never
// touched; todo_write → plan.updated → session/get; compaction at the threshold (the scripted
// server then sees the summary instead of the old messages) and by session/compact.
// The scenario: test/helpers/scenarios/changes.ts (test/conformance/postgres.test.ts runs it on PostgreSQL too).
import t from 'tap';
import { conformance } from '../helpers/conformance.js';
import { startAnthropicServer } from '../helpers/anthropic-server.js';
import { changes } from '../helpers/scenarios/changes.js';

const api = await startAnthropicServer();
t.teardown(() => api.close());

await conformance(t, 'changes', changes(api), { env: { ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: 'sk-test' } });
