/**
 * CovenantStore on the table: one item per facility with covenants, its set and their states, in one of
 * COVENANT_SHARDS partitions (COVENANTS#<shard>, sk FAC#<facility id>) so the schedule reads them all by
 * partition, never by scan. Every write is conditioned on the version it replaces.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { COVENANT_SHARDS, type CovenantSet, type CovenantStore, type PutCovenantsResult } from '../../covenants.js';
import { shardOf } from '../../ids.js';
import { Table } from './table.js';
import { putVersion } from './transact.js';

export const covenantPk = (shard: number): string => `COVENANTS#${shard}`;
export const covenantKey = (facilityId: string) => ({ pk: covenantPk(shardOf(facilityId, COVENANT_SHARDS)), sk: `FAC#${facilityId}` });

function toSet(i: Record<string, unknown>): CovenantSet {
  return {
    facility_id: i.facility_id as string, lender_id: i.lender_id as string, startup_id: i.startup_id as string,
    covenants: i.covenants as CovenantSet['covenants'], states: i.states as CovenantSet['states'], updated_at: i.updated_at as string, version: i.version as number,
  };
}

export class DynamoCovenantStore implements CovenantStore {
  private readonly table: Table;
  constructor(doc: DynamoDBDocumentClient, tableName: string) {
    this.table = new Table(doc, tableName);
  }

  async getCovenants(facilityId: string): Promise<CovenantSet | null> {
    const item = await this.table.get(covenantKey(facilityId));
    return item ? toSet(item) : null;
  }

  async putCovenants(set: CovenantSet): Promise<PutCovenantsResult> {
    const ok = await putVersion(this.table.doc, this.table.name, { ...covenantKey(set.facility_id), type: 'covenant_set', ...set });
    return ok ? { ok: true, set } : { ok: false, code: 'version_conflict' };
  }

  async listCovenantSets(shard: number, limit: number, cursor?: string) {
    const page = await this.table.listPartition(covenantPk(shard), 'FAC#', { limit, cursor, consistent: true });
    return { items: page.items.map(toSet), cursor: page.cursor };
  }
}
