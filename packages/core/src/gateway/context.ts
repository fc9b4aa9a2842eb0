/**
 * One paid request in flight, from the hold on: what every stage after admission reads and adds to,
 * instead of long positional parameter lists. Created once per request by the Gateway (or a test).
 */
import { assert } from '../money.js';
import type { Offer } from '../catalog.js';
import type { SlaSample } from '../sla.js';
import { upstreamBodyText, type GatewayCall } from './call.js';
import type { Payment } from './payment.js';
import type { AttemptRecord, GatewayClock, GatewayRequest, ResponseSink } from './ports.js';
import { MAX_ROUTE_ATTEMPTS, type RouteReason } from './preferences.js';

export interface RequestContext {
  readonly req: GatewayRequest;
  readonly call: GatewayCall;
  readonly sink: ResponseSink;
  /** When the request arrived (the elapsed clock): its latency and time to first token count from here. */
  readonly started_ms: number;
  /** The reservation (a lease's or a hold) that pays for the request; every way out closes it once. */
  readonly payment: Payment;
  /** The offers to try, best first; the hold covers the dearest of them. */
  readonly offers: readonly Offer[];
  /** The body forwarded to each provider of the requested model (a fallback model's names that model instead). */
  readonly body_text: string;
  /** Why each offer would serve (aligned with `offers`; route-plan.ts); absent: the default ranking. */
  readonly reasons?: readonly RouteReason[];
  /** The caller's preferences left out a provider that could have served (route-plan.ts). */
  readonly restricted?: boolean;
  /** Each provider tried and how it went, in order. */
  readonly attempts: AttemptRecord[];
  /** What real traffic said of each provider tried, recorded after the reply (SLA standing). */
  readonly samples: SlaSample[];
  /** From arrival to the first content token (streams) or the whole reply; null until then. */
  ttft_ms: number | null;
}

export function requestContext(fields: Omit<RequestContext, 'attempts' | 'samples' | 'ttft_ms'>): RequestContext {
  assert(fields.offers.length >= 1 && fields.offers.length <= MAX_ROUTE_ATTEMPTS, `1 to ${MAX_ROUTE_ATTEMPTS} offers a request`);
  assert(fields.reasons === undefined || fields.reasons.length === fields.offers.length, 'one reason an offer');
  assert(fields.payment.amount_micros() >= Math.max(...fields.offers.map((o) => o.price_micros)), 'the payment covers every offer tried');
  return { ...fields, attempts: [], samples: [], ttft_ms: null };
}

/** One traffic sample for the provider's SLA standing (business time). */
export function addSample(ctx: RequestContext, clock: GatewayClock, offer: Offer, ok: boolean, latency_ms: number | null): void {
  ctx.samples.push({ provider_id: offer.provider_id, endpoint_id: offer.endpoint_id, source: 'traffic', ok, latency_ms, at: clock.now().toISOString() });
}

/** The body sent to `offer`: the request's own, or for a fallback model the same with that model named. */
export function bodyFor(ctx: RequestContext, offer: Offer): string {
  const model = offer.entry.model;
  return model === ctx.call.model ? ctx.body_text : upstreamBodyText({ ...ctx.call, body: { ...ctx.call.body, model } });
}

/**
 * Why `offer` serves: a fallback model's offer says so; one reached after an earlier attempt failed is a failover;
 * otherwise what put it first (the caller's order, sort or region, or the default ranking).
 */
export function routeReason(ctx: RequestContext, offer: Offer): RouteReason {
  const planned = ctx.reasons?.[ctx.offers.indexOf(offer)] ?? 'default';
  if (planned === 'fallback_model') return planned;
  return ctx.attempts.some((a) => a.result !== 'ok') ? 'failover' : planned;
}

/**
 * Headers every reply carries (SPEC §4): which provider served it (or none) and how many were tried; when a
 * provider answered, the model it served and why it was chosen.
 */
export function replyHeaders(ctx: RequestContext, offer: Offer | null, extra: Record<string, string> = {}): Record<string, string> {
  const route: Record<string, string> = offer ? { 'x-compux-model': offer.entry.model, 'x-compux-route-reason': routeReason(ctx, offer) } : {};
  return { 'x-compux-provider': offer?.provider_id ?? 'none', 'x-compux-attempts': String(ctx.attempts.length), ...route, ...extra };
}
