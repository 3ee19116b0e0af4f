// config/get and config/update over stdio, WebSocket and REST + SSE: secrets redacted, the
// failing field named on a refused update (the old config stays), config.updated, and the change
// in effect for the next session. Transcripts agree.
// The scenario: test/helpers/scenarios/config.ts (test/conformance/postgres.test.ts runs it on PostgreSQL too).
import t from 'tap';
import { conformance } from '../helpers/conformance.js';
import { config } from '../helpers/scenarios/config.js';

await conformance(t, 'config', config);
