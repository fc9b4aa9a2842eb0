/**
 * Figures for the dashboards (SPEC §8), computed from counters the money path keeps exactly:
 * a provider's delivered GPU time per UTC hour and accelerator (written in the transaction that bills
 * each request), its listed capacity (the last applied capacity report) and its SLA hourly counters.
 *
 * Listed capacity: a report's available GPU-hours are the hours listed for a month (routing records keep
 * their sum as listed_gpu_hours_month), so an hour of the day lists 1/720 of them (30 days × 24 hours).
 */
import { assert } from './money.js';
import type { Accelerator } from './routing.js';
import type { MaintenanceWindow, RoutingProvider, SlaTier } from './catalog.js';
import { SLA_TIERS, p95Bound, type SlaBucket } from './sla.js';
import type { PoolHour } from './bookings/blocks.js';

export const FILL_TARGET_PPM = 800_000;
export const MAX_DASHBOARD_DAYS = 31;
export const FORECAST_DAYS = 30;
/** Trailing days whose mean delivered GPU-hours a day is the forecast's demand. */
export const FORECAST_TRAILING_DAYS = 7;
const HOURS_LISTED_PER_MONTH = 720;
const GPU_US_PER_HOUR = 3_600_000_000;
export const FORECAST_METHOD =
  `Listed capacity from the last applied capacity report (monthly GPU-hours ÷ 30 a day), less the hours its maintenance windows take out; ` +
  `expected demand is the mean GPU-hours delivered a day over the trailing ${FORECAST_TRAILING_DAYS} days, held flat and capped at the capacity, ` +
  `and never less than the GPU-hours already booked on the provider's capacity blocks that day (committed demand). ` +
  `Blocks listed (burst windows included) and their booked GPU-hours are shown beside.`;

/** Delivered GPU time of one provider in one UTC hour, per accelerator (µs). */
export interface ProviderHour {
  hour: string; // YYYY-MM-DDTHH
  requests: number;
  gpu_us: Partial<Record<Accelerator, number>>;
  earnings_micros: number;
}

export interface HeatCell {
  accelerator: Accelerator;
  hour_of_day: number;
  delivered_gpu_hours: number;
  listed_gpu_hours: number;
  /** delivered ÷ listed, parts per million; null when nothing is listed. */
  utilization_ppm: number | null;
  /** GPU-hours booked on capacity blocks in this slot over the window (billed ones are in delivered too). */
  booked_gpu_hours: number;
}

export interface Utilization {
  days: number;
  from: string;
  to: string;
  accelerators: Accelerator[];
  heatmap: HeatCell[];
  delivered_gpu_hours: number;
  listed_gpu_hours: number;
  fill_ppm: number | null;
  fill_target_ppm: number;
  daily: { day: string; delivered_gpu_hours: number; requests: number; earnings_micros: number }[];
  /** From now to the forecast's last day: GPU-hours listed as capacity blocks, those booked, and booked ÷ listed (ppm). */
  blocks_ahead: { listed_gpu_hours: number; booked_gpu_hours: number; fill_ppm: number | null };
  forecast: { day: string; listed_gpu_hours: number; expected_gpu_hours: number; blocks_listed_gpu_hours: number; booked_gpu_hours: number }[];
  forecast_method: string;
}

/** Listed and booked GPU-hours of capacity blocks, by `acc#hour-of-day` over [fromMs, toMs] and by UTC day over (toMs, …). */
function blockFigures(blocks: readonly PoolHour[], fromMs: number, toMs: number) {
  const bookedBySlot = new Map<string, number>();
  const byDay = new Map<string, { listed: number; booked: number }>();
  for (const b of blocks) {
    const t = Date.parse(`${b.hour}:00:00.000Z`);
    // A reduction can leave more booked than listed (the bookings are interrupted): count what can be delivered.
    const booked = Math.min(b.booked_gpus, b.listed_gpus);
    if (t >= fromMs - 3_600_000 && t <= toMs) {
      const slot = `${b.pool.split('|')[0]}#${Number(b.hour.slice(11, 13))}`;
      bookedBySlot.set(slot, (bookedBySlot.get(slot) ?? 0) + booked);
    } else if (t > toMs) {
      const d = byDay.get(b.hour.slice(0, 10)) ?? { listed: 0, booked: 0 };
      d.listed += b.listed_gpus;
      d.booked += booked;
      byDay.set(b.hour.slice(0, 10), d);
    }
  }
  return { bookedBySlot, byDay };
}

/** GPU-hours to the micro-GPU-hour (3.6 GPU-ms): small providers' hours stay visible. */
const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

/** Listed GPU-hours a month per accelerator, from the routing record's capacity. */
export function listedPerMonth(p: Pick<RoutingProvider, 'capacity'>): Map<Accelerator, number> {
  const out = new Map<Accelerator, number>();
  for (const c of p.capacity) out.set(c.accelerator, (out.get(c.accelerator) ?? 0) + c.available_gpu_hours);
  return out;
}

/** Hours of [dayStart, dayStart + 24 h) that maintenance windows cover (overlaps counted once). */
export function maintenanceHours(windows: readonly MaintenanceWindow[], dayStartMs: number): number {
  const dayEnd = dayStartMs + 86_400_000;
  const spans = windows
    .map((w) => [Math.max(Date.parse(w.start), dayStartMs), Math.min(Date.parse(w.end), dayEnd)] as const)
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let covered = 0;
  let until = dayStartMs;
  for (const [a, b] of spans) {
    const from = Math.max(a, until);
    if (b > from) covered += b - from;
    until = Math.max(until, b);
  }
  return covered / 3_600_000;
}

/**
 * The provider's utilization over the `days` days up to `nowIso`: a heatmap of accelerator × hour of day,
 * the fill rate against the 80 % target, delivered GPU-hours a day, and the 30-day capacity forecast. `blocks`:
 * its capacity blocks' hour items (SPEC §11) over the window and the forecast's days: the GPU-hours booked in each
 * heatmap slot, and listed and booked a day ahead.
 */
export function utilization(
  hours: readonly ProviderHour[], p: Pick<RoutingProvider, 'capacity' | 'maintenance' | 'endpoints'>, nowIso: string, days: number, blocks: readonly PoolHour[] = [],
): Utilization {
  assert(Number.isInteger(days) && days >= 1 && days <= MAX_DASHBOARD_DAYS, `days in [1, ${MAX_DASHBOARD_DAYS}]`);
  const listed = listedPerMonth(p);
  const accs = new Set<Accelerator>([...listed.keys(), ...p.endpoints.flatMap((e) => e.accelerators), ...blocks.map((b) => b.pool.split('|')[0] as Accelerator)]);
  for (const h of hours) for (const a of Object.keys(h.gpu_us) as Accelerator[]) accs.add(a);
  const accelerators = [...accs].sort();
  const delivered = new Map<string, number>(); // `${acc}#${hourOfDay}` → µs
  const daily = new Map<string, { day: string; delivered_gpu_hours: number; requests: number; earnings_micros: number }>();
  const nowMs = Date.parse(nowIso);
  const fromMs = nowMs - days * 86_400_000;
  const { bookedBySlot, byDay } = blockFigures(blocks, fromMs, nowMs);
  for (const h of hours) {
    const t = Date.parse(`${h.hour}:00:00.000Z`);
    if (t < fromMs - 3_600_000 || t > nowMs) continue;
    const hod = Number(h.hour.slice(11, 13));
    const day = h.hour.slice(0, 10);
    const d = daily.get(day) ?? { day, delivered_gpu_hours: 0, requests: 0, earnings_micros: 0 };
    for (const [acc, us] of Object.entries(h.gpu_us) as [Accelerator, number][]) {
      delivered.set(`${acc}#${hod}`, (delivered.get(`${acc}#${hod}`) ?? 0) + us);
      d.delivered_gpu_hours += us / GPU_US_PER_HOUR;
    }
    d.requests += h.requests;
    d.earnings_micros += h.earnings_micros;
    daily.set(day, d);
  }
  const heatmap: HeatCell[] = [];
  let totalDelivered = 0;
  let totalListed = 0;
  for (const acc of accelerators) {
    const perSlot = ((listed.get(acc) ?? 0) / HOURS_LISTED_PER_MONTH) * days;
    for (let hod = 0; hod < 24; hod++) {
      const gpuHours = (delivered.get(`${acc}#${hod}`) ?? 0) / GPU_US_PER_HOUR;
      totalDelivered += gpuHours;
      totalListed += perSlot;
      heatmap.push({
        accelerator: acc, hour_of_day: hod, delivered_gpu_hours: round6(gpuHours), listed_gpu_hours: round6(perSlot),
        utilization_ppm: perSlot > 0 ? Math.round((gpuHours / perSlot) * 1e6) : null, booked_gpu_hours: bookedBySlot.get(`${acc}#${hod}`) ?? 0,
      });
    }
  }
  // Forecast: capacity a day, less maintenance; demand = trailing mean, capped.
  const dayCapacity = [...listed.values()].reduce((s, v) => s + v, 0) / 30;
  const trailingFrom = new Date(nowMs - FORECAST_TRAILING_DAYS * 86_400_000).toISOString().slice(0, 10);
  const trailing = [...daily.values()].filter((d) => d.day > trailingFrom).reduce((s, d) => s + d.delivered_gpu_hours, 0) / FORECAST_TRAILING_DAYS;
  const today = Date.parse(`${nowIso.slice(0, 10)}T00:00:00.000Z`);
  const forecast = Array.from({ length: FORECAST_DAYS }, (_, i) => {
    const start = today + (i + 1) * 86_400_000;
    const day = new Date(start).toISOString().slice(0, 10);
    const capacity = Math.max(0, dayCapacity * (1 - maintenanceHours(p.maintenance, start) / 24));
    const b = byDay.get(day) ?? { listed: 0, booked: 0 };
    return { day, listed_gpu_hours: round6(capacity), expected_gpu_hours: round6(Math.max(b.booked, Math.min(capacity, trailing))), blocks_listed_gpu_hours: b.listed, booked_gpu_hours: b.booked };
  });
  // From now to the forecast's last day: the rest of today too.
  const lastDay = forecast.at(-1)!.day;
  const ahead = [...byDay].filter(([day]) => day <= lastDay).reduce((s, [, d]) => ({ listed: s.listed + d.listed, booked: s.booked + d.booked }), { listed: 0, booked: 0 });
  return {
    days,
    from: new Date(fromMs).toISOString(),
    to: nowIso,
    accelerators,
    heatmap,
    delivered_gpu_hours: round6(totalDelivered),
    listed_gpu_hours: round6(totalListed),
    fill_ppm: totalListed > 0 ? Math.round((totalDelivered / totalListed) * 1e6) : null,
    fill_target_ppm: FILL_TARGET_PPM,
    daily: [...daily.values()].sort((a, b) => a.day.localeCompare(b.day)).map((d) => ({ ...d, delivered_gpu_hours: round6(d.delivered_gpu_hours) })),
    blocks_ahead: { listed_gpu_hours: ahead.listed, booked_gpu_hours: ahead.booked, fill_ppm: ahead.listed > 0 ? Math.round((ahead.booked / ahead.listed) * 1e6) : null },
    forecast,
    forecast_method: FORECAST_METHOD,
  };
}

export interface SlaDay {
  day: string;
  samples: number;
  errors: number;
  uptime_ppm: number | null;
  latency_ms_p95: number | null;
  /** Whether that day alone met the tier; null with no samples. */
  met: boolean | null;
}

/** The SLA window day by day, for the compliance chart (the standing itself is judged on all 30 days). */
export function slaDaily(tier: SlaTier, buckets: readonly SlaBucket[]): SlaDay[] {
  const terms = SLA_TIERS[tier];
  const byDay = new Map<string, SlaBucket>();
  for (const b of buckets) {
    const day = b.hour.slice(0, 10);
    const d = byDay.get(day) ?? { hour: day, samples: 0, errors: 0, latency: b.latency.map(() => 0) };
    d.samples += b.samples;
    d.errors += b.errors;
    b.latency.forEach((n, i) => (d.latency[i] = (d.latency[i] ?? 0) + n));
    byDay.set(day, d);
  }
  return [...byDay.values()]
    .sort((a, b) => a.hour.localeCompare(b.hour))
    .map((d) => {
      // The same arithmetic as standing(): uptime floored, p95 as its bucket's upper bound.
      const uptime = d.samples > 0 ? Math.floor(((d.samples - d.errors) * 1_000_000) / d.samples) : null;
      const p95 = p95Bound(d.latency);
      const met = uptime === null ? null : uptime >= terms.uptime_ppm && (p95 === null || p95 <= terms.latency_ms_p95);
      return { day: d.hour, samples: d.samples, errors: d.errors, uptime_ppm: uptime, latency_ms_p95: p95 === Infinity ? null : p95, met };
    });
}
