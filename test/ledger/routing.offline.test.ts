/** Offline: SPEC §5 candidate filtering and ranking, and the circuit breaker. */
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, rankCandidates, type ProviderOffer } from '../../packages/core/src/index.js';

const offer = (id: string, over: Partial<ProviderOffer> = {}): ProviderOffer => ({
  provider_id: `prv_${id}`, endpoint_id: `ep_${id}`, status: 'live', models: ['llama'], accelerator: 'H100', region: 'us-east-1',
  available_gpu_hours: 100, listed_gpu_hours_month: 5_000, maintenance: [], sla_meeting: true, recent_error_ppm: 0, price_micros: 2_000_000, ...over,
});
const now = '2026-11-21T12:00:00.000Z';
const closed = () => 'closed' as const;
const order = (offers: ProviderOffer[], region?: string) => rankCandidates(offers, { model: 'llama', now, circuit: closed, ...(region ? { region } : {}) }).ranked.map((o) => o.endpoint_id);

describe('candidates', () => {
  it.each([
    ['not live', { status: 'integration' as const }, 'not_live'],
    ['not serving the model', { models: ['mistral'] }, 'model_not_served'],
    ['in a maintenance window', { maintenance: [{ start: '2026-11-21T11:00:00.000Z', end: '2026-11-21T13:00:00.000Z' }] }, 'in_maintenance'],
    ['out of capacity', { available_gpu_hours: 0 }, 'no_capacity'],
  ])('excludes a provider %s', (_n, over, reason) => {
    const r = rankCandidates([offer('a', over), offer('b')], { model: 'llama', now, circuit: closed });
    expect(r.ranked.map((o) => o.endpoint_id)).toEqual(['ep_b']);
    expect(r.excluded).toEqual([{ provider_id: 'prv_a', endpoint_id: 'ep_a', reason }]);
  });

  it('keeps a provider whose maintenance window has ended', () => {
    expect(order([offer('a', { maintenance: [{ start: '2026-11-21T10:00:00.000Z', end: '2026-11-21T12:00:00.000Z' }] })])).toEqual(['ep_a']);
  });

  it('excludes an endpoint whose circuit is open', () => {
    const r = rankCandidates([offer('a'), offer('b')], { model: 'llama', now, circuit: (id) => (id === 'ep_a' ? 'open' : 'closed') });
    expect(r.ranked.map((o) => o.endpoint_id)).toEqual(['ep_b']);
  });
});

describe('ranking', () => {
  it.each([
    ['SLA standing before price', [offer('cheap_breach', { sla_meeting: false, price_micros: 1 }), offer('meets')], ['ep_meets', 'ep_cheap_breach']],
    ['fewer recent errors before price', [offer('flaky', { recent_error_ppm: 50_000, price_micros: 1 }), offer('steady')], ['ep_steady', 'ep_flaky']],
    ['price', [offer('dear', { price_micros: 3_000_000 }), offer('cheap', { price_micros: 1_500_000 })], ['ep_cheap', 'ep_dear']],
    ['spare capacity last', [offer('small', { available_gpu_hours: 5 }), offer('big', { available_gpu_hours: 500 })], ['ep_big', 'ep_small']],
    ['limited providers (under 500 GPU-hours a month) after all others', [offer('limited', { listed_gpu_hours_month: 499, price_micros: 1 }), offer('full', { listed_gpu_hours_month: 500 })], ['ep_full', 'ep_limited']],
  ])('%s', (_n, offers, expected) => expect(order(offers)).toEqual(expected));

  it("prefers the caller's region between equals", () => {
    expect(order([offer('east'), offer('west', { region: 'eu-west-1' })], 'eu-west-1')).toEqual(['ep_west', 'ep_east']);
  });
});

describe('circuit breaker', () => {
  it('opens after consecutive failures, lets one trial through after the pause, and closes on its success', () => {
    const cb = new CircuitBreaker({ failure_threshold: 3, open_ms: 1_000 });
    cb.failure(0);
    cb.failure(1);
    cb.success(); // a success resets the count
    for (const t of [2, 3, 4]) cb.failure(t);
    expect(cb.state(5)).toBe('open');
    expect(cb.tryAcquire(500)).toBe(false);
    expect(cb.state(1_004)).toBe('half_open');
    expect(cb.tryAcquire(1_004)).toBe(true);
    expect(cb.tryAcquire(1_005)).toBe(false); // one trial at a time
    cb.failure(1_010); // the trial failed: open for a full period again
    expect(cb.state(1_500)).toBe('open');
    expect(cb.tryAcquire(2_010)).toBe(true);
    cb.success();
    expect(cb.state(2_011)).toBe('closed');
  });
});
