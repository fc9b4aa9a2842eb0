/** Volume tiers (SPEC §7), offline: exact boundaries in micro-GPU-seconds, the custom rate, the premium's rounding. */
import { describe, expect, it } from 'vitest';
import { GPU_US_PER_HOUR, premiumMicros, volumeTier } from '../../packages/core/src/index.js';

const hours = (h: number) => BigInt(h) * GPU_US_PER_HOUR;

describe('volume tiers', () => {
  it.each([
    [0, 'base', 0],
    [10_000, 'base', 0],
    [10_001, 'tier_2', 200],
    [50_000, 'tier_2', 200],
    [50_001, 'tier_4', 400],
    [200_000, 'tier_4', 400],
  ] as const)('%i GPU-hours → %s (+%i bps)', (h, tier, bps) => {
    expect(volumeTier(hours(h), null)).toEqual({ ok: true, tier, premium_bps: bps });
  });

  it('one micro-GPU-second over a bound moves up a tier', () => {
    expect(volumeTier(hours(10_000) + 1n, null)).toMatchObject({ tier: 'tier_2' });
    expect(volumeTier(hours(50_000) + 1n, null)).toMatchObject({ tier: 'tier_4' });
  });

  it('over 200,000 GPU-hours the operator must have set a custom rate', () => {
    expect(volumeTier(hours(200_001), null)).toEqual({ ok: false, code: 'custom_rate_required', tier: 'custom' });
    expect(volumeTier(hours(200_000) + 1n, 650)).toEqual({ ok: true, tier: 'custom', premium_bps: 650 });
    expect(() => volumeTier(hours(200_001), 5_001)).toThrow();
  });

  it('the premium rounds half to even in micros', () => {
    expect(premiumMicros(1_000_000n, 200)).toBe(20_000n);
    expect(premiumMicros(25n, 200)).toBe(0n); // 0.5 → 0
    expect(premiumMicros(75n, 200)).toBe(2n); // 1.5 → 2
    expect(premiumMicros(125n, 200)).toBe(2n); // 2.5 → 2
  });
});
