/**
 * The logger the provider SDKs (Anthropic, OpenAI) are given, so they log through pino and never
 * through console (stdout carries the protocol in stdio mode). Both SDKs take this shape.
 */
import type { Logger } from '../log.js';

export interface SdkLogger {
  error: (msg: unknown) => void;
  warn: (msg: unknown) => void;
  info: (msg: unknown) => void;
  debug: (msg: unknown) => void;
}

export function sdkLogger(log: Logger, provider: string): SdkLogger {
  return {
    error: (msg) => log.error({ provider }, String(msg)),
    warn: (msg) => log.warn({ provider }, String(msg)),
    info: (msg) => log.debug({ provider }, String(msg)),
    debug: () => {},
  };
}
