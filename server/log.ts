/**
 * Structured logs (pino) to stderr only: in stdio mode stdout carries the protocol.
 * Secrets are redacted by key name wherever they appear in a logged object.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

const REDACT = [
  'apiKey', '*.apiKey', '*.*.apiKey', 'key', '*.key', 'token', '*.token', 'accessToken', '*.accessToken',
  'refreshToken', '*.refreshToken', 'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization',
  'params.apiKey', 'params.code', 'secret', '*.secret',
];

/** `fd`: where the lines go, stderr by default (an in-process server logs to a file: server/embedded.ts). */
export function createLogger(level = process.env.AGENTD_LOG_LEVEL ?? 'info', fd = 2): Logger {
  return pino(
    { name: 'agentd', level, redact: { paths: REDACT, censor: '[redacted]' }, base: { pid: process.pid } },
    pino.destination({ fd, sync: false }),
  );
}
