/** Idempotency record: written in the same transaction as the effect it guards, holding the first reply. */
import type { IdempotencyClaim } from '../../../store.js';
import type { Key } from './keys.js';

export const idempotencyKey = (scope: string, key: string): Key => ({ pk: `IDEM#${scope}#${key}`, sk: 'IDEM' });

export function idempotencyItem(c: IdempotencyClaim, at: string) {
  return {
    ...idempotencyKey(c.scope, c.key),
    type: 'idempotency',
    request_hash: c.request_hash,
    status_code: c.status_code,
    reply: JSON.stringify(c.reply),
    created_at: at,
  };
}
