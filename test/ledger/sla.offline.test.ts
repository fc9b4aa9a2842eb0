/** SLA standing and validation verdicts, offline: the pure rules the schedule and the state machine apply. */
import { describe, expect, it } from 'vitest';
import {
  LATENCY_BOUNDS_MS, MIN_SAMPLES_FOR_STANDING, bucketSamples, judgeHandshake, judgeLatency, judgePricing, judgeReliability, judgeThroughput,
  latencyBucket, p95Bound, standing, windowStartHour, type CatalogModel, type ProbeResult, type SlaSample,
} from '../../packages/core/src/index.js';

const NOW = '2026-11-21T12:30:00.000Z';
const sample = (ok: boolean, latency_ms: number | null, at = NOW): SlaSample => ({ provider_id: 'prv_a', endpoint_id: 'e1', source: 'probe', ok, latency_ms, at });
const bucketsOf = (ss: SlaSample[]) => bucketSamples(ss).map((b) => b.bucket);
const probe = (over: Partial<ProbeResult> = {}): ProbeResult => ({ ok: true, detail: 'ok', status: 200, ttft_ms: 50, completion_tokens: 17, decode_ms: 100, total_ms: 160, ...over });
const model: CatalogModel = { model: 'm', kind: 'chat', architecture: 'llama', context_length: 8_192, accelerator: 'H100', prompt_tokens_per_gpu_second: 4_000, completion_tokens_per_gpu_second: 100 };

describe('SLA standing', () => {
  it('latency buckets are [previous bound, bound): a tier threshold is decided exactly', () => {
    expect(latencyBucket(0)).toBe(0);
    expect(latencyBucket(99.9)).toBe(LATENCY_BOUNDS_MS.indexOf(100));
    expect(latencyBucket(100)).toBe(LATENCY_BOUNDS_MS.indexOf(125));
    expect(latencyBucket(10_000_000)).toBe(LATENCY_BOUNDS_MS.length);
    expect(() => latencyBucket(-1)).toThrow();
  });

  it('p95 is the nearest-rank bucket bound', () => {
    // 19 fast (under 100) and 1 slow: the 95th percentile (rank 19 of 20) is still fast.
    const fast = bucketsOf([...Array.from({ length: 19 }, () => sample(true, 80)), sample(true, 900)]);
    const slow = bucketsOf([...Array.from({ length: 18 }, () => sample(true, 80)), sample(true, 900), sample(true, 900)]);
    expect(p95Bound(fast[0]!.latency)).toBe(90);
    expect(p95Bound(slow[0]!.latency)).toBe(1_000);
  });

  it('judges only with enough samples; uptime and p95 against the tier', () => {
    const few = standing('standard', bucketsOf(Array.from({ length: MIN_SAMPLES_FOR_STANDING - 1 }, () => sample(false, null))), NOW);
    const down = standing('premium', bucketsOf([...Array.from({ length: 998 }, () => sample(true, 50)), sample(false, null), sample(false, null)]), NOW);
    const ok = standing('standard', bucketsOf([...Array.from({ length: 995 }, () => sample(true, 450)), ...Array.from({ length: 5 }, () => sample(false, null))]), NOW);
    const slow = standing('enterprise', bucketsOf(Array.from({ length: 40 }, () => sample(true, 100))), NOW);
    expect(few).toMatchObject({ judged: false, meeting: true, uptime_ppm: 0, recent_error_ppm: 1_000_000 });
    expect(down).toMatchObject({ judged: true, meeting: false, uptime_ppm: 998_000 });
    expect(down.reasons[0]).toMatch(/uptime 99\.800 % is under the premium tier's 99\.90 %/);
    expect(ok).toMatchObject({ meeting: true, uptime_ppm: 995_000, latency_ms_p95: 500 });
    expect(slow).toMatchObject({ meeting: false, latency_ms_p95: 125 });
  });

  it('recent errors count the current and previous hour only; the window starts 30 days back', () => {
    const old = '2026-11-21T09:10:00.000Z';
    const s = standing('standard', bucketsOf([...Array.from({ length: 10 }, () => sample(false, null, old)), sample(true, 40), sample(false, null)]), NOW);
    expect(s.recent_error_ppm).toBe(500_000);
    expect(s.errors).toBe(11);
    expect(windowStartHour(NOW)).toBe('2026-10-22T12');
  });
});

describe('validation verdicts', () => {
  it('handshake: a valid token served and a forged one refused with 401/403', () => {
    expect(judgeHandshake(probe(), probe({ ok: false, status: 401, detail: 'answered 401' })).passed).toBe(true);
    expect(judgeHandshake(probe(), probe()).detail).toMatch(/forged relay token was served/);
    expect(judgeHandshake(probe({ ok: false, detail: 'answered 401', status: 401 }), probe({ ok: false, status: 401 })).detail).toMatch(/valid relay token failed: answered 401/);
    expect(judgeHandshake(probe(), probe({ ok: false, status: 500, detail: 'answered 500' })).passed).toBe(false);
  });

  it('reliability: every probe must succeed', () => {
    expect(judgeReliability(Array.from({ length: 20 }, () => probe()), 20)).toEqual({ passed: true, detail: '20 of 20 probe calls succeeded' });
    expect(judgeReliability([...Array.from({ length: 19 }, () => probe()), probe({ ok: false, detail: 'answered 503' })], 20)).toEqual({ passed: false, detail: '1 of 20 probe calls failed (answered 503)' });
  });

  it('throughput: the median decode rate against the declared figure, 20 % below allowed', () => {
    // 17 tokens in 200 ms → 16 gaps / 0.2 s = 80 tokens/s: exactly the floor for 100 declared.
    const at80 = Array.from({ length: 4 }, () => probe({ decode_ms: 200 }));
    const at79 = Array.from({ length: 4 }, () => probe({ decode_ms: 203 }));
    expect(judgeThroughput([{ model, results: at80 }])).toMatchObject({ passed: true });
    expect(judgeThroughput([{ model, results: at79 }]).detail).toBe('m: measured 78.8 tokens/s, declared 100 tokens/s; below the 20 % tolerance (at least 80.0)');
    expect(judgeThroughput([{ model, results: [probe({ completion_tokens: 1 })] }]).passed).toBe(false);
  });

  it('SLA latency: exact p95 under the tier bound', () => {
    const under = [...Array.from({ length: 19 }, () => probe({ ttft_ms: 150 })), probe({ ttft_ms: 900 })];
    expect(judgeLatency(under, 'premium')).toMatchObject({ passed: true });
    expect(judgeLatency([...under.slice(1), probe({ ttft_ms: 199 })], 'premium').detail).toMatch(/^p95 time to first token 199 ms/);
    expect(judgeLatency(Array.from({ length: 20 }, () => probe({ ttft_ms: 200 })), 'premium')).toEqual({ passed: false, detail: "p95 time to first token 200 ms over 20 probes; the premium tier needs under 200 ms" });
  });

  it('pricing review: a spot price must exist, and the implied price must sit within 4× of live peers', () => {
    const peer = { id: 'prv_p', name: 'p', status: 'live' as const, sla_tier: 'standard' as const, sla_meeting: true, recent_error_ppm: 0, listed_gpu_hours_month: 1_000, endpoints: [], models: [model], capacity: [], maintenance: [], updated_at: NOW };
    const catalog = { providers: [peer], spot_micros_per_gpu_hour: { H100: 2_000_000 } };
    expect(judgePricing('prv_a', [{ ...model, completion_tokens_per_gpu_second: 30 }], catalog)).toMatchObject({ passed: true });
    expect(judgePricing('prv_a', [{ ...model, completion_tokens_per_gpu_second: 20 }], catalog).detail).toMatch(/5\.00× the market median/);
    expect(judgePricing('prv_a', [{ ...model, accelerator: 'A100' }], catalog).detail).toMatch(/no spot price is set for A100/);
  });
});
