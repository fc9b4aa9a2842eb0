/** Hold entity: a reservation. Indexed by expiry (openHoldsByExpiry) only while open: the index is sparse. */
import { OPEN_HOLD_SHARDS } from '../../../../../../infra/table.js';
import type { Hold } from '../../../holds.js';
import { shardOf, type Key } from './keys.js';

export const holdKey = (id: string): Key => ({ pk: `HOLD#${id}`, sk: 'HOLD' });
export const openHoldShardKey = (shard: number): string => `OPENHOLD#${shard}`;

export function holdItem(h: Hold) {
  return {
    ...holdKey(h.id),
    type: 'hold',
    ...h,
    gsi3pk: openHoldShardKey(shardOf(h.id, OPEN_HOLD_SHARDS)),
    gsi3sk: `${h.expires_at}#${h.id}`,
  };
}

export function toHold(item: Record<string, unknown>): Hold {
  return {
    id: item.id as string,
    startup_id: item.startup_id as string,
    amount_micros: item.amount_micros as number,
    allocations: item.allocations as Hold['allocations'],
    status: item.status as Hold['status'],
    created_at: item.created_at as string,
    expires_at: item.expires_at as string,
    request_hash: item.request_hash as string,
    settled_micros: (item.settled_micros ?? null) as number | null,
    closed_at: (item.closed_at ?? null) as string | null,
    refs: (item.refs ?? {}) as Record<string, string>,
    captured_micros: (item.captured_micros ?? 0) as number,
  };
}
