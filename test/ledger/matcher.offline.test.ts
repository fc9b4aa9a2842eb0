/**
 * The capacity matcher (SPEC §11), offline, over seeded random catalogs: no offer ever needs more GPUs than are
 * free in any hour it covers, none falls outside the ask, the same input (in any order) gives the same offers,
 * and the ordering rules hold (below the 80 % fill target first among equal prices, then SLA standing).
 */
import { describe, expect, it } from 'vitest';
import {
  FILL_TARGET_PPM, HOUR_MS, fillByProvider, hourKey, match, poolKey, poolOf, type MatchInput, type MatchProvider, type Pool, type PoolHour, type QuoteAsk,
} from '../../packages/core/src/index.js';
import { prng } from './world.js';

const T0 = Date.parse('2027-03-01T00:00:00Z');
const ACCS = ['H100', 'A100', 'H200'] as const;
const REGIONS = ['us-east-1', 'eu-west-1'];
const TIERS = ['standard', 'premium', 'enterprise'] as const;

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

/** A window of 30 minutes to 12 hours somewhere in the first 5 days, not on hour boundaries. */
function maintenanceWindow(m: () => number) {
  const start = T0 + Math.floor(m() * 120 * 60) * 60_000;
  return { start: new Date(start).toISOString(), end: new Date(start + (30 + Math.floor(m() * 690)) * 60_000).toISOString() };
}

/** A random world: providers with pools over 10 days of hours, some of it booked, and an ask. */
function randomInput(seed: number): MatchInput {
  const r = prng(seed);
  // Maintenance windows from a stream of their own, so the rest of each seed's world stays as it was.
  const m = prng(seed + 100_000);
  const providers: MatchProvider[] = Array.from({ length: 2 + Math.floor(r() * 8) }, (_, i) => ({
    id: `prv_p${seed}x${i}`, live: r() < 0.85, sla_tier: pick(r, TIERS), sla_meeting: r() < 0.7,
    maintenance: m() < 0.4 ? [maintenanceWindow(m)] : [],
  }));
  const hours: PoolHour[] = [];
  for (const p of providers) {
    for (let k = 0; k < 1 + Math.floor(r() * 4); k++) {
      const pool: Pool = { accelerator: pick(r, ACCS), region: pick(r, REGIONS), availability_zone: 'a', capacity_type: pick(r, ['dedicated', 'shared'] as const), interconnect: pick(r, ['infiniband', 'ethernet'] as const) };
      const from = Math.floor(r() * 48);
      const to = from + Math.floor(r() * 240);
      const listed = 2 + Math.floor(r() * 16);
      for (let h = from; h < to; h++) {
        const booked = r() < 0.2 ? Math.floor(r() * (listed + 1)) : 0;
        // A reduction under bookings: free below zero.
        const shortfall = r() < 0.03 ? 1 + Math.floor(r() * 3) : 0;
        hours.push({ provider_id: p.id, pool: poolKey(pool), hour: hourKey(T0 + h * HOUR_MS), listed_gpus: Math.max(0, listed - shortfall), booked_gpus: booked, free_gpus: listed - shortfall - booked });
      }
    }
  }
  const earliest = T0 + Math.floor(r() * 72) * HOUR_MS;
  const ask: QuoteAsk = {
    accelerator: pick(r, ACCS), gpus: 1 + Math.floor(r() * 8), hours: 1 + Math.floor(r() * 30),
    earliest_start: new Date(earliest).toISOString(), latest_start: new Date(earliest + Math.floor(r() * 48) * HOUR_MS).toISOString(),
    ...(r() < 0.5 ? { region: pick(r, REGIONS) } : {}),
    ...(r() < 0.3 ? { capacity_type: pick(r, ['dedicated', 'shared'] as const) } : {}),
    ...(r() < 0.3 ? { interconnect: pick(r, ['infiniband', 'ethernet'] as const) } : {}),
    ...(r() < 0.3 ? { sla_tier: pick(r, TIERS) } : {}),
  };
  return { ask, hours, providers, spot_micros_per_gpu_hour: { H100: 2_490_000, A100: 1_290_000, H200: 3_500_000 }, fill_ppm: fillByProvider(hours), ref: (id) => `cpr_${id}` };
}

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const r = prng(seed);
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const RANK = { standard: 0, premium: 1, enterprise: 2 };
const SEEDS = Array.from({ length: 400 }, (_, i) => i + 1);

describe('the capacity matcher', () => {
  it('never offers more GPUs than are free in any hour, nor an hour a maintenance window touches, nor outside the ask', () => {
    let offered = 0;
    let underMaintenance = 0;
    for (const seed of SEEDS) {
      const input = randomInput(seed);
      const { ask } = input;
      const free = new Map(input.hours.map((h) => [`${h.provider_id}#${h.pool}#${h.hour}`, h.free_gpus]));
      const providers = new Map(input.providers.map((p) => [p.id, p]));
      for (const o of match(input)) {
        offered++;
        const start = Date.parse(o.start);
        expect(start).toBeGreaterThanOrEqual(Date.parse(ask.earliest_start));
        expect(start).toBeLessThanOrEqual(Date.parse(ask.latest_start));
        expect(Date.parse(o.end) - start).toBe(ask.hours * HOUR_MS);
        expect(o.gpus).toBe(ask.gpus);
        for (let t = start; t < Date.parse(o.end); t += HOUR_MS) expect(free.get(`${o.provider_id}#${o.pool}#${hourKey(t)}`) ?? 0).toBeGreaterThanOrEqual(ask.gpus);
        const pool = poolOf(o.pool);
        expect(pool.accelerator).toBe(ask.accelerator);
        if (ask.region) expect(pool.region).toBe(ask.region);
        if (ask.capacity_type) expect(pool.capacity_type).toBe(ask.capacity_type);
        if (ask.interconnect) expect(pool.interconnect).toBe(ask.interconnect);
        const p = providers.get(o.provider_id)!;
        expect(p.live).toBe(true);
        for (const w of p.maintenance ?? []) expect(Date.parse(w.end) <= start || Date.parse(o.end) <= Date.parse(w.start)).toBe(true);
        if ((p.maintenance ?? []).length > 0) underMaintenance++;
        if (ask.sla_tier) expect(RANK[p.sla_tier]).toBeGreaterThanOrEqual(RANK[ask.sla_tier]);
        expect(o.total_micros).toBe(o.price_micros_per_gpu_hour * ask.gpus * ask.hours);
        expect(o.provider_ref).not.toContain('name');
      }
    }
    // The generator is not vacuous: many asks found offers, many from providers with a window to avoid.
    expect(offered).toBeGreaterThan(250);
    expect(underMaintenance).toBeGreaterThan(50);
  });

  it('is deterministic: the same input in any order gives the same offers', () => {
    for (const seed of SEEDS.slice(0, 150)) {
      const input = randomInput(seed);
      const again = { ...input, hours: shuffled(input.hours, seed * 7), providers: shuffled(input.providers, seed * 13) };
      expect(match(again)).toEqual(match(input));
    }
  });

  it('among equal prices, providers below the 80 % fill target come first, then SLA standing', () => {
    for (const seed of SEEDS) {
      const offers = match(randomInput(seed));
      const providers = new Map(randomInput(seed).providers.map((p) => [p.id, p]));
      for (let i = 1; i < offers.length; i++) {
        const [a, b] = [offers[i - 1]!, offers[i]!];
        expect(a.price_micros_per_gpu_hour).toBeLessThanOrEqual(b.price_micros_per_gpu_hour);
        if (a.price_micros_per_gpu_hour !== b.price_micros_per_gpu_hour) continue;
        const [aBelow, bBelow] = [a.fill_ppm < FILL_TARGET_PPM, b.fill_ppm < FILL_TARGET_PPM];
        expect(aBelow || !bBelow).toBe(true);
        if (aBelow !== bBelow) continue;
        const [pa, pb] = [providers.get(a.provider_id)!, providers.get(b.provider_id)!];
        expect(Number(pa.sla_meeting)).toBeGreaterThanOrEqual(Number(pb.sla_meeting));
        if (pa.sla_meeting === pb.sla_meeting) expect(RANK[pa.sla_tier]).toBeGreaterThanOrEqual(RANK[pb.sla_tier]);
      }
    }
  });

  it('says why: a provider below the target is named as such, and the reply never carries its id', () => {
    const pool = poolKey({ accelerator: 'H100', region: 'us-east-1', availability_zone: 'a', capacity_type: 'dedicated', interconnect: 'infiniband' });
    const hours = (id: string, booked: number): PoolHour[] => Array.from({ length: 10 }, (_, h) => ({ provider_id: id, pool, hour: hourKey(T0 + h * HOUR_MS), listed_gpus: 10, booked_gpus: booked, free_gpus: 10 - booked }));
    const all = [...hours('prv_busy0000', 9), ...hours('prv_idle0000', 1)];
    const offers = match({
      ask: { accelerator: 'H100', gpus: 1, hours: 4, earliest_start: new Date(T0).toISOString(), latest_start: new Date(T0 + 2 * HOUR_MS).toISOString() },
      hours: all, providers: [{ id: 'prv_busy0000', live: true, sla_tier: 'enterprise', sla_meeting: true }, { id: 'prv_idle0000', live: true, sla_tier: 'standard', sla_meeting: true }],
      spot_micros_per_gpu_hour: { H100: 2_000_000 }, fill_ppm: fillByProvider(all), ref: (id) => (id === 'prv_busy0000' ? 'cpr_B' : 'cpr_I'),
    });
    expect(offers.map((o) => o.provider_ref)).toEqual(['cpr_I', 'cpr_B']);
    expect(offers[0]!.reason).toContain('10 % filled, below the 80 % target');
    expect(offers[1]!.reason).toContain('90 % filled, at or above the 80 % target');
    expect(offers[0]).toMatchObject({ start: new Date(T0).toISOString(), total_micros: 8_000_000 });
  });
});
