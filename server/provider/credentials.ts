/**
 * Provider credentials: `credentials.json` in the data directory, mode 0600, one entry per
 * provider (an API key, or OAuth tokens). The file is read on every use, so a key stored by
 * `provider/auth` (or by another agentd process on the same data directory) takes effect
 * without a restart. Nothing here ever logs or returns a secret.
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

type CredentialFile = Record<string, Credential>;

export class CredentialStore {
  readonly file: string;

  constructor(dataDir: string) {
    this.file = join(dataDir, 'credentials.json');
  }

  private read(): CredentialFile {
    if (!existsSync(this.file)) return {};
    try {
      const doc = JSON.parse(readFileSync(this.file, 'utf8')) as unknown;
      return doc && typeof doc === 'object' && !Array.isArray(doc) ? (doc as CredentialFile) : {};
    } catch {
      // A damaged file means no credential; it is rewritten on the next store.
      return {};
    }
  }

  private write(doc: CredentialFile) {
    // Written whole to a temp file created 0600, then renamed: never a readable or half-written file.
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }

  get(providerId: string): Credential | undefined {
    return this.read()[providerId];
  }

  set(providerId: string, cred: Credential) {
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
