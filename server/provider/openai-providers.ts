/**
 * The openai-compatible providers and where they come from: the built-in `openai`, every
 * `providers.<id>` with `type: "openai-compatible"` in the config (kept in step with
 * config/update), and the local servers detected on loopback (server/provider/detect.ts).
 * A configured provider wins over a detected one of the same id.
 */
import type { Config, ProviderConfig } from '../../protocol/index.js';
import type { Logger } from '../log.js';
import type { CredentialStore } from './credentials.js';
import { DETECT_TIMEOUT_MS, LOCAL_SERVERS, loopbackUrl, probe } from './detect.js';
import { OpenAICompatibleProvider, type OpenAISpec } from './openai.js';
import type { ProviderRegistry, ProviderSource } from './registry.js';

export interface OpenAIProvidersDeps {
  config: { get(): Config; onChange(fn: (c: Config) => void): void };
  credentials: Pick<CredentialStore, 'get'>;
  log: Logger;
  registry: Pick<ProviderRegistry, 'add' | 'remove' | 'addSource'>;
}

/** Ids that are never openai-compatible (checked by the config too). */
export const RESERVED_PROVIDER_IDS = ['echo', 'anthropic'];

export class OpenAIProviders implements ProviderSource {
  /** Configured providers (and `openai`), with what their model cache depends on. */
  private configured = new Map<string, { p: OpenAICompatibleProvider; key: string }>();
  private detected = new Map<string, OpenAICompatibleProvider>();
  /** Undefined until detection first runs (at start, or on first need in an in-process server). */
  private detecting?: Promise<void>;

  constructor(private deps: OpenAIProvidersDeps) {
    this.sync();
    deps.config.onChange(() => this.sync());
  }

  private settingsOf(id: string) {
    return (): ProviderConfig => this.deps.config.get().providers?.[id] ?? {};
  }

  private make(spec: OpenAISpec) {
    return new OpenAICompatibleProvider(spec, { settings: this.settingsOf(spec.id), credentials: this.deps.credentials, log: this.deps.log });
  }

  /** Adds, replaces (endpoint changed: the model cache goes) and removes configured providers. */
  private sync() {
    const providers = this.deps.config.get().providers ?? {};
    const want = new Map<string, OpenAISpec>([['openai', { id: 'openai', kind: 'builtin', name: 'OpenAI' }]]);
    for (const [id, s] of Object.entries(providers)) {
      if (s?.type === 'openai-compatible' && id !== 'openai' && !RESERVED_PROVIDER_IDS.includes(id)) want.set(id, { id, kind: 'config', name: id });
    }
    for (const [id, cur] of this.configured) {
      if (!want.has(id)) { this.deps.registry.remove(id); this.configured.delete(id); }
    }
    for (const [id, spec] of want) {
      const s = providers[id] ?? {};
      const key = JSON.stringify([s.baseUrl, s.apiKey, s.headers]);
      if (this.configured.get(id)?.key === key) continue;
      if (this.detected.has(id)) this.detected.delete(id);
      const p = this.make(spec);
      this.configured.set(id, { p, key });
      this.deps.registry.add(p);
    }
  }

  private detectionSettings() {
    const d = this.deps.config.get().providerDetection ?? {};
    const enabled = d.enabled !== false && process.env.AGENTD_DETECT_LOCAL !== '0';
    return { enabled, timeoutMs: d.timeoutMs ?? DETECT_TIMEOUT_MS, ports: d.ports ?? {} };
  }

  /** Looks at every local server's port at once; a provider comes and goes with its server. */
  private async detect() {
    const { enabled, timeoutMs, ports } = this.detectionSettings();
    await Promise.all(LOCAL_SERVERS.map(async (srv) => {
      const port = ports[srv.id] ?? srv.port;
      const models = enabled && !this.configured.has(srv.id) ? await probe(port, timeoutMs) : undefined;
      if (this.configured.has(srv.id)) return; // configured meanwhile: that one is the provider
      if (!models) {
        if (this.detected.delete(srv.id)) this.deps.registry.remove(srv.id);
        return;
      }
      const p = this.make({ id: srv.id, kind: 'detected', name: srv.name, baseUrl: loopbackUrl(port), models });
      const had = this.detected.has(srv.id);
      this.detected.set(srv.id, p);
      this.deps.registry.add(p);
      if (!had) this.deps.log.info({ provider: srv.id, url: loopbackUrl(port), models: models.length }, 'local model server detected');
    }));
  }

  /** Detection at start, in the background (it never delays start-up or holds the process open). */
  start() {
    this.detecting = this.detect().catch((err) => this.deps.log.warn({ err }, 'local provider detection failed'));
  }

  /** Detection's outcome; starts it if nobody has yet (a lazily started core). */
  ready(): Promise<void> {
    if (!this.detecting) this.start();
    return this.detecting!;
  }

  async refresh(force: boolean) {
    if (force) this.start();
    await this.ready();
    const all = [...[...this.configured.values()].map((c) => c.p), ...this.detected.values()];
    // Detected servers just answered `GET /v1/models`: their list is fresh already.
    await Promise.all(all.map((p) => (p.spec.kind === 'detected' ? undefined : p.loadModels(force))));
  }
}
