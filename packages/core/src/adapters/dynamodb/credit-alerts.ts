/**
 * CreditAlertStore on the table: one item per startup with thresholds, in one of CREDIT_ALERT_SHARDS partitions
 * (CREDITALERTS#<shard>, sk STU#<startup id>) so the schedule reads them by partition. Writes are conditioned on
 * the version they replace.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CREDIT_ALERT_SHARDS, type CreditAlertSet, type CreditAlertStore } from '../../credit-alerts.js';
import { shardOf } from '../../ids.js';
import { Table } from './table.js';
import { putVersion } from './transact.js';

const alertPk = (shard: number): string => `CREDITALERTS#${shard}`;
const alertKey = (startupId: string) => ({ pk: alertPk(shardOf(startupId, CREDIT_ALERT_SHARDS)), sk: `STU#${startupId}` });

const toSet = (i: Record<string, unknown>): CreditAlertSet => ({
  startup_id: i.startup_id as string, alerts: i.alerts as CreditAlertSet['alerts'], states: i.states as CreditAlertSet['states'], updated_at: i.updated_at as string, version: i.version as number,
});

export class DynamoCreditAlertStore implements CreditAlertStore {
  private readonly table: Table;
  constructor(doc: DynamoDBDocumentClient, tableName: string) {
    this.table = new Table(doc, tableName);
  }

  async getCreditAlerts(startupId: string): Promise<CreditAlertSet | null> {
    const item = await this.table.get(alertKey(startupId));
    return item ? toSet(item) : null;
  }

  async putCreditAlerts(set: CreditAlertSet): Promise<{ ok: boolean }> {
    return { ok: await putVersion(this.table.doc, this.table.name, { ...alertKey(set.startup_id), type: 'credit_alert_set', ...set }) };
  }

  async listCreditAlertSets(shard: number, limit: number, cursor?: string) {
    const page = await this.table.listPartition(alertPk(shard), 'STU#', { limit, cursor, consistent: true });
    return { items: page.items.map(toSet), cursor: page.cursor };
  }
}
