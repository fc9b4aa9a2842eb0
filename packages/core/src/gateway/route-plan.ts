/**
 * The route of one request (SPEC §4, §5): for the requested model, then each fallback model in order, its
 * offers priced at this call's most possible cost, ranked (routing.ts), and the caller's preferences applied
 * (preferences.ts); at most `max_attempts` offers a model and MAX_ROUTE_ATTEMPTS in all. The hold covers the
 * dearest offer of the whole plan (admission.ts), so neither failover nor a fallback model needs a second one,
 * and only one attempt can ever be billed. Pure over the catalog snapshot: no I/O.
 */
import { maxCostMicros } from '../pricing.js';
import { rankCandidates } from '../routing.js';
import { offersFor, type Catalog, type Offer, type SlaTier } from '../catalog.js';
import { WORKLOAD_KIND } from '../usage.js';
import type { Breakers } from './breakers.js';
import type { GatewayCall } from './call.js';
import { modelNotFound, type ErrorSpec } from './errors.js';
import { expectedLatencyMs, type LatencyTracker } from './latency.js';
import { firstSliceTokens } from './progressive.js';
import {
  MAX_ROUTE_ATTEMPTS, applyPreferences, mergePreferences, planReason, pricePerMtokMicros, resolvePreferences,
  type EmptyCause, type ResolvedPreferences, type RouteReason,
} from './preferences.js';
import type { GatewayClock, GatewayRequest } from './ports.js';

export interface RoutePlan {
  /** The offers to try, best first, over every model. */
  offers: Offer[];
  /** Why each offer would serve (aligned with `offers`), before failover. */
  reasons: RouteReason[];
  /** The preferences left out an offer that could have served: when every attempt fails, the refusal says so. */
  restricted: boolean;
}

export type Planned = { ok: true; plan: RoutePlan } | { ok: false; refusal: ErrorSpec };

export interface PlanDeps {
  breakers: Breakers;
  clock: GatewayClock;
  max_attempts: number;
  latency?: LatencyTracker;
}

/** Each offer priced at this call's most possible cost (its first slice without max_tokens): the ranking's price. */
export function priceOffers(call: GatewayCall, offers: Offer[]): void {
  for (const o of offers) {
    const completion = call.completion_tokens_max ?? firstSliceTokens(call, o.entry.context_length);
    o.price_micros = maxCostMicros(call.prompt_tokens_max, completion, o.entry.context_length, o.entry, o.spot_micros_per_gpu_hour, Math.max(1, call.sequences));
  }
}

/** The fallback models the key's allow-list refuses: a request's own are refused by index, a key's skipped. */
function disallowedFallback(req: GatewayRequest, models: readonly string[]): ErrorSpec | null {
  const allow = req.key.models;
  const own = req.routing?.models;
  if (!allow || !own) return null;
  const i = own.findIndex((m) => models.includes(m) && !allow.includes(m));
  if (i === -1) return null;
  return { status: 403, type: 'invalid_request_error', code: 'model_not_allowed', param: `models[${i}]`, message: `This key may not use the model \`${own[i]}\`.` };
}

const usd = (micros: number) => `${(micros / 1_000_000).toFixed(6).replace(/\.?0+$/, '')} USD`;

function emptyPlan(call: GatewayCall, causes: EmptyCause[], cheapest: { prompt: number; completion: number } | null): ErrorSpec {
  if (causes.includes('max_price') && cheapest) {
    const completion = call.workload === 'embedding' ? '' : ` and ${usd(cheapest.completion)} per million completion tokens`;
    return {
      status: 400, type: 'invalid_request_error', code: 'max_price_exceeded', param: 'provider.max_price',
      message: `No provider that could serve this request is within provider.max_price: the cheapest costs ${usd(cheapest.prompt)} per million prompt tokens${completion}.`,
    };
  }
  if (causes.includes('providers')) {
    return {
      status: 503, type: 'server_error', code: 'no_allowed_provider', headers: { 'retry-after': '5' },
      message: `No provider your routing preferences allow (provider.order with allow_fallbacks: false, provider.only, provider.ignore) can serve ${call.model} right now; others can: widen them or retry shortly.`,
    };
  }
  return { status: 503, type: 'server_error', code: 'no_capacity', message: `No provider can serve ${call.model} right now; retry shortly.`, headers: { 'retry-after': '5' } };
}

/** The request's route over the catalog snapshot, or the refusal that says why there is none. */
export function planRoute(req: GatewayRequest, catalog: Catalog, deps: PlanDeps): Planned {
  const { call } = req;
  const strict = new Set(Object.keys(req.routing?.provider ?? {}));
  const resolved = resolvePreferences(mergePreferences(req.routing, req.key.routing), call.model, catalog.providers, req.startup_id, strict);
  if (!resolved.ok) {
    return { ok: false, refusal: { status: 400, type: 'invalid_request_error', code: 'unknown_provider', param: resolved.param, message: `Unknown provider reference '${resolved.ref.slice(0, 64)}' in ${resolved.param}: name a provider as x-compux-provider shows it, or by the provider_ref of a capacity-booking offer.` } };
  }
  const prefs = resolved.prefs;
  const refused = disallowedFallback(req, prefs.models);
  if (refused) return { ok: false, refusal: refused };
  const models = [call.model, ...prefs.models.filter((m) => !req.key.models || req.key.models.includes(m))];
  const tiers = prefs.sort === 'latency' ? new Map<string, SlaTier>(catalog.providers.map((p) => [p.id, p.sla_tier])) : null;
  const inputs = { workload: call.workload, latencyMs: (o: Offer) => expectedLatencyMs(deps.latency, o.endpoint_id, tiers?.get(o.provider_id)) };
  const nowIso = deps.clock.now().toISOString();
  const plan: RoutePlan = { offers: [], reasons: [], restricted: false };
  const causes: EmptyCause[] = [];
  let served = false;
  let cheapest: { prompt: number; completion: number } | null = null;
  for (const model of models) {
    const offers = offersFor(catalog, model, WORKLOAD_KIND[call.workload]);
    if (!offers.some((o) => o.status === 'live')) continue;
    served = true;
    priceOffers(call, offers);
    const ranked = rankCandidates(offers, { model, now: nowIso, circuit: (id) => deps.breakers.state(id, deps.clock.elapsedMs()), ...(prefs.region ? { region: prefs.region } : {}) }).ranked;
    const preferred = applyPreferences(ranked, prefs, inputs);
    causes.push(preferred.cause);
    if (preferred.cause === 'max_price') cheapest = cheapestOf(ranked, prefs, cheapest);
    plan.restricted ||= preferred.restricted;
    const room = Math.min(deps.max_attempts, MAX_ROUTE_ATTEMPTS - plan.offers.length);
    for (const o of preferred.offers.slice(0, Math.max(0, room))) {
      plan.offers.push(o);
      plan.reasons.push(planReason(o, call.model, prefs));
    }
  }
  if (!served) return { ok: false, refusal: modelNotFound(call.model) };
  if (plan.offers.length === 0) return { ok: false, refusal: emptyPlan(call, causes, cheapest) };
  return { ok: true, plan };
}

/** The lowest list prices (per million tokens) among the offers `only`/`ignore` allow: what a max_price refusal quotes. */
function cheapestOf(ranked: readonly Offer[], prefs: ResolvedPreferences, prev: { prompt: number; completion: number } | null) {
  let best = prev;
  for (const o of ranked) {
    if ((prefs.only !== null && !prefs.only.has(o.provider_id)) || prefs.ignore.has(o.provider_id)) continue;
    const prompt = pricePerMtokMicros(o, o.entry.prompt_tokens_per_gpu_second);
    const completion = pricePerMtokMicros(o, o.entry.completion_tokens_per_gpu_second);
    best = { prompt: Math.min(best?.prompt ?? prompt, prompt), completion: Math.min(best?.completion ?? completion, completion) };
  }
  return best;
}
