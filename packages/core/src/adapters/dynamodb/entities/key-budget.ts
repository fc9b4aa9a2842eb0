/**
 * Key budget entities (key-budgets.ts): a period's budget item beside its key (BUDGET#<period id>, written by
 * budget-writes.ts), and the watch of a key with a soft threshold (KEYWATCH#<shard>, sk KEY#<sha256>), which the
 * covenant-check schedule walks by partition. A watch lives from the key's creation to its revocation.
 */
import { KEY_WATCH_SHARDS, type KeyBudgetWatch } from '../../../key-budget-alerts.js';
import { shardOf } from '../../../ids.js';
import type { ApiKeyRecord } from '../../../store.js';
import type { Key } from './keys.js';

export const keyWatchPk = (shard: number): string => `KEYWATCH#${shard}`;
export const keyWatchKey = (keySha256: string): Key => ({ pk: keyWatchPk(shardOf(keySha256, KEY_WATCH_SHARDS)), sk: `KEY#${keySha256}` });

/** The watch a key with a soft threshold carries; null for any other key. */
export function keyWatchItem(k: ApiKeyRecord): Record<string, unknown> | null {
  if (k.budget_soft_micros === null || k.budget_micros === null) return null;
  const w: KeyBudgetWatch = {
    key_id: k.id, key_sha256: k.key_sha256, startup_id: k.tenant_id, budget_micros: k.budget_micros, budget_soft_micros: k.budget_soft_micros, budget_period: k.budget_period,
  };
  return { ...keyWatchKey(k.key_sha256), type: 'key_budget_watch', ...w };
}

export const toKeyWatch = (i: Record<string, unknown>): KeyBudgetWatch => ({
  key_id: i.key_id as string, key_sha256: i.key_sha256 as string, startup_id: i.startup_id as string,
  budget_micros: i.budget_micros as number, budget_soft_micros: i.budget_soft_micros as number, budget_period: (i.budget_period ?? null) as KeyBudgetWatch['budget_period'],
});
