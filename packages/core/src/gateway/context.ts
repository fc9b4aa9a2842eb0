/**
 * One paid request in flight, from the hold on: what every stage after admission reads and adds to,
 * instead of long positional parameter lists. Created once per request by the Gateway (or a test).
 */
import { assert } from '../money.js';
import type { Offer } from '../catalog.js';
import type { SlaSample } from '../sla.js';
import type { GatewayCall } from './call.js';
import type { Payment } from './payment.js';
import type { AttemptRecord, GatewayClock, GatewayRequest, ResponseSink } from './ports.js';
import { MAX_ATTEMPTS_PER_REQUEST } from '../routing.js';

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
  /** The body forwarded to each provider (the same for every attempt). */
  readonly body_text: string;
  /** Each provider tried and how it went, in order. */
  readonly attempts: AttemptRecord[];
  /** What real traffic said of each provider tried, recorded after the reply (SLA standing). */
  readonly samples: SlaSample[];
  /** From arrival to the first content token (streams) or the whole reply; null until then. */
  ttft_ms: number | null;
}

export function requestContext(fields: Omit<RequestContext, 'attempts' | 'samples' | 'ttft_ms'>): RequestContext {
  assert(fields.offers.length >= 1 && fields.offers.length <= MAX_ATTEMPTS_PER_REQUEST, `1 to ${MAX_ATTEMPTS_PER_REQUEST} offers a request`);
  assert(fields.payment.amount_micros() >= Math.max(...fields.offers.map((o) => o.price_micros)), 'the payment covers every offer tried');
  return { ...fields, attempts: [], samples: [], ttft_ms: null };
}

/** One traffic sample for the provider's SLA standing (business time). */
export function addSample(ctx: RequestContext, clock: GatewayClock, offer: Offer, ok: boolean, latency_ms: number | null): void {
  ctx.samples.push({ provider_id: offer.provider_id, endpoint_id: offer.endpoint_id, source: 'traffic', ok, latency_ms, at: clock.now().toISOString() });
}

/** Headers every reply carries (SPEC §4): which provider served it (or none) and how many were tried. */
export function replyHeaders(ctx: RequestContext, offer: Offer | null, extra: Record<string, string> = {}): Record<string, string> {
  return { 'x-compux-provider': offer?.provider_id ?? 'none', 'x-compux-attempts': String(ctx.attempts.length), ...extra };
}
