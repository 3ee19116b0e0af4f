/** The providers this server offers, by id. */
import type { Provider } from '../../protocol/index.js';
import { RpcError } from '../rpc/errors.js';
import type { ModelProvider } from './types.js';

export class ProviderRegistry {
  private providers = new Map<string, ModelProvider>();

  add(p: ModelProvider) {
    this.providers.set(p.id, p);
    return this;
  }

  has(id: string): boolean {
    return this.providers.has(id);
  }

  get(id: string): ModelProvider {
    const p = this.providers.get(id);
    if (!p) throw RpcError.notFound('provider', id);
    return p;
  }

  list(): Provider[] {
    return [...this.providers.values()].map((p) => p.info());
  }
}
