/**
 * Offline: routing preferences (packages/core/src/gateway/preferences.ts) and the route plan (route-plan.ts):
 * merging a request's preferences with its key's, resolving opaque provider references, the filters and sorts,
 * and a plan over fallback models whose hold covers the dearest offer tried.
 */
import { describe, expect, it } from 'vitest';
import {
  Bookings, BreakerBoard, LatencyBoard, MAX_ROUTE_ATTEMPTS, applyPreferences, describeCall, expectedLatencyMs, mergePreferences, offersFor, planRoute,
  priceOffers, rankCandidates, resolvePreferences, type ApiKeyRecord, type Catalog, type GatewayRequest, type Offer, type ResolvedPreferences, type RoutingProvider,
} from '../../packages/core/src/index.js';

const NOW = new Date('2026-11-21T12:00:00.000Z');
const clock = { elapsedMs: () => 1_000, now: () => NOW };
const SPOT = { H100: 2_000_000 };

function provider(id: string, over: Partial<RoutingProvider> = {}, rates = { prompt_tokens_per_gpu_second: 4_000, completion_tokens_per_gpu_second: 60 }, models = ['m']): RoutingProvider {
  return {
    id, name: `${id} Cloud`, status: 'live', sla_tier: 'standard', sla_meeting: true, recent_error_ppm: 0, listed_gpu_hours_month: 5_000,
    endpoints: [{ id: `${id}_ep`, url: `http://${id}/v1`, region: 'us-east-1', availability_zone: 'us-east-1a', capacity_type: 'dedicated', accelerators: ['H100'] }],
    models: models.map((model) => ({ model, kind: 'chat' as const, architecture: 'llama', context_length: 8_192, accelerator: 'H100' as const, ...rates })),
    capacity: [{ accelerator: 'H100', region: 'us-east-1', availability_zone: 'us-east-1a', available_gpu_hours: 100 }], maintenance: [], updated_at: NOW.toISOString(), ...over,
  };
}

/** a: cheapest; b: dearer; c: dearest, in eu-west-1. */
const CATALOG: Catalog = {
  providers: [
    provider('prv_a', {}, { prompt_tokens_per_gpu_second: 4_000, completion_tokens_per_gpu_second: 90 }),
    provider('prv_b', {}, { prompt_tokens_per_gpu_second: 4_000, completion_tokens_per_gpu_second: 60 }),
    provider('prv_c', { endpoints: [{ id: 'prv_c_ep', url: 'http://c/v1', region: 'eu-west-1', availability_zone: 'eu-west-1a', capacity_type: 'dedicated', accelerators: ['H100'] }], capacity: [{ accelerator: 'H100', region: 'eu-west-1', availability_zone: 'eu-west-1a', available_gpu_hours: 100 }] }, { prompt_tokens_per_gpu_second: 2_000, completion_tokens_per_gpu_second: 30 }),
    provider('prv_big', {}, { prompt_tokens_per_gpu_second: 1_000, completion_tokens_per_gpu_second: 10 }, ['big']),
  ],
  spot_micros_per_gpu_hour: SPOT,
};

const call = (extra: Record<string, unknown> = {}) => describeCall('chat', { model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 100, ...extra });

function resolved(over: Partial<ResolvedPreferences> = {}): ResolvedPreferences {
  return { order: [], only: null, ignore: new Set(), allow_fallbacks: true, sort: null, max_prompt_micros_per_mtok: null, max_completion_micros_per_mtok: null, region: null, models: [], ...over };
}

/** The default ranking of model m's offers, priced for `c`. */
function ranked(c = call(), catalog = CATALOG): Offer[] {
  const offers = offersFor(catalog, c.model, 'chat');
  priceOffers(c, offers);
  return rankCandidates(offers, { model: c.model, now: NOW.toISOString(), circuit: () => 'closed' }).ranked;
}

const ids = (offers: readonly Offer[]) => offers.map((o) => o.provider_id);
const inputs = { workload: 'chat' as const, latencyMs: () => 500 };

describe('merging a request with its key', () => {
  it("takes the request's fields over the key's, one by one, and the key's where the request gives none", () => {
    // Act
    const merged = mergePreferences({ provider: { order: ['prv_b'] } }, { provider: { order: ['prv_c'], ignore: ['prv_a'], sort: 'price' }, models: ['x'] });
    // Assess
    expect(merged).toEqual({ provider: { order: ['prv_b'], ignore: ['prv_a'], sort: 'price' }, models: ['x'] });
  });

  it('lets a request clear the key\'s fallbacks with an empty list', () => {
    // Act
    const merged = mergePreferences({ models: [] }, { models: ['x'] });
    // Assess
    expect(merged.models).toEqual([]);
  });
});

describe('resolving provider references', () => {
  it("accepts a provider's id and the startup's opaque provider_ref of it", () => {
    // Prepare
    const ref = Bookings.providerRef('stu_1', 'prv_b');
    // Act
    const r = resolvePreferences({ provider: { only: [ref, 'prv_a'] } }, 'm', CATALOG.providers, 'stu_1', new Set(['only']));
    // Assess
    expect(r.ok && [...r.prefs.only!]).toEqual(['prv_b', 'prv_a']);
  });

  it("refuses an unknown reference the request gave, naming its place", () => {
    // Act
    const r = resolvePreferences({ provider: { ignore: ['prv_a', 'prv_gone'] } }, 'm', CATALOG.providers, 'stu_1', new Set(['ignore']));
    // Assess
    expect(r).toEqual({ ok: false, param: 'provider.ignore[1]', ref: 'prv_gone' });
  });

  it("refuses another startup's provider_ref: it is opaque to anyone else", () => {
    // Act
    const r = resolvePreferences({ provider: { order: [Bookings.providerRef('stu_other', 'prv_a')] } }, 'm', CATALOG.providers, 'stu_1', new Set(['order']));
    // Assess
    expect(r.ok).toBe(false);
  });

  it("drops an unknown reference from the key's defaults, and an `only` of such references allows nothing", () => {
    // Act
    const r = resolvePreferences({ provider: { only: ['prv_gone'] } }, 'm', CATALOG.providers, 'stu_1', new Set());
    // Assess
    expect(r.ok && r.prefs.only?.size).toBe(0);
  });

  it('keeps fallback models in order, once each, never the requested model', () => {
    // Act
    const r = resolvePreferences({ models: ['x', 'm', 'y', 'x'] }, 'm', CATALOG.providers, 'stu_1', new Set());
    // Assess
    expect(r.ok && r.prefs.models).toEqual(['x', 'y']);
  });
});

describe('applying preferences to the ranked offers', () => {
  it.each([
    ['default', resolved(), ['prv_a', 'prv_b', 'prv_c']],
    ['order first, in its order, then the rest', resolved({ order: ['prv_c', 'prv_b'] }), ['prv_c', 'prv_b', 'prv_a']],
    ['only', resolved({ only: new Set(['prv_b', 'prv_c']) }), ['prv_b', 'prv_c']],
    ['ignore', resolved({ ignore: new Set(['prv_a']) }), ['prv_b', 'prv_c']],
    ['region first, default order within', resolved({ region: 'eu-west-1' }), ['prv_c', 'prv_a', 'prv_b']],
    ['allow_fallbacks false keeps only order', resolved({ order: ['prv_b', 'prv_c'], allow_fallbacks: false }), ['prv_b', 'prv_c']],
    ['allow_fallbacks false without order keeps the best one', resolved({ allow_fallbacks: false }), ['prv_a']],
    ['throughput', resolved({ sort: 'throughput', ignore: new Set(['prv_a']) }), ['prv_b', 'prv_c']],
  ])('%s', (_n, prefs, expected) => {
    // Act
    const r = applyPreferences(ranked(), prefs, inputs);
    // Assess
    expect(ids(r.offers)).toEqual(expected);
  });

  it('sort price puts the cheapest first over SLA standing, which the default ranks before price', () => {
    // Prepare: a, the cheapest, misses its SLA.
    const catalog = { ...CATALOG, providers: CATALOG.providers.map((p) => (p.id === 'prv_a' ? { ...p, sla_meeting: false } : p)) };
    // Act
    const plain = applyPreferences(ranked(call(), catalog), resolved(), inputs);
    const byPrice = applyPreferences(ranked(call(), catalog), resolved({ sort: 'price' }), inputs);
    // Assess
    expect(ids(plain.offers)).toEqual(['prv_b', 'prv_c', 'prv_a']);
    expect(ids(byPrice.offers)).toEqual(['prv_a', 'prv_b', 'prv_c']);
  });

  it('sort latency uses what this process saw, else the tier\'s committed p95', () => {
    // Prepare
    const board = new LatencyBoard();
    board.record('prv_b_ep', 80);
    board.record('prv_a_ep', 900);
    const latencyMs = (o: Offer) => expectedLatencyMs(board, o.endpoint_id, 'standard');
    // Act
    const r = applyPreferences(ranked(), resolved({ sort: 'latency' }), { workload: 'chat', latencyMs });
    // Assess: b 80 ms, c unseen (standard tier: 500 ms), a 900 ms.
    expect(ids(r.offers)).toEqual(['prv_b', 'prv_c', 'prv_a']);
  });

  it('max_price compares list prices per million tokens exactly, at the cap included', () => {
    // Prepare: a's completion at 2 USD/h and 90 tokens/s is 6.172839… USD a million; b's 9.259259…
    const atB = resolved({ max_completion_micros_per_mtok: 9_259_260 });
    const belowB = resolved({ max_completion_micros_per_mtok: 9_259_259 });
    // Act
    const inclusive = applyPreferences(ranked(), atB, inputs);
    const exclusive = applyPreferences(ranked(), belowB, inputs);
    // Assess
    expect(ids(inclusive.offers)).toEqual(['prv_a', 'prv_b']);
    expect(ids(exclusive.offers)).toEqual(['prv_a']);
  });

  it.each([
    ['providers', resolved({ only: new Set(['prv_nobody']) })],
    ['providers', resolved({ order: ['prv_big'], allow_fallbacks: false })],
    ['max_price', resolved({ max_prompt_micros_per_mtok: 1 })],
  ])('says why nothing is left: %s', (cause, prefs) => {
    // Act
    const r = applyPreferences(ranked(), prefs, inputs);
    // Assess
    expect(r).toEqual({ offers: [], restricted: true, cause });
  });

  it('marks the route restricted only when a preference left out a provider', () => {
    // Act
    const sorted = applyPreferences(ranked(), resolved({ sort: 'price', region: 'eu-west-1', order: ['prv_c'] }), inputs);
    const filtered = applyPreferences(ranked(), resolved({ ignore: new Set(['prv_c']) }), inputs);
    // Assess
    expect([sorted.restricted, filtered.restricted]).toEqual([false, true]);
  });
});

describe('the route plan', () => {
  const key: ApiKeyRecord = {
    id: 'key_1', role: 'startup', tenant_id: 'stu_1', name: 'k', key_sha256: 'h', budget_micros: null, budget_period: null, budget_soft_micros: null, models: null, rpm: null, tpm: null, budget_left_micros: null, created_at: NOW.toISOString(), revoked_at: null,
  };
  const request = (over: Partial<GatewayRequest> = {}, c = call()): GatewayRequest => ({ call: c, startup_id: 'stu_1', key, request_id: 'req_1', idempotency_key: 'i', request_hash: 'h', deadline_ms: 1e15, ...over });
  const plan = (req: GatewayRequest) => planRoute(req, CATALOG, { breakers: new BreakerBoard(), clock, max_attempts: 3 });

  it('tries the fallback model after the first, and the dearest offer over both is what the hold must cover', () => {
    // Act
    const r = plan(request({ routing: { models: ['big'] } }));
    // Assess
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.plan.offers.map((o) => `${o.provider_id}/${o.entry.model}`)).toEqual(['prv_a/m', 'prv_b/m', 'prv_c/m', 'prv_big/big']);
    expect(r.plan.reasons).toEqual(['default', 'default', 'default', 'fallback_model']);
    expect(Math.max(...r.plan.offers.map((o) => o.price_micros))).toBe(r.plan.offers[3]!.price_micros);
  });

  it('bounds the attempts over every model', () => {
    // Prepare: eight providers serve m.
    const many: Catalog = { ...CATALOG, providers: [...Array(8).keys()].map((i) => provider(`prv_${i}`, {}, undefined, ['m', 'n'])) };
    // Act
    const r = planRoute(request({ routing: { models: ['n'] } }), many, { breakers: new BreakerBoard(), clock, max_attempts: 3 });
    // Assess: three for m, three for n.
    expect(r.ok && r.plan.offers.length).toBe(MAX_ROUTE_ATTEMPTS);
  });

  it("refuses a fallback model the key may not use, by its place in the request's list", () => {
    // Act
    const r = plan(request({ key: { ...key, models: ['m'] }, routing: { models: ['m', 'big'] } }));
    // Assess
    expect(!r.ok && r.refusal).toMatchObject({ status: 403, code: 'model_not_allowed', param: 'models[1]' });
  });

  it('refuses with max_price_exceeded, quoting the cheapest, when the cap leaves nothing', () => {
    // Act
    const r = plan(request({ routing: { provider: { max_price: { completion: 1 } } } }));
    // Assess: a's completion: 2 USD/h at 90 tokens/s.
    expect(!r.ok && r.refusal).toMatchObject({ status: 400, code: 'max_price_exceeded', param: 'provider.max_price' });
    expect(!r.ok && r.refusal.message).toContain('6.17284 USD per million completion tokens');
  });

  it('uses the key defaults, and the request overrides them', () => {
    // Prepare
    const routedKey = { ...key, routing: { provider: { order: ['prv_c'] } } };
    // Act
    const byKey = plan(request({ key: routedKey }));
    const byRequest = plan(request({ key: routedKey, routing: { provider: { order: ['prv_b'] } } }));
    // Assess
    expect(byKey.ok && byKey.plan.offers[0]!.provider_id).toBe('prv_c');
    expect(byRequest.ok && byRequest.plan.offers[0]!.provider_id).toBe('prv_b');
  });
});
