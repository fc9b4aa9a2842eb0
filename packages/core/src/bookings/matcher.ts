/**
 * The capacity matcher (SPEC §11): from providers' hour items, the spot in force, fill rates and SLA standing,
 * the offers for a quote ask. Pure and deterministic: the same input gives the same offers in the same order,
 * whatever order the input lists things in.
 *
 * Order: price per GPU-hour (the spot of the accelerator, so equal within one), then providers below the 80 %
 * fill target, then SLA standing (meeting the tier, then the higher tier), then the earlier start, then the
 * lower fill, then provider and pool ids (a total order). One offer per pool: its earliest feasible start, never
 * over an hour one of the provider's maintenance windows touches.
 */
import type { MaintenanceWindow, SlaTier } from '../catalog.js';
import { overlapsMs } from './overlap.js';
import { FILL_TARGET_PPM } from '../dashboard.js';
import type { Accelerator } from '../routing.js';
import { HOUR_MS, MAX_HORIZON_DAYS, floorHour, hourKey, hourMs, isWholeHour, poolOf, type CapacityType, type Interconnect, type PoolHour } from './blocks.js';

export const MAX_GPUS_PER_BOOKING = 512;
export const MAX_BOOKING_HOURS = 720;
/** How wide the window of possible starts may be. */
export const MAX_START_WINDOW_HOURS = 14 * 24;
export const MAX_OFFERS = 10;
/** An offer's total stays far inside a safe integer (10^15 micros = 1 billion USD, as every amount). */
export const MAX_OFFER_TOTAL_MICROS = 1_000_000_000_000_000;
const TIER_RANK: Record<SlaTier, number> = { standard: 0, premium: 1, enterprise: 2 };

export interface QuoteAsk {
  accelerator: Accelerator;
  gpus: number;
  hours: number;
  earliest_start: string;
  latest_start: string;
  region?: string | undefined;
  capacity_type?: CapacityType | undefined;
  interconnect?: Interconnect | undefined;
  /** The least SLA tier accepted. */
  sla_tier?: SlaTier | undefined;
}

export interface MatchProvider {
  id: string;
  live: boolean;
  sla_tier: SlaTier;
  /** Meeting its tier over the rolling 30 days. */
  sla_meeting: boolean;
  /** Its maintenance windows (the last capacity report's): no hour they touch is offered. */
  maintenance?: readonly MaintenanceWindow[];
}

export interface MatchInput {
  ask: QuoteAsk;
  hours: readonly PoolHour[];
  providers: readonly MatchProvider[];
  spot_micros_per_gpu_hour: Partial<Record<Accelerator, number>>;
  /** Booked ÷ listed GPU-hours per provider, in ppm (fillByProvider computes it from hour items). */
  fill_ppm: ReadonlyMap<string, number>;
  /** The opaque reference a startup sees instead of the provider's id or name. */
  ref: (providerId: string) => string;
  max_offers?: number;
}

export interface MatchedOffer {
  /** Internal: kept with the quote, never shown. */
  provider_id: string;
  provider_ref: string;
  pool: string;
  start: string;
  end: string;
  gpus: number;
  hours: number;
  price_micros_per_gpu_hour: number;
  total_micros: number;
  sla_tier: SlaTier;
  fill_ppm: number;
  reason: string;
}

/** Why an ask is refused, or null. `nowMs`: a booking starts at the next whole hour at the soonest. */
export function askProblem(ask: QuoteAsk, nowMs: number): string | null {
  if (!isWholeHour(ask.earliest_start) || !isWholeHour(ask.latest_start)) return 'earliest_start and latest_start are whole UTC hours';
  const earliest = Date.parse(ask.earliest_start);
  const latest = Date.parse(ask.latest_start);
  if (earliest > latest) return 'earliest_start is not after latest_start';
  if (earliest < floorHour(nowMs) + HOUR_MS) return 'earliest_start is the next whole hour or later';
  if ((latest - earliest) / HOUR_MS > MAX_START_WINDOW_HOURS) return `latest_start is at most ${MAX_START_WINDOW_HOURS} hours after earliest_start`;
  if (!Number.isInteger(ask.gpus) || ask.gpus < 1 || ask.gpus > MAX_GPUS_PER_BOOKING) return `gpus in [1, ${MAX_GPUS_PER_BOOKING}]`;
  if (!Number.isInteger(ask.hours) || ask.hours < 1 || ask.hours > MAX_BOOKING_HOURS) return `hours in [1, ${MAX_BOOKING_HOURS}]`;
  if (latest + ask.hours * HOUR_MS > floorHour(nowMs) + MAX_HORIZON_DAYS * 24 * HOUR_MS) return `a booking ends within ${MAX_HORIZON_DAYS} days`;
  return null;
}

/** Booked ÷ listed GPU-hours per provider over the hour items given, in ppm (0 when nothing is listed). */
export function fillByProvider(hours: readonly PoolHour[]): Map<string, number> {
  const sums = new Map<string, { listed: number; booked: number }>();
  for (const h of hours) {
    const s = sums.get(h.provider_id) ?? { listed: 0, booked: 0 };
    s.listed += h.listed_gpus;
    s.booked += Math.min(h.booked_gpus, h.listed_gpus);
    sums.set(h.provider_id, s);
  }
  return new Map([...sums].map(([id, s]) => [id, s.listed > 0 ? Math.floor((s.booked * 1_000_000) / s.listed) : 0]));
}

function poolFits(pool: string, ask: QuoteAsk): boolean {
  const p = poolOf(pool);
  return p.accelerator === ask.accelerator && (ask.region === undefined || p.region === ask.region) &&
    (ask.capacity_type === undefined || p.capacity_type === ask.capacity_type) && (ask.interconnect === undefined || p.interconnect === ask.interconnect);
}

/** Some maintenance window of the provider touches this hour (called for every hour item a quote reads). */
function inMaintenance(p: MatchProvider, hour: string): boolean {
  if (!p.maintenance?.length) return false;
  const t = hourMs(hour);
  return p.maintenance.some((w) => overlapsMs(w, t, t + HOUR_MS));
}

/** The earliest start in the window at which every hour of the booking has `gpus` free in this pool, or null. */
function earliestFit(free: ReadonlyMap<string, number>, ask: QuoteAsk): number | null {
  const first = Date.parse(ask.earliest_start);
  const starts = (Date.parse(ask.latest_start) - first) / HOUR_MS + 1;
  // run[i]: how many hours in a row, ending at hour i, have enough free GPUs.
  let run = 0;
  for (let i = 0; i < starts + ask.hours - 1; i++) {
    run = (free.get(hourKey(first + i * HOUR_MS)) ?? 0) >= ask.gpus ? run + 1 : 0;
    if (run >= ask.hours) return first + (i - ask.hours + 1) * HOUR_MS;
  }
  return null;
}

function reasonOf(o: Omit<MatchedOffer, 'reason'>, meeting: boolean): string {
  const fill = `${Math.floor(o.fill_ppm / 10_000)} % filled, ${o.fill_ppm < FILL_TARGET_PPM ? 'below' : 'at or above'} the 80 % target`;
  const sla = `${o.sla_tier} tier ${meeting ? 'met' : 'not met'} over 30 days`;
  return `spot price of the accelerator; provider ${fill}; ${sla}; earliest start with ${o.gpus} GPUs free for ${o.hours} h in this pool`;
}

export function match(input: MatchInput): MatchedOffer[] {
  const { ask } = input;
  const spot = input.spot_micros_per_gpu_hour[ask.accelerator];
  // No spot price, no offer: and a free one could not be held (a hold is for a positive amount).
  if (spot === undefined || spot <= 0) return [];
  const total = BigInt(spot) * BigInt(ask.gpus) * BigInt(ask.hours);
  if (total > BigInt(MAX_OFFER_TOTAL_MICROS)) return [];
  const providers = new Map(input.providers.map((p) => [p.id, p]));
  const eligible = (id: string) => {
    const p = providers.get(id);
    return !!p && p.live && (ask.sla_tier === undefined || TIER_RANK[p.sla_tier] >= TIER_RANK[ask.sla_tier]);
  };
  const pools = new Map<string, { provider_id: string; pool: string; free: Map<string, number> }>();
  for (const h of input.hours) {
    if (!eligible(h.provider_id) || !poolFits(h.pool, ask)) continue;
    const k = `${h.provider_id}#${h.pool}`;
    let p = pools.get(k);
    if (!p) pools.set(k, (p = { provider_id: h.provider_id, pool: h.pool, free: new Map() }));
    // Derived from listed and booked too, so a stale free figure cannot offer more than is there; an hour
    // given twice counts at its least, so the input's order never matters.
    const free = inMaintenance(providers.get(h.provider_id)!, h.hour) ? 0 : Math.min(h.free_gpus, h.listed_gpus - h.booked_gpus);
    p.free.set(h.hour, Math.min(free, p.free.get(h.hour) ?? free));
  }
  const offers: (MatchedOffer & { meeting: boolean })[] = [];
  for (const p of pools.values()) {
    const start = earliestFit(p.free, ask);
    if (start === null) continue;
    const prov = providers.get(p.provider_id)!;
    const base = {
      provider_id: p.provider_id, provider_ref: input.ref(p.provider_id), pool: p.pool,
      start: new Date(start).toISOString(), end: new Date(start + ask.hours * HOUR_MS).toISOString(),
      gpus: ask.gpus, hours: ask.hours, price_micros_per_gpu_hour: spot, total_micros: Number(total),
      sla_tier: prov.sla_tier, fill_ppm: input.fill_ppm.get(p.provider_id) ?? 0,
    };
    offers.push({ ...base, reason: reasonOf(base, prov.sla_meeting), meeting: prov.sla_meeting });
  }
  const below = (o: MatchedOffer) => (o.fill_ppm < FILL_TARGET_PPM ? 0 : 1);
  offers.sort((a, b) =>
    a.price_micros_per_gpu_hour - b.price_micros_per_gpu_hour || below(a) - below(b) || Number(b.meeting) - Number(a.meeting) ||
    TIER_RANK[b.sla_tier] - TIER_RANK[a.sla_tier] || a.start.localeCompare(b.start) || a.fill_ppm - b.fill_ppm ||
    a.provider_id.localeCompare(b.provider_id) || a.pool.localeCompare(b.pool));
  return offers.slice(0, input.max_offers ?? MAX_OFFERS).map(({ meeting: _, ...o }) => o);
}
