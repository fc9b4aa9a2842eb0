/** KeyBudgetAlertStore on the table: the watches by partition, a slot's use, and the told mark on the slot's item. */
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { KeyBudgetAlertStore } from '../../key-budget-alerts.js';
import { parseBudgetSlot, periodOfId, periodWindow, type BudgetUse } from '../../key-budgets.js';
import { batchGet } from './batch.js';
import { slotKey } from './budget-writes.js';
import { apiKeyKey } from './entities/api-key.js';
import { keyWatchPk, toKeyWatch } from './entities/key-budget.js';
import { Table } from './table.js';
import { unlessConditionFailed } from './transact.js';

export class DynamoKeyBudgetStore implements KeyBudgetAlertStore {
  private readonly table: Table;
  constructor(doc: DynamoDBDocumentClient, tableName: string) {
    this.table = new Table(doc, tableName);
  }

  /** A page of watches of keys still in use: a revoked key spends nothing more, so its watch is passed over (not deleted: no role here deletes items). */
  async listKeyBudgetWatches(shard: number, limit: number, cursor?: string) {
    const page = await this.table.listPartition(keyWatchPk(shard), 'KEY#', { limit, cursor, consistent: true });
    const watches = page.items.map(toKeyWatch);
    const keys = watches.length === 0 ? [] : await batchGet(this.table.doc, this.table.name, watches.map((w) => apiKeyKey(w.key_sha256)), { consistent: true });
    const live = new Set(keys.filter((k) => k.revoked_at === null || k.revoked_at === undefined).map((k) => k.key_sha256 as string));
    return { items: watches.filter((w) => live.has(w.key_sha256)), cursor: page.cursor };
  }

  async getBudgetUse(slot: string, at: Date): Promise<BudgetUse> {
    const s = parseBudgetSlot(slot);
    const item = await this.table.get(slotKey(s));
    const told = (item?.low_told_at ?? null) as string | null;
    if (s.period_id === null) {
      return { period_id: null, budget_micros: (item?.budget_micros ?? 0) as number, budget_left_micros: (item?.budget_left_micros ?? 0) as number, resets_at: null, low_told_at: told };
    }
    const full = s.budget_micros!;
    return { period_id: s.period_id, budget_micros: full, budget_left_micros: (item?.budget_left_micros ?? full) as number, resets_at: periodWindow(periodOfId(s.period_id), at).resets_at, low_told_at: told };
  }

  async markBudgetLowTold(slot: string, at: string): Promise<boolean> {
    const marked = await unlessConditionFailed(this.table.doc.send(new UpdateCommand({
      TableName: this.table.name, Key: slotKey(parseBudgetSlot(slot)),
      UpdateExpression: 'SET low_told_at = :at', ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(low_told_at)', ExpressionAttributeValues: { ':at': at },
    })));
    return marked !== null;
  }
}
