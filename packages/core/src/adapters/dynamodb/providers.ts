/**
 * Provider records on the table. Every change to a provider rewrites its routing record (entities/routing.ts)
 * in the same transaction, so what the request path routes on is never behind the provider record.
 * Writes are guarded by a version number (optimistic concurrency): a lost race is retried by the caller.
 */
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { transact, unlessConditionFailed, type TransactItem } from './transact.js';
import { checkProvider, type RoutingProvider } from '../../catalog.js';
import { routingOf, type CapacityReportInput, type CapacityState, type ProviderRecord } from '../../providers.js';
import type { ApiKeyRecord } from '../../store.js';
import { nowIso } from '../../clock.js';
import { firstSecrets, rollSecrets, type RollSecretCode, type SigningSecrets } from '../../signing-secrets.js';
import { apiKeyItem } from './entities/api-key.js';
import { capacityStateKey, providerKey, providerSecretItem, providerSecretKey, toProviderSecrets } from './entities/provider.js';
import { routingProviderItem, routingProviderKey, routingWrite } from './entities/routing.js';

/** Reads and conditional writes one secret roll may take when others roll at once: then the caller is told to retry. */
const ROLL_ATTEMPTS = 3;

export class VersionConflictError extends Error {
  override name = 'VersionConflictError';
}

type Versioned<T> = { value: T; version: number };

export class DynamoProviders {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  private async item(key: { pk: string; sk: string }): Promise<Record<string, unknown> | null> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    return (out.Item as Record<string, unknown> | undefined) ?? null;
  }

  /** One transaction (conflicts retried by transact()); a failed version condition, or lasting contention, is a VersionConflictError. */
  private async send(items: TransactItem[]): Promise<void> {
    const out = await routingWrite(transact(this.doc, items));
    if (!out.ok) throw new VersionConflictError(out.reason === 'contention' ? 'the provider is being changed by others' : 'the provider changed meanwhile');
  }

  /** Application: the profile, its webhook secret, its key (hashed) and a routing record (not live), at once. */
  async create(p: ProviderRecord, key: ApiKeyRecord, webhookSecret: string): Promise<void> {
    const routing = routingOf(p, null, null, p.created_at);
    checkProvider(routing);
    const put = (Item: Record<string, unknown>) => ({ Put: { TableName: this.tableName, Item, ConditionExpression: 'attribute_not_exists(pk)' } });
    await this.send([
      put({ ...providerKey(p.id), type: 'provider', version: 1, provider: p }),
      put(providerSecretItem(p.id, firstSecrets(webhookSecret), 1, p.created_at)),
      put(apiKeyItem(key)),
      put(routingProviderItem(routing)),
    ]);
  }

  async get(id: string): Promise<Versioned<ProviderRecord> | null> {
    const i = await this.item(providerKey(id));
    return i ? { value: i.provider as ProviderRecord, version: i.version as number } : null;
  }

  /** The current capacity-webhook secret (what the provider was last given). */
  async webhookSecret(id: string): Promise<string | null> {
    return (await this.webhookSecrets(id))?.secret ?? null;
  }

  /** The current secret and the one a roll keeps for its overlap (signing-secrets.ts); null for an unknown provider. */
  async webhookSecrets(id: string): Promise<SigningSecrets | null> {
    const i = await this.item(providerSecretKey(id));
    return i ? toProviderSecrets(i).secrets : null;
  }

  /**
   * Rolls the capacity-webhook secret at `at` (signing-secrets.ts decides), written only over the version it was
   * decided on: of two rolls at once one lands, the other is decided again on what it wrote (so it finds the overlap).
   */
  async rollWebhookSecret(id: string, at: string, expiresInS: number): Promise<{ ok: true; secrets: SigningSecrets } | { ok: false; code: RollSecretCode | 'not_found' }> {
    for (let attempt = 0; attempt < ROLL_ATTEMPTS; attempt++) {
      const i = await this.item(providerSecretKey(id));
      if (!i) return { ok: false, code: 'not_found' };
      const cur = toProviderSecrets(i);
      const r = rollSecrets(cur.secrets, at, expiresInS);
      if (!r.ok) return r;
      const written = await unlessConditionFailed(
        this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: providerSecretItem(id, r.secrets, cur.version + 1, cur.created_at),
            ConditionExpression: cur.version === 0 ? 'attribute_exists(pk) AND attribute_not_exists(version)' : 'version = :v',
            ...(cur.version === 0 ? {} : { ExpressionAttributeValues: { ':v': cur.version } }),
          }),
        ),
      );
      if (written !== null) return r;
    }
    return { ok: false, code: 'rotation_in_progress' };
  }

  async routing(id: string): Promise<RoutingProvider | null> {
    return ((await this.item(routingProviderKey(id)))?.provider as RoutingProvider | undefined) ?? null;
  }

  /** Saves a changed profile (if still at `version`) and its routing record, keeping the applied capacity. */
  async save(p: ProviderRecord, version: number): Promise<void> {
    const prev = await this.routing(p.id);
    const routing = routingOf(p, prev, null, p.updated_at);
    checkProvider(routing);
    await this.send([
      {
        Put: {
          TableName: this.tableName,
          Item: { ...providerKey(p.id), type: 'provider', version: version + 1, provider: p },
          ConditionExpression: 'version = :v',
          ExpressionAttributeValues: { ':v': version },
        },
      },
      { Put: { TableName: this.tableName, Item: routingProviderItem(routing) } },
    ]);
  }

  /**
   * Read, change, save under the record's version; a concurrent change is re-read and `change` applied
   * again (at most `attempts` times, then VersionConflictError). Null when the provider does not exist.
   */
  async modify(id: string, change: (p: ProviderRecord, at: string) => ProviderRecord, attempts = 3): Promise<ProviderRecord | null> {
    for (let i = 0; i < attempts; i++) {
      const found = await this.get(id);
      if (!found) return null;
      const next = change(found.value, nowIso());
      try {
        await this.save(next, found.version);
        return next;
      } catch (err) {
        if (!(err instanceof VersionConflictError)) throw err;
      }
    }
    throw new VersionConflictError(`provider ${id} kept changing`);
  }

  async capacityState(id: string): Promise<Versioned<CapacityState>> {
    const i = await this.item(capacityStateKey(id));
    return i ? { value: i.state as CapacityState, version: i.version as number } : { value: { last_applied_reported_at: null, last_applied_at: null, pending: null }, version: 0 };
  }

  /**
   * Stores the consumer's new state; with `apply`, rewrites the routing record's capacity and maintenance
   * from that report in the same transaction. Guarded by the state's version (one consumer per provider
   * thanks to the FIFO group, but a redelivery may overlap). `prev` is the routing record the caller read
   * to decide.
   */
  async saveCapacity(p: ProviderRecord, prev: RoutingProvider | null, state: CapacityState, version: number, apply: CapacityReportInput | null, at: string): Promise<void> {
    const items: TransactItem[] = [
      {
        Put: {
          TableName: this.tableName,
          Item: { ...capacityStateKey(p.id), type: 'capacity_state', version: version + 1, state },
          ConditionExpression: version === 0 ? 'attribute_not_exists(pk)' : 'version = :v',
          ...(version === 0 ? {} : { ExpressionAttributeValues: { ':v': version } }),
        },
      },
    ];
    if (apply) {
      const routing = routingOf(p, prev, apply, at);
      checkProvider(routing);
      items.push({ Put: { TableName: this.tableName, Item: routingProviderItem(routing) } });
    }
    await this.send(items);
  }
}
