/**
 * Stage 2, admission and the hold (SPEC §2, §4, §5): the key's model allow-list, the offers for the model
 * priced at the most this request can cost, ranked (open circuits skipped), the key's RPM/TPM window, and
 * the hold that covers the dearest offer tried. Nothing goes upstream without the hold. Refusals are
 * ErrorSpecs in OpenAI's shape; nothing is held for a refused request.
 */
import { assert } from '../money.js';
import { MAX_TOKENS_PER_REQUEST, maxCostMicros } from '../pricing.js';
import { rankCandidates } from '../routing.js';
import type { CatalogSource, Offer } from '../catalog.js';
import type { Credits } from '../credits.js';
import type { Hold } from '../holds.js';
import type { RateLimiter } from '../ratelimit.js';
import type { Breakers } from './breakers.js';
import type { GatewayCall } from './call.js';
import { CONTENTION, type ErrorSpec } from './errors.js';
import type { LatencyTracker } from './latency.js';
import { planRoute, priceOffers, type RoutePlan } from './route-plan.js';
import type { GatewayClock, GatewayRequest } from './ports.js';

/**
 * `hold_micros`: what the request reserves (without max_tokens, its first slice); `whole_micros`: its most
 * possible cost on the dearest offer (the whole context), which a hold, unable to grow, takes when it can.
 */
export type Admitted = { ok: true; offers: Offer[]; plan: RoutePlan; hold_micros: number; whole_micros: number } | { ok: false; refusal: ErrorSpec };
export type Held = { ok: true; hold: Hold } | { ok: false; refusal: ErrorSpec };

export interface AdmissionDeps {
  catalog: CatalogSource;
  limiter: RateLimiter;
  breakers: Breakers;
  clock: GatewayClock;
  max_attempts: number;
  /** Each endpoint's time to first byte as this process saw it (`provider.sort: "latency"`). */
  latency?: LatencyTracker;
}

/**
 * The offers to try, best first, at most `maxAttempts`, each priced at this call's most possible cost
 * (the ranking's price), or for a chat request without max_tokens at its prompt bound and first slice
 * (progressive.ts: the reservation then grows as tokens arrive). Offers whose circuit is open are left out.
 */
export function rankOffers(call: GatewayCall, offers: Offer[], breakers: Breakers, clock: GatewayClock, maxAttempts: number, region?: string): Offer[] {
  const nowIso = clock.now().toISOString();
  priceOffers(call, offers);
  const choice = rankCandidates(offers, { model: call.model, now: nowIso, circuit: (id) => breakers.state(id, clock.elapsedMs()), ...(region ? { region } : {}) });
  return choice.ranked.slice(0, maxAttempts);
}

/** Admission: which offers, what hold, and the rate window; a refusal otherwise. */
export async function admit(req: GatewayRequest, deps: AdmissionDeps): Promise<Admitted> {
  const { call, key } = req;
  if (key.models && !key.models.includes(call.model)) {
    return { ok: false, refusal: { status: 403, type: 'invalid_request_error', code: 'model_not_allowed', param: 'model', message: `This key may not use the model \`${call.model}\`.` } };
  }
  // The hold covers every token the request may produce: past what one request may be billed for, refuse it.
  if (call.completion_tokens_max !== null && call.completion_tokens_max > MAX_TOKENS_PER_REQUEST) {
    return {
      ok: false,
      refusal: {
        status: 400, type: 'invalid_request_error', code: 'integer_above_max_value', param: 'max_tokens',
        message: `This request may generate up to ${call.completion_tokens_max} tokens (max_tokens × choices${call.workload === 'completion' ? ' × prompts' : ''}), more than ${MAX_TOKENS_PER_REQUEST} a request; lower max_tokens or n.`,
      },
    };
  }
  // The route over the requested model and its fallbacks, under the caller's preferences (route-plan.ts).
  const planned = planRoute(req, await deps.catalog.load(), deps);
  if (!planned.ok) return planned;
  const tryList = planned.plan.offers;
  // The hold covers the dearest offer this request may be tried on (over every fallback model too), so neither
  // failover nor a fallback model ever needs a second hold.
  // Without max_tokens that is the first slice there; relaying extends it (progressive.ts).
  const holdMicros = Math.max(...tryList.map((o) => o.price_micros), 1);
  assert(Number.isSafeInteger(holdMicros) && holdMicros >= 1, 'the hold is a positive whole number of micros');

  const contextMax = Math.max(...tryList.map((o) => o.entry.context_length));
  const tokensForLimit = Math.min(call.prompt_tokens_max, contextMax) + (call.completion_tokens_max ?? contextMax);
  const rate = await deps.limiter.admit(key.id, { rpm: key.rpm, tpm: key.tpm }, tokensForLimit, deps.clock.now());
  if (!rate.ok) {
    // OpenAI's 429s: one code, the window in `type` (requests or tokens), its wording of the limit in the message.
    const window = rate.limit === 'rpm' ? `requests per min (RPM): Limit ${key.rpm}` : `tokens per min (TPM): Limit ${key.tpm}`;
    const message = rate.too_large
      ? `Request too large for ${call.model} on this key's ${window}, Requested ${tokensForLimit}. The input or output tokens must be reduced in order to run successfully.`
      : `Rate limit reached for ${call.model} on this key's ${window}. Please try again in ${rate.retry_after_s}s.`;
    return { ok: false, refusal: { status: 429, type: rate.limit === 'rpm' ? 'requests' : 'tokens', code: 'rate_limit_exceeded', message, headers: { 'retry-after': String(rate.retry_after_s) } } };
  }
  const wholeMicros = call.completion_tokens_max !== null ? holdMicros
    : Math.max(holdMicros, ...tryList.map((o) => maxCostMicros(call.prompt_tokens_max, o.entry.context_length, o.entry.context_length, o.entry, o.spot_micros_per_gpu_hour)));
  return { ok: true, offers: tryList, plan: planned.plan, hold_micros: holdMicros, whole_micros: wholeMicros };
}

/** The hold: one conditional transaction across facilities in draw order (and the key's budget slot, key-budgets.ts). */
export async function reserveHold(req: GatewayRequest, credits: Pick<Credits, 'reserve'>, holdMicros: number, budgetSlot: string | null): Promise<Held> {
  const { key } = req;
  const reserved = await credits.reserve({
    startup_id: req.startup_id,
    amount_micros: holdMicros,
    idempotency_key: `gw:${req.idempotency_key}`,
    request_hash: req.request_hash,
    refs: { request_id: req.request_id, key_id: key.id, ...(budgetSlot !== null ? { budget_key: budgetSlot } : {}) },
  });
  if (!reserved.ok) {
    switch (reserved.code) {
      case 'exceeds_credit':
        return { ok: false, refusal: { status: 402, type: 'insufficient_quota', code: 'exceeds_credit', message: `Not enough credit: this request needs a hold of ${holdMicros} micros (its most possible cost, or without max_tokens its first slice).` } };
      case 'facility_frozen':
        return { ok: false, refusal: { status: 403, type: 'insufficient_quota', code: 'credits_frozen', message: 'The credit facilities that could pay for this request are frozen by their lender.' } };
      case 'key_budget_exceeded':
        return { ok: false, refusal: { status: 402, type: 'insufficient_quota', code: 'key_budget_exceeded', message: `This key's spend budget cannot cover a hold of ${holdMicros} micros.` } };
      case 'idempotency_conflict':
        return { ok: false, refusal: { status: 409, type: 'invalid_request_error', code: 'idempotency_conflict', message: 'This Idempotency-Key was already used with a different request.' } };
      case 'contention':
        return { ok: false, refusal: CONTENTION };
    }
  }
  if (reserved.replayed) {
    // A completion is not stored, so it cannot be replayed; running it again would bill it twice.
    return { ok: false, refusal: { status: 409, type: 'invalid_request_error', code: 'idempotency_key_reused', message: 'This Idempotency-Key was already used for a completion; send a new key to run another.' } };
  }
  return { ok: true, hold: reserved.hold };
}
