/** WebhookStore on the table (entities/webhook.ts): endpoints with their per-tenant limit, events with their deliveries. */
import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { nowIso } from '../../clock.js';
import type { Page } from '../../store.js';
import type { DeliveryState } from '../../webhooks/delivery.js';
import type { WebhookEndpoint } from '../../webhooks/endpoints.js';
import type { RollEndpointResult, StoredEvent, WebhookStore } from '../../webhooks/service.js';
import type { RollSecretResult, SigningSecrets } from '../../signing-secrets.js';
import {
  DELETED_ENDPOINT_RETENTION_S, ENDPOINT_SK_PREFIX, EVENT_SK_PREFIX, WEBHOOK_SHARDS, endpointCountKey, endpointItem, endpointKey, eventIdItem, eventIdKey, eventItem,
  eventKey, secretVersionOf, toEndpoint, toEvent, undispatchedMark, undispatchedShardKey, webhookPartition,
} from './entities/webhook.js';
import { ContentionError, Table } from './table.js';
import { transact, unlessConditionFailed } from './transact.js';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Pages read to list one tenant's endpoints (live ones are ≤ 16; deleted ones linger a day): a bound, not a need. */
const MAX_ENDPOINT_PAGES = 10;
/** Reads and conditional writes one secret roll may take while others roll the same endpoint. */
const ROLL_ATTEMPTS = 3;

export class DynamoWebhookStore implements WebhookStore {
  private readonly table: Table;
  constructor(doc: DynamoDBDocumentClient, tableName: string) {
    this.table = new Table(doc, tableName);
  }

  private check<T extends { ok: boolean }>(out: T & { reason?: string }): T {
    if (!out.ok && out.reason === 'contention') throw new ContentionError('the store is busy; retry');
    return out;
  }

  async createEndpoint(e: WebhookEndpoint, max: number) {
    const out = this.check(
      await transact(this.table.doc, [
        this.table.put(endpointItem(e)),
        {
          Update: {
            TableName: this.table.name,
            Key: endpointCountKey(e.tenant.id),
            UpdateExpression: 'SET #n = if_not_exists(#n, :zero) + :one',
            ConditionExpression: 'attribute_not_exists(#n) OR #n < :max',
            ExpressionAttributeNames: { '#n': 'live' },
            ExpressionAttributeValues: { ':zero': 0, ':one': 1, ':max': max },
          },
        },
      ]),
    );
    return out.ok ? ({ ok: true } as const) : ({ ok: false, code: 'too_many_endpoints' } as const);
  }

  async listEndpoints(tenantId: string): Promise<WebhookEndpoint[]> {
    const out: WebhookEndpoint[] = [];
    let start: Record<string, unknown> | undefined;
    for (let page = 0; page < MAX_ENDPOINT_PAGES; page++) {
      const r = await this.table.doc.send(
        new QueryCommand({
          TableName: this.table.name,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
          FilterExpression: 'attribute_not_exists(deleted_at)',
          ExpressionAttributeValues: { ':pk': webhookPartition(tenantId), ':p': ENDPOINT_SK_PREFIX },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      out.push(...(r.Items ?? []).map(toEndpoint));
      start = r.LastEvaluatedKey;
      if (!start) break;
    }
    return out.sort((a, b) => a.created_at.localeCompare(b.created_at));
  }

  async getEndpoint(tenantId: string, id: string) {
    const i = await this.table.get(endpointKey(tenantId, id));
    return i && !i.deleted_at ? toEndpoint(i) : null;
  }

  async updateSecrets(tenantId: string, id: string, decide: (cur: SigningSecrets) => RollSecretResult): Promise<RollEndpointResult> {
    const key = endpointKey(tenantId, id);
    for (let attempt = 0; attempt < ROLL_ATTEMPTS; attempt++) {
      const i = await this.table.get(key);
      if (!i || i.deleted_at) return { ok: false, code: 'not_found' };
      const version = secretVersionOf(i);
      const r = decide(toEndpoint(i));
      if (!r.ok) return r;
      const s = r.secrets;
      // Over the version decided on, and never onto a deleted endpoint (a delete in between makes this a 404).
      const written = await unlessConditionFailed(
        this.table.doc.send(
          new UpdateCommand({
            TableName: this.table.name,
            Key: key,
            UpdateExpression: 'SET secret = :s, previous_secret = :ps, previous_secret_expires_at = :pe, rolled_at = :at, secret_version = :next',
            ConditionExpression: `attribute_exists(pk) AND attribute_not_exists(deleted_at) AND ${version === 0 ? 'attribute_not_exists(secret_version)' : 'secret_version = :v'}`,
            ExpressionAttributeValues: {
              ':s': s.secret, ':ps': s.previous_secret, ':pe': s.previous_secret_expires_at, ':at': s.rolled_at, ':next': version + 1, ...(version === 0 ? {} : { ':v': version }),
            },
          }),
        ),
      );
      if (written !== null) return { ok: true, endpoint: { ...toEndpoint(i), ...s } };
    }
    return { ok: false, code: 'rotation_in_progress' };
  }

  async deleteEndpoint(tenantId: string, id: string, at: string) {
    const found = await this.getEndpoint(tenantId, id);
    if (!found) return null;
    const out = this.check(
      await transact(this.table.doc, [
        {
          Update: {
            TableName: this.table.name,
            Key: endpointKey(tenantId, id),
            UpdateExpression: 'SET deleted_at = :at, #ttl = :ttl',
            ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(deleted_at)',
            ExpressionAttributeNames: { '#ttl': 'ttl' },
            ExpressionAttributeValues: { ':at': at, ':ttl': Math.floor(Date.parse(at) / 1000) + DELETED_ENDPOINT_RETENTION_S },
          },
        },
        { Update: { TableName: this.table.name, Key: endpointCountKey(tenantId), UpdateExpression: 'SET #n = #n - :one', ConditionExpression: '#n > :zero', ExpressionAttributeNames: { '#n': 'live' }, ExpressionAttributeValues: { ':one': 1, ':zero': 0 } } },
      ]),
    );
    // A concurrent delete got there first: it is gone either way, and only one of them answers with it.
    return out.ok ? found : null;
  }

  async putEvent(e: StoredEvent) {
    const out = this.check(await transact(this.table.doc, [this.table.put(eventIdItem(e)), this.table.put(eventItem(e))]));
    if (out.ok) return { created: true } as const;
    const existing = await this.getEvent(e.tenant.id, e.id);
    if (!existing) throw new Error(`event ${e.id}: refused as existing, then not found`);
    return { created: false, existing } as const;
  }

  async getEvent(tenantId: string, id: string) {
    const pointer = await this.table.get(eventIdKey(tenantId, id));
    if (!pointer) return null;
    const i = await this.table.get({ pk: webhookPartition(tenantId), sk: pointer.event_sk as string });
    return i ? toEvent(i) : null;
  }

  async listEvents(tenantId: string, limit: number, cursor?: string): Promise<Page<StoredEvent>> {
    const pk = webhookPartition(tenantId);
    const page = await this.table.listPartition(pk, EVENT_SK_PREFIX, { limit, newestFirst: true, ...(cursor ? { cursor } : {}) });
    return { items: page.items.map(toEvent), cursor: page.cursor };
  }

  async markDispatched(e: StoredEvent, token: string) {
    await unlessConditionFailed(
      this.table.doc.send(
        new UpdateCommand({
          TableName: this.table.name,
          Key: eventKey(e.tenant.id, e.created_at, e.id),
          UpdateExpression: 'REMOVE gsi3pk, gsi3sk SET dispatch_token = :null',
          ConditionExpression: 'dispatch_token = :token',
          ExpressionAttributeValues: { ':token': token, ':null': null },
        }),
      ),
    );
  }

  async undispatched(beforeIso: string, limit: number) {
    const out: StoredEvent[] = [];
    for (let shard = 0; shard < WEBHOOK_SHARDS && out.length < limit; shard++) {
      out.push(...(await this.table.openByExpiry(undispatchedShardKey(shard), beforeIso, limit - out.length)).map(toEvent));
    }
    return out;
  }

  async saveDelivery(e: StoredEvent, d: DeliveryState, expect: { round: number; attempts: number }, token: string | null) {
    const mark = token ? undispatchedMark(e.id, nowIso()) : null;
    const written = await unlessConditionFailed(
      this.table.doc.send(
        new UpdateCommand({
          TableName: this.table.name,
          Key: eventKey(e.tenant.id, e.created_at, e.id),
          UpdateExpression: `SET deliveries.#ep = :d${mark ? ', dispatch_token = :token, gsi3pk = :g3pk, gsi3sk = :g3sk' : ''}`,
          ConditionExpression: 'deliveries.#ep.#round = :round AND deliveries.#ep.attempts = :attempts',
          ExpressionAttributeNames: { '#ep': d.endpoint_id, '#round': 'round' },
          ExpressionAttributeValues: { ':d': d, ':round': expect.round, ':attempts': expect.attempts, ...(mark ? { ':token': token, ':g3pk': mark.gsi3pk, ':g3sk': mark.gsi3sk } : {}) },
        }),
      ),
    );
    return written !== null;
  }

  async startRound(e: StoredEvent, deliveries: Record<string, DeliveryState>, token: string) {
    const mark = undispatchedMark(e.id, nowIso());
    await this.table.doc.send(
      new UpdateCommand({
        TableName: this.table.name,
        Key: eventKey(e.tenant.id, e.created_at, e.id),
        UpdateExpression: 'SET deliveries = :d, dispatch_token = :token, gsi3pk = :g3pk, gsi3sk = :g3sk',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':d': deliveries, ':token': token, ':g3pk': mark.gsi3pk, ':g3sk': mark.gsi3sk },
      }),
    );
    return { ...e, deliveries, dispatch_token: token };
  }
}
