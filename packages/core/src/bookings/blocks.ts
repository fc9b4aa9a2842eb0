/**
 * Capacity blocks (SPEC §6, §11): whole GPUs of one accelerator in one region and availability zone,
 * `dedicated` or `shared`, with an interconnect, over hour-aligned [start, end). Burst windows are blocks
 * too (`burst: true`). A provider's blocks are kept per pool (everything but the time) and per UTC hour:
 * the hour items booking conditions on. Pure: no I/O.
 */
import { assert } from '../money.js';
import type { Accelerator } from '../routing.js';

export type CapacityType = 'dedicated' | 'shared';
export type Interconnect = 'infiniband' | 'roce' | 'nvlink' | 'ethernet';

export const HOUR_MS = 3_600_000;
/** How far ahead a block may reach, and so a booking. */
export const MAX_HORIZON_DAYS = 90;
export const MAX_BLOCKS_PER_REPORT = 200;
export const MAX_GPUS_PER_BLOCK = 1_024;
/** Listed GPUs of one pool in one hour, all blocks summed (overlapping blocks, a burst over a block). */
export const MAX_GPUS_PER_POOL_HOUR = 4_096;
/** Pool-hours one report may list: bounds the writes applying it. */
export const MAX_POOL_HOURS_PER_REPORT = 20_000;

export interface CapacityBlock {
  accelerator: Accelerator;
  region: string;
  availability_zone: string;
  capacity_type: CapacityType;
  interconnect: Interconnect;
  start: string;
  end: string;
  gpus: number;
  burst?: boolean;
}

export type Pool = Pick<CapacityBlock, 'accelerator' | 'region' | 'availability_zone' | 'capacity_type' | 'interconnect'>;

/** The pool's name in keys: its fields joined (region and zone names carry no '|', zod checks). */
export const poolKey = (p: Pool): string => [p.accelerator, p.region, p.availability_zone, p.capacity_type, p.interconnect].join('|');

export function poolOf(key: string): Pool {
  const [accelerator, region, availability_zone, capacity_type, interconnect] = key.split('|');
  assert(!!interconnect, `not a pool key: ${key}`);
  return { accelerator: accelerator as Accelerator, region: region!, availability_zone: availability_zone!, capacity_type: capacity_type as CapacityType, interconnect: interconnect as Interconnect };
}

/** `2026-12-07T13`: an hour's name in keys (sortable). */
export const hourKey = (ms: number): string => new Date(ms).toISOString().slice(0, 13);
export const hourMs = (key: string): number => Date.parse(`${key}:00:00.000Z`);
export const isWholeHour = (iso: string): boolean => Number.isFinite(Date.parse(iso)) && Date.parse(iso) % HOUR_MS === 0;
/** The start of the hour `ms` falls in. */
export const floorHour = (ms: number): number => Math.floor(ms / HOUR_MS) * HOUR_MS;

/** Hour keys of [startMs, endMs), both whole hours. */
export function hoursBetween(startMs: number, endMs: number): string[] {
  assert(startMs % HOUR_MS === 0 && endMs % HOUR_MS === 0, 'hour-aligned bounds');
  const out: string[] = [];
  for (let t = startMs; t < endMs; t += HOUR_MS) out.push(hourKey(t));
  return out;
}

/** The GPUs listed per pool and hour by a report's blocks (summed), only for hours at or after `fromMs`. */
export function listedHours(blocks: readonly CapacityBlock[], fromMs: number): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const b of blocks) {
    const pool = poolKey(b);
    let hours = out.get(pool);
    if (!hours) out.set(pool, (hours = new Map()));
    for (const h of hoursBetween(Math.max(Date.parse(b.start), floorHour(fromMs)), Math.max(Date.parse(b.end), floorHour(fromMs)))) hours.set(h, (hours.get(h) ?? 0) + b.gpus);
  }
  return out;
}

/** Why a report's blocks are refused, or null. The webhook's zod schema checks each field; this checks the whole. */
export function blocksProblem(blocks: readonly CapacityBlock[], reportedAtMs: number): string | null {
  if (blocks.length > MAX_BLOCKS_PER_REPORT) return `at most ${MAX_BLOCKS_PER_REPORT} blocks`;
  if (!Number.isFinite(reportedAtMs)) return 'reported_at is not a time';
  const horizon = floorHour(reportedAtMs) + MAX_HORIZON_DAYS * 24 * HOUR_MS;
  let poolHours = 0;
  for (const [i, b] of blocks.entries()) {
    if (!isWholeHour(b.start) || !isWholeHour(b.end)) return `blocks[${i}]: start and end are whole UTC hours`;
    if (Date.parse(b.start) >= Date.parse(b.end)) return `blocks[${i}]: start is before end`;
    if (Date.parse(b.end) > horizon) return `blocks[${i}]: ends more than ${MAX_HORIZON_DAYS} days ahead`;
    if (!Number.isInteger(b.gpus) || b.gpus < 1 || b.gpus > MAX_GPUS_PER_BLOCK) return `blocks[${i}]: gpus in [1, ${MAX_GPUS_PER_BLOCK}]`;
  }
  for (const [pool, hours] of listedHours(blocks, reportedAtMs)) {
    poolHours += hours.size;
    for (const [h, n] of hours) if (n > MAX_GPUS_PER_POOL_HOUR) return `${pool} lists ${n} GPUs at ${h}:00Z (at most ${MAX_GPUS_PER_POOL_HOUR} a pool-hour)`;
  }
  return poolHours > MAX_POOL_HOURS_PER_REPORT ? `${poolHours} pool-hours (at most ${MAX_POOL_HOURS_PER_REPORT} a report)` : null;
}

/** One hour of one pool as stored: listed by the provider, booked, free = listed − booked (negative: a shortfall). */
export interface PoolHour {
  provider_id: string;
  pool: string;
  hour: string;
  listed_gpus: number;
  booked_gpus: number;
  free_gpus: number;
}

/**
 * What applying a report's blocks changes, against the hour items from the current hour on: hours whose listed
 * count changes (new ones are created), and hours no longer listed (set to 0). Hours before now are history.
 */
export function hourChanges(existing: readonly PoolHour[], target: Map<string, Map<string, number>>): { pool: string; hour: string; listed_gpus: number; exists: boolean }[] {
  const out: { pool: string; hour: string; listed_gpus: number; exists: boolean }[] = [];
  const seen = new Set<string>();
  for (const e of existing) {
    const want = target.get(e.pool)?.get(e.hour) ?? 0;
    seen.add(`${e.pool}#${e.hour}`);
    if (want !== e.listed_gpus) out.push({ pool: e.pool, hour: e.hour, listed_gpus: want, exists: true });
  }
  for (const [pool, hours] of target) for (const [hour, n] of hours) if (!seen.has(`${pool}#${hour}`)) out.push({ pool, hour, listed_gpus: n, exists: false });
  return out.sort((a, b) => a.hour.localeCompare(b.hour) || a.pool.localeCompare(b.pool));
}

/** True when the change lowers some hour's listed GPUs: like any capacity reduction it applies at once (SPEC §6). */
export const reducesHours = (existing: readonly PoolHour[], target: Map<string, Map<string, number>>): boolean =>
  existing.some((e) => (target.get(e.pool)?.get(e.hour) ?? 0) < e.listed_gpus);
