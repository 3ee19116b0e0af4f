/**
 * Provider credentials: `credentials.json` in the data directory, mode 0600, one entry per
 * provider (an API key, or OAuth tokens). The file is read on every use, so a key stored by
 * `provider/auth` (or by another agentd process on the same data directory) takes effect
 * without a restart. Nothing here ever logs or returns a secret. The same store, typed and named
 * otherwise, keeps MCP servers' OAuth state (`mcp-credentials.json`, server/mcp/auth.ts).
 */
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Credential =
  | { type: 'apiKey'; apiKey: string; storedAt: string }
  | {
      type: 'oauth';
      accessToken: string;
      refreshToken?: string;
      /** Epoch milliseconds; absent when the server gave no expiry. */
      expiresAt?: number;
      storedAt: string;
    };

export class CredentialStore<T = Credential> {
  readonly file: string;

  constructor(dataDir: string, fileName = 'credentials.json') {
    this.file = join(dataDir, fileName);
  }

  private read(): Record<string, T> {
    if (!existsSync(this.file)) return {};
    try {
      const doc = JSON.parse(readFileSync(this.file, 'utf8')) as unknown;
      return doc && typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, T>) : {};
    } catch {
      // A damaged file means no credential; it is rewritten on the next store.
      return {};
    }
  }

  private write(doc: Record<string, T>) {
    // Written whole to a temp file created 0600, then renamed: never a readable or half-written file.
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }

  get(providerId: string): T | undefined {
    return this.read()[providerId];
  }

  set(providerId: string, cred: T) {
    const doc = this.read();
    doc[providerId] = cred;
    this.write(doc);
  }

  delete(providerId: string) {
    const doc = this.read();
    if (!(providerId in doc)) return;
    delete doc[providerId];
    this.write(doc);
  }
}
