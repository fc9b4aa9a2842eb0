/**
 * LeaseStore on the table. Taking a lease is one transaction: the lease item (create-only), the posting
 * available → leased (refused while frozen or short) and the key budget's take. A flush is one: the lease's
 * journal counters and flush count (conditioned on the count it read, and on the lease being open) with the
 * request records (create-only). Closing is one: the lease's open → closed (conditioned on the flush count
 * the journal was read at), the close posting, and each shared bucket the journal names, written once.
 */
import { InvariantError } from '../../money.js';
import { MAX_COUNTERS_PER_FLUSH, MAX_RECORDS_PER_FLUSH, type Journal, type Lease, type LeaseClose } from '../../leases/lease.js';
import type { Posting } from '../../ledger.js';
import { shardOf } from '../../ids.js';
import type { CloseLeaseResult, FlushLeaseResult, LeaseStore, TakeLeaseResult } from '../../store.js';
import { checkUsageRecord, type UsageRecord } from '../../usage.js';
import { budgetItem } from './budget-writes.js';
import { leaseItem, leaseKey, openLeaseShardKey, toJournal, toLease } from './entities/lease.js';
import { spendBucketKey } from './entities/spend-bucket.js';
import { PROVIDER_HOUR_SHARDS, usageRecordItem } from './entities/usage.js';
import { closedAccountRefused, postingItems, takeRefusal } from './posting-writes.js';
import type { Table, Tagged } from './table.js';
import { MAX_TRANSACT_ITEMS, transact, type TransactItem } from './transact.js';
import { providerHourUpdate, usageDayUpdate } from './usage-store.js';


export class DynamoLeaseStore implements LeaseStore {
  constructor(private readonly table: Table) {}

  async takeLease(lease: Lease, posting: Posting): Promise<TakeLeaseResult> {
    const tagged: Tagged[] = [{ tag: 'lease', item: this.table.put(leaseItem(lease)) }, ...postingItems(this.table, posting), ...budgetItem(this.table, lease.budget_key ? { key_sha256: lease.budget_key, take: lease.amount_micros } : null)];
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
    if (counters.size > MAX_COUNTERS_PER_FLUSH || records.length > MAX_RECORDS_PER_FLUSH) throw new InvariantError(`flush of ${counters.size} counters and ${records.length} records exceeds one transaction`);
    const names: Record<string, string> = { '#s': 'status' };
    const values: Record<string, unknown> = { ':open': 'open', ':seq': seq, ':next': seq + 1, ':zero': 0 };
    const sets = ['flush_seq = :next'];
    [...counters].forEach(([k, v], i) => {
      names[`#c${i}`] = k;
      values[`:v${i}`] = v;
      sets.push(`j.#c${i} = if_not_exists(j.#c${i}, :zero) + :v${i}`);
    });
    const items = [
      { Update: { TableName: this.table.name, Key: leaseKey(lease.id), UpdateExpression: `SET ${sets.join(', ')}`, ConditionExpression: '#s = :open AND flush_seq = :seq', ExpressionAttributeNames: names, ExpressionAttributeValues: values, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const } },
      ...records.map((r) => {
        checkUsageRecord(r);
        return this.table.put(usageRecordItem(r));
      }),
    ];
    const out = await transact(this.table.doc, items);
    if (out.ok) return { ok: true, replayed: false };
    if (out.reason === 'contention') return { ok: false, code: 'contention' };
    const now = await this.table.get(leaseKey(lease.id));
    // Our own flush whose reply was lost: the count moved past seq while the lease stayed ours.
    if (now && (now.flush_seq as number) > seq && out.failed.has(0)) return { ok: true, replayed: true };
    if (!now || now.status !== 'open') return { ok: false, code: 'lease_closed' };
    throw new InvariantError(`lease ${lease.id}: flush ${seq} refused (flush_seq ${String(now.flush_seq)}; failed ${[...out.failed.keys()].join(',')})`);
  }

  async getLease(id: string) {
    const item = await this.table.get(leaseKey(id));
    return item ? { lease: toLease(item), journal: toJournal(item), buckets_pending: typeof item.pending_buckets === 'string' } : null;
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
      ...c.burns.map((b): Tagged => ({
        tag: 'spend',
        item: { Update: { TableName: this.table.name, Key: spendBucketKey(b.facility_id, b.hour), UpdateExpression: 'ADD spent_micros :s SET #t = :t, updated_at = :at', ExpressionAttributeNames: { '#t': 'type' }, ExpressionAttributeValues: { ':s': b.spent_micros, ':t': 'spend_bucket', ':at': at } } },
      })),
    ];
  }

  async closeLease(lease: Lease, seq: number, c: LeaseClose, at: string): Promise<CloseLeaseResult> {
    const close: Tagged = {
      tag: 'lease',
      item: {
        Update: {
          TableName: this.table.name, Key: leaseKey(lease.id),
          UpdateExpression: 'SET #s = :closed, closed_at = :at, spent_micros = :spent REMOVE gsi3pk, gsi3sk',
          ConditionExpression: '#s = :open AND flush_seq = :seq',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':closed': 'closed', ':open': 'open', ':at': at, ':seq': seq, ':spent': c.spent_micros },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
    };
    const shared = this.sharedItems(lease, c, at);
    const posting = postingItems(this.table, c.posting);
    // What does not fit beside the posting is left on the lease for follow-ups (it stays on the sweep index until done).
    const room = MAX_TRANSACT_ITEMS - 1 - posting.length;
    const rest = shared.slice(room);
    if (rest.length > 0) {
      const u = close.item.Update!;
      u.UpdateExpression = 'SET #s = :closed, closed_at = :at, spent_micros = :spent, pending_buckets = :pending';
      u.ExpressionAttributeValues = { ...u.ExpressionAttributeValues, ':pending': JSON.stringify(rest.map((t) => t.item)) };
    }
    const tagged: Tagged[] = [close, ...posting, ...shared.slice(0, room)];
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
