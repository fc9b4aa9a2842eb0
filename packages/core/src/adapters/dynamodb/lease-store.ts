/**
 * LeaseStore on the table. Taking a lease is one transaction: the lease item (create-only), the posting
 * available → leased (refused while frozen or short) and the key budget's take. A flush is one transaction: the
 * flush item of its sequence number (create-only), holding its request records and journal counters, and each
 * record's item by id (entities/request.ts, one JSON attribute each) so GET /v1/requests/{id} reads it with one
 * GetItem: one call for a batch of requests, never a record by id without its flush, nor a flush without them.
 * Closing is one transaction: the lease's open → closed, an end marker in the place of the next flush (create-only: a flush that landed since the read makes the close
 * fail, a flush after the close is refused), the close posting with the record pages, and as many of the
 * shared buckets as fit (the rest in conditioned follow-ups).
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { InvariantError, assert } from '../../money.js';
import { MAX_COUNTERS_PER_FLUSH, MAX_RECORDS_PER_FLUSH, MAX_RECORDS_PER_LEASE, type Journal, type Lease, type LeaseClose } from '../../leases/lease.js';
import type { Posting } from '../../ledger.js';
import { newId, shardOf } from '../../ids.js';
import type { CloseLeaseResult, FlushLeaseResult, LeaseStore, TakeLeaseResult } from '../../store.js';
import { checkUsageRecord, type UsageRecord } from '../../usage.js';
import { budgetItem } from './budget-writes.js';
import { addFlushJournal, flushEndItem, flushItem, flushKey, leaseItem, leaseKey, openLeaseShardKey, recordPageItem, toLease } from './entities/lease.js';
import { facilityModelUpdate, spendBucketUpdate } from './entities/spend-bucket.js';
import { PROVIDER_HOUR_SHARDS } from './entities/usage.js';
import { closedAccountRefused, postingItems, takeRefusal } from './posting-writes.js';
import type { Table, Tagged } from './table.js';
import { MAX_TRANSACT_ITEMS, transact, type TransactItem } from './transact.js';
import { hasRequestItem, requestItem } from './entities/request.js';
import { providerHourUpdate, usageDayUpdate } from './usage-store.js';

// A flush is one transaction of its flush item and a record item per request: it must fit one.
assert(MAX_RECORDS_PER_FLUSH + 1 <= MAX_TRANSACT_ITEMS, 'a flush and its records by id fit one transaction');

export class DynamoLeaseStore implements LeaseStore {
  constructor(private readonly table: Table) {}

  async takeLease(lease: Lease, posting: Posting): Promise<TakeLeaseResult> {
    const tagged: Tagged[] = [{ tag: 'lease', item: this.table.put(leaseItem(lease)) }, ...postingItems(this.table, posting), ...budgetItem(this.table, lease.budget_key ? { slot: lease.budget_key, take: lease.amount_micros } : null)];
    const out = await transact(this.table.doc, tagged.map((t) => t.item));
    if (out.ok) return { ok: true };
    if (out.reason === 'contention') return { ok: false, code: 'contention' };
    // Lease ids are random: a refusal of the lease or posting put would be a replay of our own lost reply.
    if (out.failed.has(0) || out.failed.has(1)) {
      const found = await this.table.get(leaseKey(lease.id));
      if (found) return { ok: true };
      throw new InvariantError(`lease ${lease.id}: create refused but not found`);
    }
    return { ok: false, code: await takeRefusal(this.table, tagged, out.failed) };
  }

  async flushLease(lease: Lease, seq: number, counters: Journal, records: readonly UsageRecord[]): Promise<FlushLeaseResult> {
    if (counters.size > MAX_COUNTERS_PER_FLUSH || records.length === 0 || records.length > MAX_RECORDS_PER_FLUSH) throw new InvariantError(`flush of ${counters.size} counters and ${records.length} records is outside one flush item's bounds`);
    for (const r of records) checkUsageRecord(r);
    const flushId = newId('flh');
    const flush = this.table.put(flushItem(lease, seq, flushId, counters, records, records[records.length - 1]!.created_at));
    const byId = records.filter(hasRequestItem).map((r) => this.table.put(requestItem(r), false));
    const out = await transact(this.table.doc, [flush, ...byId]);
    if (out.ok) return { ok: true, replayed: false };
    if (out.reason === 'contention') return { ok: false, code: 'contention' };
    // Only the flush item is conditioned: any refusal is its own.
    const there = await this.table.get(flushKey(lease.id, seq));
    // Our own flush whose reply was lost: its retry met the item it had written.
    if (there?.flush_id === flushId) return { ok: true, replayed: true };
    if (there?.type === 'lease_flush_end') return { ok: false, code: 'lease_closed' };
    throw new InvariantError(`lease ${lease.id}: flush ${seq} refused by ${String(there?.type)} ${String(there?.flush_id)}`);
  }

  /** The lease item and its flushes, in one consistent query of the partition (the flushes sort before the lease). */
  async getLease(id: string) {
    const journal: Journal = new Map();
    const records: UsageRecord[] = [];
    let item: Record<string, unknown> | null = null;
    let flushes = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.table.doc.send(new QueryCommand({ TableName: this.table.name, KeyConditionExpression: 'pk = :pk AND sk <= :lease', ExpressionAttributeValues: { ':pk': leaseKey(id).pk, ':lease': 'LEASE' }, ConsistentRead: true, ExclusiveStartKey: start }));
      for (const i of page.Items ?? []) {
        if (i.sk === 'LEASE') item = i;
        else if (i.type === 'lease_flush') {
          // Bounded while reading: each flush carries at least one of the lease's requests.
          if (++flushes > MAX_RECORDS_PER_LEASE) throw new InvariantError(`lease ${id} has more than ${MAX_RECORDS_PER_LEASE} flushes`);
          addFlushJournal(journal, i);
          records.push(...(JSON.parse(i.records as string) as UsageRecord[]));
        }
      }
      start = page.LastEvaluatedKey;
    } while (start);
    if (!item) return null;
    return { lease: { ...toLease(item), flush_seq: flushes }, journal, records, buckets_pending: typeof item.pending_buckets === 'string' };
  }

  /** Follow-ups of a close whose buckets did not fit its transaction: a chunk at a time, each conditioned on what was left. */
  async finishClose(id: string): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const item = await this.table.get(leaseKey(id));
      const left = item?.pending_buckets;
      if (typeof left !== 'string') return;
      const items = JSON.parse(left) as TransactItem[];
      const chunk = items.slice(0, MAX_TRANSACT_ITEMS - 1);
      const rest = items.slice(chunk.length);
      const update = rest.length > 0
        ? { UpdateExpression: 'SET pending_buckets = :rest', ExpressionAttributeValues: { ':cur': left, ':rest': JSON.stringify(rest) } }
        : { UpdateExpression: 'REMOVE pending_buckets, gsi3pk, gsi3sk', ExpressionAttributeValues: { ':cur': left } };
      const out = await transact(this.table.doc, [{ Update: { TableName: this.table.name, Key: leaseKey(id), ConditionExpression: 'pending_buckets = :cur', ...update } }, ...chunk]);
      if (!out.ok && out.reason === 'contention') return; // the sweeper finishes it
    }
  }

  private sharedItems(lease: Lease, c: LeaseClose, at: string): Tagged[] {
    const hourShard = shardOf(lease.id, PROVIDER_HOUR_SHARDS);
    return [
      ...budgetItem(this.table, c.budget),
      ...c.usage_days.map((d) => usageDayUpdate(this.table, lease.startup_id, d)),
      ...c.provider_hours.map((h) => providerHourUpdate(this.table, h, hourShard)),
      ...c.burns.map((b): Tagged => ({ tag: 'spend', item: spendBucketUpdate(this.table.name, b.facility_id, b.hour, b.spent_micros, at) })),
      ...c.facility_models.map((m): Tagged => ({ tag: 'spend', item: facilityModelUpdate(this.table.name, { facility_id: lease.facility_id, ...m }) })),
    ];
  }

  async closeLease(lease: Lease, seq: number, c: LeaseClose, at: string): Promise<CloseLeaseResult> {
    const close: Tagged = {
      tag: 'lease',
      item: {
        Update: {
          TableName: this.table.name, Key: leaseKey(lease.id),
          UpdateExpression: 'SET #s = :closed, closed_at = :at, spent_micros = :spent, flush_seq = :seq REMOVE gsi3pk, gsi3sk',
          ConditionExpression: '#s = :open',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':closed': 'closed', ':open': 'open', ':at': at, ':seq': seq, ':spent': c.spent_micros },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
    };
    // The end marker takes flush `seq`'s place: a flush that lands first makes the close fail (flush_raced).
    const end: Tagged = { tag: 'flush_end', item: this.table.put(flushEndItem(lease.id, seq, at)) };
    const shared = this.sharedItems(lease, c, at);
    // The record pages go with the posting: settlement reads records and accruals that landed together.
    const posting = [...postingItems(this.table, c.posting), ...c.record_pages.map((p): Tagged => ({ tag: 'records', item: this.table.put(recordPageItem(lease, p)) }))];
    // What does not fit beside the posting is left on the lease for follow-ups (it stays on the sweep index until done).
    const room = MAX_TRANSACT_ITEMS - 2 - posting.length;
    const rest = shared.slice(room);
    if (rest.length > 0) {
      const u = close.item.Update!;
      u.UpdateExpression = 'SET #s = :closed, closed_at = :at, spent_micros = :spent, flush_seq = :seq, pending_buckets = :pending';
      u.ExpressionAttributeValues = { ...u.ExpressionAttributeValues, ':pending': JSON.stringify(rest.map((t) => t.item)) };
    }
    if (room < 0) throw new InvariantError(`closing lease ${lease.id}: posting and ${c.record_pages.length} record pages exceed one transaction`);
    const tagged: Tagged[] = [close, end, ...posting, ...shared.slice(0, room)];
    const out = await transact(this.table.doc, tagged.map((t) => t.item));
    if (out.ok) {
      if (rest.length > 0) await this.finishClose(lease.id);
      return { ok: true, replayed: false };
    }
    if (out.reason === 'contention') return { ok: false, code: 'contention' };
    if (out.failed.has(0) || out.failed.has(1)) {
      const now = await this.table.get(leaseKey(lease.id));
      if (!now) throw new InvariantError(`lease ${lease.id} not found at close`);
      if (now.status === 'closed') return { ok: true, replayed: true };
      return { ok: false, code: 'flush_raced' };
    }
    if (closedAccountRefused(tagged, out.failed)) return { ok: false, code: 'period_closed' };
    throw new InvariantError(`closing lease ${lease.id} failed on ${[...out.failed.keys()].map((i) => tagged[i]?.tag).join(', ')}`);
  }

  async listLeasesToSweep(shard: number, beforeIso: string, limit: number): Promise<Lease[]> {
    return (await this.table.openByExpiry(openLeaseShardKey(shard), beforeIso, limit)).map(toLease);
  }
}
