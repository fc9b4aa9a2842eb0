/** Capacity blocks (SPEC §6), offline: per pool and hour, summed; what a new report changes; the limits on a report. */
import { describe, expect, it } from 'vitest';
import { HOUR_MS, blocksProblem, hourChanges, hourKey, listedHours, poolKey, reducesHours, type CapacityBlock, type PoolHour } from '../../packages/core/src/index.js';

const T0 = Date.parse('2027-03-01T00:00:00Z');
const iso = (h: number) => new Date(T0 + h * HOUR_MS).toISOString();
const place = { accelerator: 'H100', region: 'us-east-1', availability_zone: 'us-east-1a', capacity_type: 'dedicated', interconnect: 'infiniband' } as const;
const block = (from: number, to: number, gpus: number, over: Partial<CapacityBlock> = {}): CapacityBlock => ({ ...place, start: iso(from), end: iso(to), gpus, ...over });
const POOL = poolKey(place);

describe('capacity blocks', () => {
  it('add up per pool and hour (a burst over a block), from the current hour on', () => {
    const hours = listedHours([block(0, 4, 8), block(2, 6, 4, { burst: true }), block(0, 2, 2, { capacity_type: 'shared' })], T0 + HOUR_MS + 30 * 60_000);
    expect([...hours.get(POOL)!]).toEqual([[hourKey(T0 + HOUR_MS), 8], [hourKey(T0 + 2 * HOUR_MS), 12], [hourKey(T0 + 3 * HOUR_MS), 12], [hourKey(T0 + 4 * HOUR_MS), 4], [hourKey(T0 + 5 * HOUR_MS), 4]]);
    expect([...hours.get(poolKey({ ...place, capacity_type: 'shared' }))!]).toEqual([[hourKey(T0 + HOUR_MS), 2]]);
  });

  it('a new report changes only the hours that differ, zeroes those it no longer lists, and knows a reduction', () => {
    const existing: PoolHour[] = [0, 1, 2].map((h) => ({ provider_id: 'p', pool: POOL, hour: hourKey(T0 + h * HOUR_MS), listed_gpus: 8, booked_gpus: 2, free_gpus: 6 }));
    const same = listedHours([block(0, 3, 8)], T0);
    const grown = listedHours([block(0, 4, 8)], T0);
    const shrunk = listedHours([block(0, 2, 8), block(2, 3, 1)], T0);
    expect(hourChanges(existing, same)).toEqual([]);
    expect(reducesHours(existing, same)).toBe(false);
    expect(hourChanges(existing, grown)).toEqual([{ pool: POOL, hour: hourKey(T0 + 3 * HOUR_MS), listed_gpus: 8, exists: false }]);
    expect(reducesHours(existing, grown)).toBe(false);
    expect(hourChanges(existing, shrunk)).toEqual([{ pool: POOL, hour: hourKey(T0 + 2 * HOUR_MS), listed_gpus: 1, exists: true }]);
    expect(reducesHours(existing, shrunk)).toBe(true);
    expect(hourChanges(existing, new Map()).map((c) => c.listed_gpus)).toEqual([0, 0, 0]);
  });

  it.each([
    ['a start off the hour', [block(0, 2, 1, { start: new Date(T0 + 60_000).toISOString() })], 'whole UTC hours'],
    ['an end before the start', [block(3, 2, 1)], 'start is before end'],
    ['an end past 90 days', [block(0, 90 * 24 + 1, 1)], 'more than 90 days'],
    ['no GPUs', [block(0, 2, 0)], 'gpus in'],
    ['a pool-hour over 4,096 GPUs', Array.from({ length: 5 }, () => block(0, 1, 1_000)), 'at most 4096'],
    ['more than 20,000 pool-hours', Array.from({ length: 12 }, (_, i) => block(0, 90 * 24, 1, { availability_zone: `z${i}` })), 'pool-hours'],
  ])('refuses %s', (_n, blocks, why) => {
    expect(blocksProblem(blocks, T0)).toContain(why);
  });

  it('accepts 90 days of blocks', () => expect(blocksProblem([block(0, 90 * 24, 1_024)], T0)).toBeNull());
});
