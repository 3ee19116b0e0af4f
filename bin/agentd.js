#!/usr/bin/env node
// The agentd command: runs the compiled server (npm run build, done by `npm install`).
import { main } from '../dist/server/cli.js';

await main();
