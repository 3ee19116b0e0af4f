/**
 * The config document (protocol Config): `config.json` in the data directory, validated on
 * load. Every default lives here, next to the code that applies it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config, Limits } from '../../protocol/index.js';
import { matches } from '../rpc/validate.js';

export const DEFAULT_LIMITS: Required<Limits> = {
  maxSteps: 25,
  maxBodyBytes: 4 * 1024 * 1024,
  maxSubscriptions: 1000,
  maxConcurrentTurns: 256,
  sendBufferBytes: 16 * 1024 * 1024,
  eventRetention: 100_000,
  commandTimeoutMs: 120_000,
};

export class ConfigService {
  private user: Config = {};
  readonly file: string;

  constructor(readonly dataDir: string) {
    this.file = join(dataDir, 'config.json');
    this.user = this.load();
  }

  private load(): Config {
    if (!existsSync(this.file)) return {};
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch (err) {
      throw new Error(`config file ${this.file} is not valid JSON: ${(err as Error).message}`);
    }
    const check = matches('Config', doc);
    if (!check.ok) throw new Error(`config file ${this.file} is invalid: ${check.errors}`);
    return doc as Config;
  }

  /** The effective config. */
  get(): Config {
    return this.user;
  }

  limits(): Required<Limits> {
    return { ...DEFAULT_LIMITS, ...(this.user.limits ?? {}) };
  }

  defaultProvider(): string {
    return this.user.defaultProvider ?? 'echo';
  }
}
