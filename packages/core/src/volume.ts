/**
 * Provider volume premium (SPEC §7) and the revenue calculator.
 *
 * The month's delivered GPU-hours pick one tier, applied to all that month's GPU-hours:
 *   up to 10,000 → +0 %; over 10,000 up to 50,000 → +2 %; over 50,000 up to 200,000 → +4 %;
 *   over 200,000 → the operator's custom rate for that provider.
 * "Over 10,000" is exact in micro-GPU-seconds: 10,000 GPU-hours plus one micro-GPU-second is tier 2
 * (the SPEC's "10,001–50,000" read for fractional hours).
 *
 * The premium is a percentage of the provider's base earnings (85 % of spot): +2 % makes the month's
 * earnings 85 % × 1.02 of spot. It is paid by the marketplace's margin, rounded half to even in micros.
 */
import { assert, divHalfEven } from './money.js';
import { PROVIDER_SHARE_PERCENT } from './pricing.js';
import type { Accelerator } from './routing.js';

export const GPU_US_PER_HOUR = 3_600_000_000n;
export type VolumeTier = 'base' | 'tier_2' | 'tier_4' | 'custom';

export const VOLUME_TIERS: ReadonlyArray<{ tier: VolumeTier; over_gpu_hours: number; premium_bps: number | null }> = [
  { tier: 'base', over_gpu_hours: 0, premium_bps: 0 },
  { tier: 'tier_2', over_gpu_hours: 10_000, premium_bps: 200 },
  { tier: 'tier_4', over_gpu_hours: 50_000, premium_bps: 400 },
  { tier: 'custom', over_gpu_hours: 200_000, premium_bps: null },
];
/** Bounds of an operator's custom premium (0 to +50 %). */
export const MAX_CUSTOM_PREMIUM_BPS = 5_000;

export type TierResult = { ok: true; tier: VolumeTier; premium_bps: number } | { ok: false; code: 'custom_rate_required'; tier: 'custom' };

/** The tier a month's delivered GPU time (micro-GPU-seconds) reaches. */
export function volumeTier(gpuMicroseconds: bigint, customPremiumBps: number | null): TierResult {
  assert(gpuMicroseconds >= 0n, 'delivered GPU time is not negative');
  let t = VOLUME_TIERS[0]!;
  for (const row of VOLUME_TIERS) if (gpuMicroseconds > BigInt(row.over_gpu_hours) * GPU_US_PER_HOUR) t = row;
  if (t.tier !== 'custom') return { ok: true, tier: t.tier, premium_bps: t.premium_bps! };
  if (customPremiumBps === null) return { ok: false, code: 'custom_rate_required', tier: 'custom' };
  assert(Number.isSafeInteger(customPremiumBps) && customPremiumBps >= 0 && customPremiumBps <= MAX_CUSTOM_PREMIUM_BPS, 'custom premium out of range');
  return { ok: true, tier: 'custom', premium_bps: customPremiumBps };
}

/** The premium on a month's base earnings. */
export function premiumMicros(baseEarningsMicros: bigint, premiumBps: number): bigint {
  return divHalfEven(baseEarningsMicros * BigInt(premiumBps), 10_000n);
}

export interface RevenueLine {
  accelerator: Accelerator;
  gpus: number;
  /** Hours a month each GPU is listed. */
  listed_hours: number;
  /** Expected share of listed hours sold, in parts per million (800,000 = the 80 % target). */
  expected_fill_ppm: number;
}

export interface RevenueEstimate {
  lines: Array<RevenueLine & { gpu_hours: number; spot_micros_per_gpu_hour: number; base_earnings_micros: number }>;
  gpu_hours: number;
  tier: VolumeTier;
  premium_bps: number | null;
  base_earnings_micros: number;
  premium_micros: number;
  revenue_micros: number;
  /** Over 200,000 GPU-hours without a custom rate: the premium is the operator's to set, not counted. */
  premium_pending: boolean;
}

/**
 * Expected monthly revenue at the spot prices in force: GPU-hours = GPUs × listed hours × fill; base
 * earnings = 85 % of spot for them; the tier their total reaches; its premium. Exact in micros
 * (GPU-hours are kept in micro-GPU-seconds until the end).
 */
export function estimateRevenue(lines: readonly RevenueLine[], spot: Partial<Record<Accelerator, number>>, customPremiumBps: number | null): RevenueEstimate | { error: 'no_spot_price'; accelerator: Accelerator } {
  let totalUs = 0n;
  let base = 0n;
  const out: RevenueEstimate['lines'] = [];
  for (const l of lines) {
    const price = spot[l.accelerator];
    if (price === undefined) return { error: 'no_spot_price', accelerator: l.accelerator };
    // gpus × hours × fill_ppm / 1e6 hours, in micro-GPU-seconds: × 3.6e9 / 1e6 = × 3,600.
    const us = BigInt(l.gpus) * BigInt(l.listed_hours) * BigInt(l.expected_fill_ppm) * 3_600n;
    const lineBase = divHalfEven(us * BigInt(price) * PROVIDER_SHARE_PERCENT, GPU_US_PER_HOUR * 100n);
    totalUs += us;
    base += lineBase;
    out.push({ ...l, gpu_hours: Number(us) / 3.6e9, spot_micros_per_gpu_hour: price, base_earnings_micros: Number(lineBase) });
  }
  const t = volumeTier(totalUs, customPremiumBps);
  const premium = t.ok ? premiumMicros(base, t.premium_bps) : 0n;
  return {
    lines: out,
    gpu_hours: Number(totalUs) / 3.6e9,
    tier: t.tier,
    premium_bps: t.ok ? t.premium_bps : null,
    base_earnings_micros: Number(base),
    premium_micros: Number(premium),
    revenue_micros: Number(base + premium),
    premium_pending: !t.ok,
  };
}
