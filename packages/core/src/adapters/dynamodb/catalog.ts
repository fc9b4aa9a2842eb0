/**
 * The routing catalog on the table: one Query per snapshot (see entities/routing.ts). The request path reads
 * it through a CachedCatalog (packages/core/src/catalog.ts) keyed to `routingEpoch`: every routing write here,
 * in DynamoProviders and in DynamoSla goes through `routingWrite`, so this process routes on it at once.
 */
import { PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { MAX_PROVIDERS, checkProvider, type Catalog, type CatalogSource, type RoutingProvider } from '../../catalog.js';
import { assert } from '../../money.js';
import type { Accelerator } from '../../routing.js';
import { decodeCursor, encodeCursor, withCursor } from './cursor.js';
import { ROUTING_PK, routingProviderItem, routingWrite, spotCurrentKey, spotHistoryKey } from './entities/routing.js';
export { routingEpoch } from './entities/routing.js';
import { unlessConditionFailed } from './transact.js';

/** Pages of the routing partition one snapshot may read (1 MB each). */
const MAX_CATALOG_PAGES = 8;

export class DynamoCatalog implements CatalogSource {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** A consistent snapshot: a cached copy of it must not be older than the write before it. */
  async load(): Promise<Catalog> {
    const catalog: Catalog = { providers: [], spot_micros_per_gpu_hour: {} };
    let start: Record<string, unknown> | undefined;
    for (let page = 0; page < MAX_CATALOG_PAGES; page++) {
      const res = await this.doc.send(
        new QueryCommand({ TableName: this.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': ROUTING_PK }, ExclusiveStartKey: start, ConsistentRead: true }),
      );
      for (const item of res.Items ?? []) {
        if (item.type === 'routing_provider' && catalog.providers.length < MAX_PROVIDERS) catalog.providers.push(item.provider as RoutingProvider);
        else if (item.type === 'spot_price') catalog.spot_micros_per_gpu_hour[item.accelerator as Accelerator] = item.usd_per_gpu_hour_micros as number;
      }
      start = res.LastEvaluatedKey;
      if (!start) break;
    }
    return catalog;
  }

  /** Writes a provider's routing record whole (onboarding and capacity updates keep it current). */
  async putProvider(p: RoutingProvider): Promise<void> {
    checkProvider(p);
    await routingWrite(this.doc.send(new PutCommand({ TableName: this.tableName, Item: routingProviderItem(p) })));
  }

  /**
   * Sets the spot price in force from `effectiveAt` and keeps it in the accelerator's history. The history
   * entry is always written; the price in force only moves forward in time, so of two racing changes the
   * later one stays in force whichever lands last.
   */
  async setSpotPrice(accelerator: Accelerator, usdPerGpuHourMicros: number, effectiveAt: string): Promise<{ in_force: boolean }> {
    assert(Number.isSafeInteger(usdPerGpuHourMicros) && usdPerGpuHourMicros > 0, 'spot price must be a positive integer of micros per GPU-hour');
    const rec = { type: 'spot_price', accelerator, usd_per_gpu_hour_micros: usdPerGpuHourMicros, effective_at: effectiveAt };
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: { ...spotHistoryKey(accelerator, effectiveAt), ...rec, type: 'spot_price_history' } }));
    const written = await unlessConditionFailed(
      routingWrite(
        this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { ...spotCurrentKey(accelerator), ...rec },
            ConditionExpression: 'attribute_not_exists(pk) OR effective_at <= :at',
            ExpressionAttributeValues: { ':at': effectiveAt },
          }),
        ),
      ),
    );
    return { in_force: written !== null };
  }

  /** An accelerator's price history, newest first. */
  async spotHistory(accelerator: Accelerator, limit: number, cursor?: string): Promise<{ data: SpotPrice[]; next_cursor: string | null }> {
    const pk = spotHistoryKey(accelerator, '').pk;
    const res = await withCursor(cursor !== undefined, () => this.doc.send(
      new QueryCommand({
        TableName: this.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk },
        ScanIndexForward: false, Limit: Math.min(Math.max(limit, 1), 100), ExclusiveStartKey: decodeCursor(cursor, { field: 'pk', value: pk }),
      }),
    ));
    return { data: (res.Items ?? []).map(spotOf), next_cursor: encodeCursor(res.LastEvaluatedKey) };
  }

  /** The price in force at `at`: the latest change at or before it (null before the first). */
  async spotAt(accelerator: Accelerator, at: string): Promise<SpotPrice | null> {
    const res = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName, KeyConditionExpression: 'pk = :pk AND sk <= :sk',
        ExpressionAttributeValues: { ':pk': spotHistoryKey(accelerator, '').pk, ':sk': spotHistoryKey(accelerator, at).sk },
        ScanIndexForward: false, Limit: 1, ConsistentRead: true,
      }),
    );
    const i = res.Items?.[0];
    return i ? spotOf(i) : null;
  }

  /** Every accelerator's price in force. */
  async spotPrices(): Promise<SpotPrice[]> {
    const res = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName, KeyConditionExpression: 'pk = :pk AND begins_with(sk, :s)',
        ExpressionAttributeValues: { ':pk': ROUTING_PK, ':s': 'SPOT#' }, ConsistentRead: true,
      }),
    );
    return (res.Items ?? []).map(spotOf);
  }
}

export interface SpotPrice {
  accelerator: Accelerator;
  usd_per_gpu_hour_micros: number;
  effective_at: string;
}

const spotOf = (i: Record<string, unknown>): SpotPrice => ({ accelerator: i.accelerator as Accelerator, usd_per_gpu_hour_micros: i.usd_per_gpu_hour_micros as number, effective_at: i.effective_at as string });
