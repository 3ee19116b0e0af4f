// The core scenario, written once, over stdio, WebSocket and REST + SSE: sessions, a streamed
// turn, list/get, cancel, delete and the error cases. The transcripts must agree modulo ids and times.
// The scenario: test/helpers/scenarios/core.ts (test/conformance/postgres.test.ts runs it on PostgreSQL too).
import t from 'tap';
import { conformance } from '../helpers/conformance.js';
import { core } from '../helpers/scenarios/core.js';

await conformance(t, 'core scenario', core);
