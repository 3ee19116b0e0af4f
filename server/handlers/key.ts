/** key/*: API keys (server/security/keys.ts) over the wire; the manifest marks them admin-only, the dispatcher enforces it. */
import type { HandlerTable } from '../rpc/dispatcher.js';
import { RpcError } from '../rpc/errors.js';
import type { ApiKeys } from '../security/keys.js';

export interface KeyHandlerDeps {
  keys: Pick<ApiKeys, 'list' | 'create' | 'revoke'>;
}

export const keyHandlers = ({ keys }: KeyHandlerDeps) => ({
  'key/list': async () => ({ keys: await keys.list() }),
  'key/create': (p) => keys.create(p.name, { user: p.user, admin: p.admin === true }),
  'key/revoke': async (p) => {
    const revoked = await keys.revoke(p.id);
    if (!revoked) throw RpcError.notFound('key', p.id);
    return { revoked };
  },
}) satisfies Partial<HandlerTable>;
