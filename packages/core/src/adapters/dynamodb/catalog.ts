/** The routing catalog on the table: one Query per snapshot (see entities/routing.ts). */
import { PutCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { MAX_PROVIDERS, checkProvider, type Catalog, type CatalogSource, type RoutingProvider } from '../../catalog.js';
import { assert } from '../../money.js';
import type { Accelerator } from '../../routing.js';
import { ROUTING_PK, routingProviderItem, spotCurrentKey, spotHistoryKey } from './entities/routing.js';

/** Pages of the routing partition one snapshot may read (1 MB each). */
const MAX_CATALOG_PAGES = 8;

export class DynamoCatalog implements CatalogSource {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async load(): Promise<Catalog> {
    const catalog: Catalog = { providers: [], spot_micros_per_gpu_hour: {} };
    let start: Record<string, unknown> | undefined;
    for (let page = 0; page < MAX_CATALOG_PAGES; page++) {
      const res = await this.doc.send(
        new QueryCommand({ TableName: this.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': ROUTING_PK }, ExclusiveStartKey: start }),
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
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: routingProviderItem(p) }));
  }

  /** Sets the spot price in force from `effectiveAt` and keeps it in the accelerator's history. */
  async setSpotPrice(accelerator: Accelerator, usdPerGpuHourMicros: number, effectiveAt: string): Promise<void> {
    assert(Number.isSafeInteger(usdPerGpuHourMicros) && usdPerGpuHourMicros > 0, 'spot price must be a positive integer of micros per GPU-hour');
    const rec = { type: 'spot_price', accelerator, usd_per_gpu_hour_micros: usdPerGpuHourMicros, effective_at: effectiveAt };
    await this.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: this.tableName, Item: { ...spotHistoryKey(accelerator, effectiveAt), ...rec, type: 'spot_price_history' } } },
          { Put: { TableName: this.tableName, Item: { ...spotCurrentKey(accelerator), ...rec } } },
        ],
      }),
    );
  }
}
