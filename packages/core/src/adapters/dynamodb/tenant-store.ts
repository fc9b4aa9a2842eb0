/** TenantStore on the table: startups, lenders (created with their first key) and API keys, found by their hash. */
import type { ApiKeyRecord, IdempotencyClaim, Lender, Page, Startup, TenantStore } from '../../store.js';
import { apiKeyItem, apiKeyKey, toApiKey } from './entities/api-key.js';
import { keyWatchItem } from './entities/key-budget.js';
import { lenderItem, lenderKey, startupItem, startupKey, toLender, toStartup } from './entities/tenant.js';
import type { DynamoIdempotency } from './idempotency.js';
import { ContentionError, type Table } from './table.js';
import { transact } from './transact.js';

export class DynamoTenantStore implements TenantStore {
  constructor(
    private readonly table: Table,
    private readonly idempotency: DynamoIdempotency,
  ) {}

  async createStartup(s: Startup, idem?: IdempotencyClaim) {
    return this.idempotency.create(s, [{ item: this.table.put(startupItem(s)), tag: 'startup' }], idem, s.created_at);
  }

  async getStartup(id: string) {
    const i = await this.table.get(startupKey(id));
    return i ? toStartup(i) : null;
  }

  async createLender(l: Lender, key: ApiKeyRecord, idem?: IdempotencyClaim) {
    return this.idempotency.create(l, [{ item: this.table.put(lenderItem(l)), tag: 'lender' }, { item: this.table.put(apiKeyItem(key)), tag: 'key' }], idem, l.created_at);
  }

  async getLender(id: string) {
    const i = await this.table.get(lenderKey(id));
    return i ? toLender(i) : null;
  }

  async createApiKey(k: ApiKeyRecord, idem?: IdempotencyClaim) {
    // A key with a soft threshold is watched from the moment it exists (key-budget-alerts.ts).
    const watch = keyWatchItem(k);
    const items = [{ item: this.table.put(apiKeyItem(k)), tag: 'key' }, ...(watch ? [{ item: this.table.put(watch, false), tag: 'key_watch' }] : [])];
    return this.idempotency.create(k, items, idem, k.created_at);
  }

  async findApiKeyByHash(keySha256: string) {
    const i = await this.table.get(apiKeyKey(keySha256));
    return i ? toApiKey(i) : null;
  }

  async listStartupKeys(startupId: string, limit: number, cursor?: string): Promise<Page<ApiKeyRecord>> {
    const page = await this.table.listIndex('byStartup', 'gsi2', `STARTUP#${startupId}`, 'KEY#', { limit, cursor, newestFirst: true });
    return { items: page.items.map(toApiKey), cursor: page.cursor };
  }

  async revokeApiKey(tenantId: string, keySha256: string, at: string): Promise<ApiKeyRecord | null> {
    const out = await transact(this.table.doc, [
      {
        Update: {
          TableName: this.table.name,
          Key: apiKeyKey(keySha256),
          // revoked_at is stored as NULL until revoked; the first revocation's time stands.
          UpdateExpression: 'SET revoked_at = :at',
          ConditionExpression: 'attribute_exists(pk) AND tenant_id = :t AND (attribute_not_exists(revoked_at) OR revoked_at = :null)',
          ExpressionAttributeValues: { ':at': at, ':t': tenantId, ':null': null },
        },
      },
    ]);
    if (!out.ok && out.reason === 'contention') throw new ContentionError('the store is busy; retry');
    const now = await this.table.get(apiKeyKey(keySha256));
    return now ? toApiKey(now) : null;
  }
}
