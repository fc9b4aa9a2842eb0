/**
 * Lease entity: a credit lease and its journal (map attribute `j`, counter name → amount). Indexed by expiry
 * (openHoldsByExpiry, under its own OPENLEASE# shards) only while open: the index is sparse.
 */
import { OPEN_HOLD_SHARDS } from '../../../../../../infra/table.js';
import type { Journal, Lease } from '../../../leases/lease.js';
import { shardOf, type Key } from './keys.js';

export const leaseKey = (id: string): Key => ({ pk: `LEASE#${id}`, sk: 'LEASE' });
export const openLeaseShardKey = (shard: number): string => `OPENLEASE#${shard}`;
export const LEASE_SHARDS = OPEN_HOLD_SHARDS;


export function leaseItem(l: Lease) {
  return {
    ...leaseKey(l.id),
    type: 'lease',
    ...l,
    j: {},
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

export function toJournal(item: Record<string, unknown>): Journal {
  return new Map(Object.entries((item.j ?? {}) as Record<string, number>));
}
