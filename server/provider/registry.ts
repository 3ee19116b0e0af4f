/** The providers this server offers, by id. */
import type { Provider } from '../../protocol/index.js';
import { RpcError } from '../rpc/errors.js';
import type { ModelProvider } from './types.js';

/** Something that adds and removes providers at run time (config, local detection) and fetches their model lists. */
export interface ProviderSource {
  /** Settles once the source's providers are known (detection at start has finished). */
  ready(): Promise<void>;
  /** Model lists fetched where not yet known; `force`: fetched again, and detection run again. */
  refresh(force: boolean): Promise<void>;
}

export class ProviderRegistry {
  private providers = new Map<string, ModelProvider>();
  private sources: ProviderSource[] = [];

  add(p: ModelProvider) {
    this.providers.set(p.id, p);
    return this;
  }

  remove(id: string) {
    this.providers.delete(id);
  }

  addSource(s: ProviderSource) {
    this.sources.push(s);
  }

  get(id: string): ModelProvider {
    const p = this.providers.get(id);
    if (!p) throw RpcError.notFound('provider', id);
    return p;
  }

  has(id: string) {
    return this.providers.has(id);
  }

  ids(): string[] {
    return [...this.providers.keys()];
  }

  /** Waits until every source knows its providers (bounded: detection has a short timeout). */
  async ready(): Promise<void> {
    await Promise.all(this.sources.map((s) => s.ready()));
  }

  async refresh(force = false): Promise<void> {
    await Promise.all(this.sources.map((s) => s.refresh(force)));
  }

  list(): Provider[] {
    return [...this.providers.values()].map((p) => p.info());
  }
}
