/** Offline: SPEC §7 per-request economics, exact in micros, table-driven. */
import { describe, expect, it } from 'vitest';
import { InvariantError, maxCostMicros, requestEconomics } from '../../packages/core/src/index.js';

const H100 = { prompt_tokens_per_gpu_second: 2_000, completion_tokens_per_gpu_second: 50 };

describe('requestEconomics', () => {
  it.each([
    // 1,000 prompt / 2,000 + 100 completion / 50 = 2.5 GPU-s; at 3.60 USD/GPU-h = 0.0025 USD = 2,500 micros
    [1_000, 100, H100, 3_600_000, { gpu_microseconds: 2_500_000, cost_micros: 2_500, provider_micros: 2_125, margin_micros: 375 }],
    [0, 0, H100, 3_600_000, { gpu_microseconds: 0, cost_micros: 0, provider_micros: 0, margin_micros: 0 }],
    // 1 completion token = 0.02 GPU-s at 2.00 USD/GPU-h = 11.11… micros → 11; provider 9.444… → 9
    [0, 1, H100, 2_000_000, { gpu_microseconds: 20_000, cost_micros: 11, provider_micros: 9, margin_micros: 2 }],
    // A third of a GPU-second: 1/3 × 1,000,000 µs → 333,333 µs
    [1, 0, { prompt_tokens_per_gpu_second: 3, completion_tokens_per_gpu_second: 1 }, 3_600_000, { gpu_microseconds: 333_333, cost_micros: 333, provider_micros: 283, margin_micros: 50 }],
  ])('%s prompt + %s completion tokens', (p, c, rates, spot, expected) => {
    const e = requestEconomics(p, c, rates, spot);
    expect(e).toEqual(expected);
    expect(e.provider_micros + e.margin_micros).toBe(e.cost_micros);
  });

  it('rounds half to even at the last step', () => {
    // cost = 1 × 1,800 / 3,600 = 0.5 micro → 0 (even); 3 × … = 1.5 → 2
    expect(requestEconomics(1, 0, { prompt_tokens_per_gpu_second: 1, completion_tokens_per_gpu_second: 1 }, 1_800).cost_micros).toBe(0);
    expect(requestEconomics(3, 0, { prompt_tokens_per_gpu_second: 1, completion_tokens_per_gpu_second: 1 }, 1_800).cost_micros).toBe(2);
  });

  it.each([
    ['a zero declared rate', 1, 1, { prompt_tokens_per_gpu_second: 0, completion_tokens_per_gpu_second: 1 }, 1],
    ['fractional tokens', 1.5, 1, H100, 1],
    ['negative tokens', -1, 1, H100, 1],
    ['a negative spot', 1, 1, H100, -1],
  ])('refuses %s', (_n, p, c, rates, spot) => expect(() => requestEconomics(p, c, rates, spot)).toThrow(InvariantError));
});

describe('maxCostMicros (the hold)', () => {
  it('covers the metered cost of any outcome and is bounded by the context', () => {
    const spot = 2_700_000;
    const hold = maxCostMicros(1_200, 800, 8_192, H100, spot);
    for (const completion of [0, 1, 399, 800]) expect(requestEconomics(1_200, completion, H100, spot).cost_micros).toBeLessThanOrEqual(hold);
    // Prompt bound and max_tokens beyond the context are each capped by it.
    expect(maxCostMicros(8_000, 100_000, 8_192, H100, spot)).toBe(maxCostMicros(8_000, 8_192, 8_192, H100, spot));
    expect(maxCostMicros(50_000, 10, 8_192, H100, spot)).toBe(maxCostMicros(8_192, 10, 8_192, H100, spot));
    // The prompt figure is only a bound: a shorter real prompt may leave room for all of max_tokens.
    expect(requestEconomics(100, 8_000, H100, spot).cost_micros).toBeLessThanOrEqual(maxCostMicros(8_000, 8_000, 8_192, H100, spot));
    // Rounded up: a cost of 11.11 micros holds 12.
    expect(maxCostMicros(0, 1, 8_192, H100, 2_000_000)).toBe(12);
  });

  it('with n choices, each may run to the context: the hold covers n contexts of completion, not one', () => {
    // Prepare: n = 4 choices of max_tokens 8,000 on an 8,192 context: 32,000 completion tokens may come back.
    const spot = 2_700_000;
    // Act
    const hold = maxCostMicros(1_200, 4 * 8_000, 8_192, H100, spot, 4);
    // Assess
    expect(requestEconomics(1_200, 32_000, H100, spot).cost_micros).toBeLessThanOrEqual(hold);
    expect(hold).toBe(maxCostMicros(1_200, 32_000, 32_768, H100, spot));
    // Still capped by the contexts: 4 choices never return more than 4 × 8,192.
    expect(maxCostMicros(1_200, 100_000, 8_192, H100, spot, 4)).toBe(maxCostMicros(1_200, 4 * 8_192, 4 * 8_192, H100, spot));
  });
});
