/**
 * Lease entities, all in the lease's partition: the lease (indexed by expiry, openHoldsByExpiry under its own
 * OPENLEASE# shards, only while open: the index is sparse); its flushes (FLUSH#<seq>, each a batch of request
 * records and the journal counters they add; the close takes the next seq's place with an end marker); and,
 * once closed, its billed records by provider and month (RECORDS#…, on the usageByProviderMonth index).
 */
import { OPEN_HOLD_SHARDS } from '../../../../../../infra/table.js';
import { ACCRUAL_SHARDS } from '../../../ledger.js';
import type { Journal, Lease, RecordPage } from '../../../leases/lease.js';
import type { UsageRecord } from '../../../usage.js';
import { shardOf, type Key } from './keys.js';
import { providerMonthPk } from './usage.js';

export const leaseKey = (id: string): Key => ({ pk: `LEASE#${id}`, sk: 'LEASE' });
/** Zero-padded so the flushes sort in order, and before 'LEASE' (one query reads the lease and its flushes). */
export const flushKey = (leaseId: string, seq: number): Key => ({ pk: `LEASE#${leaseId}`, sk: `FLUSH#${String(seq).padStart(8, '0')}` });

export function flushItem(lease: Lease, seq: number, flushId: string, counters: Journal, records: readonly UsageRecord[], at: string) {
  // JSON strings, not maps and lists: DynamoDB Local spends its CPU per attribute, and nothing reads them by part.
  return { ...flushKey(lease.id, seq), type: 'lease_flush', lease_id: lease.id, startup_id: lease.startup_id, seq, flush_id: flushId, j: JSON.stringify(Object.fromEntries(counters)), records: JSON.stringify(records), created_at: at };
}

/** The close's marker in the place of the next flush: a flush arriving after the close is refused by it. */
export const flushEndItem = (leaseId: string, seq: number, at: string) => ({ ...flushKey(leaseId, seq), type: 'lease_flush_end', lease_id: leaseId, seq, created_at: at });

export function recordPageItem(lease: Lease, p: RecordPage) {
  const shard = shardOf(lease.id, ACCRUAL_SHARDS);
  return {
    pk: `LEASE#${lease.id}`, sk: `RECORDS#${p.provider_id}#${p.period}#${p.n}`, type: 'record_page', lease_id: lease.id, provider_id: p.provider_id, period: p.period,
    records: JSON.stringify(p.records),
    // index: usageByProviderMonth (the accrual shard is the lease's, as its close posting's)
    gsi5pk: providerMonthPk(p.provider_id, p.period, shard), gsi5sk: `${lease.created_at}#${lease.id}#${p.n}`,
  };
}
export const openLeaseShardKey = (shard: number): string => `OPENLEASE#${shard}`;
export const LEASE_SHARDS = OPEN_HOLD_SHARDS;


export function leaseItem(l: Lease) {
  return {
    ...leaseKey(l.id),
    type: 'lease',
    ...l,
    gsi3pk: openLeaseShardKey(shardOf(l.id, LEASE_SHARDS)),
    gsi3sk: `${l.expires_at}#${l.id}`,
  };
}

export function toLease(item: Record<string, unknown>): Lease {
  return {
    id: item.id as string,
    holder_id: item.holder_id as string,
    startup_id: item.startup_id as string,
    facility_id: item.facility_id as string,
    budget_key: (item.budget_key ?? null) as string | null,
    amount_micros: item.amount_micros as number,
    created_at: item.created_at as string,
    reserve_until: item.reserve_until as string,
    expires_at: item.expires_at as string,
    status: item.status as Lease['status'],
    flush_seq: item.flush_seq as number,
  };
}

/** Sums the journals of a lease's flushes. */
export function addFlushJournal(j: Journal, flush: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(JSON.parse(flush.j as string) as Record<string, number>)) j.set(k, (j.get(k) ?? 0) + v);
}
