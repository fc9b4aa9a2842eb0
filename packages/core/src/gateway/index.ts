/**
 * The paid request path (SPEC §4, §5): admit → hold → route with failover → meter → settle, one file a stage:
 *
 *   call.ts       the call's figures (prompt bounds, the most completion tokens) and the body forwarded upstream
 *   admission.ts  the key's allow-list, the route planned, the rate window, then the hold
 *   route-plan.ts the offers of the model and its fallbacks, priced, ranked, under the caller's preferences
 *   preferences.ts the `provider` object and `models` (OpenRouter's), merged with the key's, resolved, applied
 *   attempts.ts   the ranked offers in turn behind their circuit breakers; failover before the first byte
 *   stream.ts     after the first event: relay, meter, settle, end (no failover past the first byte)
 *   settle.ts     the hold closed to the metered cost (never above it) with the request record
 *   context.ts    one RequestContext a request carries through attempts, relay and settlement
 *
 * Expected failures are result codes mapped to OpenAI's error shape; this module never imports AWS (the
 * DynamoDB and HTTP adapters sit behind CatalogSource, RateLimiter, Upstream, ResponseSink).
 */
import { assert } from '../money.js';
import { now as clockNow } from '../clock.js';
import { MAX_ATTEMPTS_PER_REQUEST, type CircuitState } from '../routing.js';
import type { CatalogSource } from '../catalog.js';
import type { Credits } from '../credits.js';
import type { RateLimiter } from '../ratelimit.js';
import type { SlaRecorder } from '../sla.js';
import { admit, reserveHold, type Admitted } from './admission.js';
import { takeTickets } from './tickets.js';
import { InProcessSlots, type TicketStore } from '../concurrency.js';
import { budgetSlot } from '../key-budgets.js';
import { serveAttempts } from './attempts.js';
import { BreakerBoard } from './breakers.js';
import { LatencyBoard } from './latency.js';
import { upstreamBodyText } from './call.js';
import { requestContext } from './context.js';
import { CONTENTION, openAiError, type ErrorSpec } from './errors.js';
import { DEFAULT_GATEWAY_CONFIG, type GatewayClock, type GatewayConfig, type GatewayLog, type GatewayRequest, type GatewayResult, type RelayTokens, type ResponseSink, type Upstream } from './ports.js';
import { settler, type Settle } from './settle.js';
import { holdPayment, leasePayment, type Payment } from './payment.js';
import type { LeaseHolder } from '../leases/holder.js';
import type { IdempotencyStore } from '../store.js';
import { gatedPayment, gatedSink, type Gate } from './gate.js';
import { SlaBuffer } from './sla-buffer.js';

export { COMPLETION_DEFAULT_MAX_TOKENS, MAX_CHOICES, describeCall, upstreamBodyText, type GatewayCall } from './call.js';
export { INFERENCE_ERROR_CODES, isInferenceErrorCode, modelNotFound, openAiError, type ErrorSpec, type InferenceErrorCode, type OpenAiErrorType } from './errors.js';
export { MAX_UPSTREAM_BODY_BYTES } from './io.js';
export { choiceText } from './metering.js';
export { BreakerBoard, type Breakers } from './breakers.js';
export { requestContext, type RequestContext } from './context.js';
export { serveAttempts, type AttemptDeps } from './attempts.js';
export { rankOffers } from './admission.js';
export * from './preferences.js';
export { planRoute, priceOffers, type RoutePlan, type Planned } from './route-plan.js';
export { LatencyBoard, expectedLatencyMs, type LatencyTracker } from './latency.js';
export { settler, type Settle, type Settled } from './settle.js';
export { holdPayment, leasePayment, SETTLE_ATTEMPTS, type HoldCloser, type Payment } from './payment.js';
export * from './ports.js';

export interface GatewayDeps {
  credits: Credits;
  catalog: CatalogSource;
  limiter: RateLimiter;
  upstream: Upstream;
  /** Mints the relay token each forwarded request carries (SPEC §6). */
  relay?: RelayTokens & { ready(): Promise<unknown> };
  /** Takes the latency and error samples real traffic produces (SPEC §6 SLA). */
  sla?: SlaRecorder;
  /**
   * This environment's lease holder (SPEC §2 credit leases): requests are paid from its lease in memory and
   * flushed after the reply. Absent, every request takes a hold (one transaction before, one after).
   */
  holder?: LeaseHolder;
  /** Claims a caller's Idempotency-Key for a leased request (gate.ts); absent, such requests take a hold. */
  idempotency?: Pick<IdempotencyStore, 'claim'>;
  /** Business time (records, samples, rate windows); defaults to clock.ts. */
  clock?: () => Date;
  /** Shared concurrency tickets (concurrency.ts) for keys with their own max_in_flight; absent, only this process's count caps them. */
  tickets?: TicketStore;
  log?: GatewayLog;
}

/** Waits for `p`, at most `ms` (not below 0). */
async function untilOrDeadline(p: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, ms))))]);
  clearTimeout(timer);
}

export class Gateway {
  private readonly breakers = new BreakerBoard();
  /** Each endpoint's time to first byte as this process saw it (`provider.sort: "latency"`). */
  private readonly latency = new LatencyBoard();
  /** This process's in-flight counts for the default caps (gateway/tickets.ts). */
  private readonly slots = new InProcessSlots();
  private readonly cfg: GatewayConfig;
  private readonly clock: GatewayClock;
  private readonly settle: Settle;
  private readonly slaBuffer: SlaBuffer | null;

  constructor(private readonly deps: GatewayDeps, cfg: Partial<GatewayConfig> = {}) {
    this.cfg = { ...DEFAULT_GATEWAY_CONFIG, ...cfg };
    assert(this.cfg.max_attempts >= 1 && this.cfg.max_attempts <= MAX_ATTEMPTS_PER_REQUEST, `attempts must be in [1, ${MAX_ATTEMPTS_PER_REQUEST}]`);
    this.clock = { elapsedMs: () => Date.now(), now: () => deps.clock?.() ?? clockNow() };
    this.settle = settler({ clock: this.clock, ...(deps.log ? { log: deps.log } : {}) });
    this.slaBuffer = deps.sla ? new SlaBuffer(deps.sla, this.clock.elapsedMs, (err) => deps.log?.('warn', 'could not record SLA samples', { error: String(err) }), this.cfg.sla_flush_samples) : null;
  }

  /** Writes what is buffered now (shutdown, tests): SLA samples and the lease holder's flushes and closes. */
  async drain(): Promise<void> {
    await this.slaBuffer?.maybeFlush(true);
    await this.deps.holder?.closeAll();
  }

  circuitState(endpointId: string): CircuitState {
    return this.breakers.state(endpointId, this.clock.elapsedMs());
  }

  async handle(req: GatewayRequest, sink: ResponseSink): Promise<GatewayResult> {
    const startedMs = this.clock.elapsedMs();
    const refuse = (e: ErrorSpec): GatewayResult => {
      sink.reply(e.status, { 'x-compux-provider': 'none', 'x-compux-cost-micros': '0', ...(e.headers ?? {}) }, openAiError(e));
      return { status: e.status, outcome: 'refused', code: e.code, record: null, settled: false, attempts: [] };
    };

    const admitted = await admit(req, { catalog: this.deps.catalog, limiter: this.deps.limiter, breakers: this.breakers, clock: this.clock, max_attempts: this.cfg.max_attempts, latency: this.latency });
    if (!admitted.ok) return refuse(admitted.refusal);
    const ticket = await takeTickets(req, { slots: this.slots, tickets: this.deps.tickets, startup_max_in_flight: this.cfg.startup_max_in_flight, clock: this.clock, log: this.deps.log });
    if (!ticket.ok) return refuse(ticket.refusal);
    // In flight until the reply's last byte has left (serve gives it back then, before the after-reply writes), or
    // until serve ends whichever way it does.
    let given: Promise<void> | null = null;
    const give = () => (given ??= ticket.give());
    try {
      return await this.serve(req, sink, admitted, startedMs, refuse, give);
    } finally {
      await give();
    }
  }

  private async serve(
    req: GatewayRequest, sink: ResponseSink, admitted: Extract<Admitted, { ok: true }>, startedMs: number, refuse: (e: ErrorSpec) => GatewayResult, replied: () => Promise<void>,
  ): Promise<GatewayResult> {
    // Relay keys are loaded before any money is held: a failure here costs the caller nothing.
    await this.deps.relay?.ready();
    const paid = await this.pay(req, admitted.hold_micros, admitted.whole_micros, sink);
    if (!paid.ok) return refuse(paid.refusal);

    // Route, meter, settle: the payment is always closed on the way out.
    const ctx = requestContext({
      req, call: req.call, sink: paid.sink, started_ms: startedMs, payment: paid.payment, offers: admitted.offers, body_text: upstreamBodyText(req.call),
      reasons: admitted.plan.reasons, restricted: admitted.plan.restricted,
    });
    const result = await serveAttempts(ctx, {
      upstream: this.deps.upstream, breakers: this.breakers, clock: this.clock, settle: this.settle, cfg: this.cfg, latency: this.latency,
      ...(this.deps.relay ? { relay: this.deps.relay } : {}), ...(this.deps.log ? { log: this.deps.log } : {}),
    });
    // After the reply: what each provider tried did feeds its SLA standing, in batches (sla-buffer.ts).
    this.slaBuffer?.add(ctx.samples);
    await paid.done;
    // Not before the reply's last byte has left: the flush and SLA writes are off the latency path. Bounded by
    // the caller's deadline, so a reply nobody reads cannot keep a settled request from being written.
    if (sink.finished) await untilOrDeadline(sink.finished, req.deadline_ms - this.clock.elapsedMs());
    await replied();
    // Still within the invocation, after the reply's last byte: the lease's flush writes this request's record.
    await this.deps.holder?.afterReply(ctx.payment.written() ?? undefined).catch((err: unknown) => this.deps.log?.('error', 'lease flush failed', { request_id: req.request_id, error: String(err) }));
    await this.slaBuffer?.maybeFlush();
    return result;
  }

  /**
   * A lease pays when it can (no I/O); a hold otherwise. A caller's own Idempotency-Key on a leased request
   * is claimed while the provider works, and gates the reply and the bill (gate.ts).
   */
  private async pay(req: GatewayRequest, amountMicros: number, wholeMicros: number, sink: ResponseSink): Promise<{ ok: true; payment: Payment; sink: ResponseSink; done: Promise<void> } | { ok: false; refusal: ErrorSpec }> {
    const { holder, idempotency } = this.deps;
    const explicitKey = req.caller_idempotency_key === true;
    // The budget slot is fixed here, once: a lease or a hold taken now counts in the period it is now.
    const slot = budgetSlot(req.key, this.clock.now());
    if (holder && (!explicitKey || idempotency)) {
      // A period's budget left is on its own item, not the key record: the whole budget only sizes the lease, whose take checks it.
      const left = slot === null ? null : req.key.budget_period === null ? req.key.budget_left_micros : req.key.budget_micros;
      const r = await holder.reserve({ startup_id: req.startup_id, budget_key: slot, budget_left_micros: left, amount_micros: amountMicros });
      if (r.ok) {
        const payment = leasePayment(r.reservation, holder);
        if (!explicitKey || !idempotency) return { ok: true, payment, sink, done: Promise.resolve() };
        const gate = this.claim(req, idempotency);
        const gated = gatedSink(sink, gate);
        return { ok: true, payment: gatedPayment(payment, gate), sink: gated, done: gated.done };
      }
    }
    // Where leases claim keys, a hold claims them too, so a replay is caught whichever way either one was paid.
    if (holder && explicitKey && idempotency) {
      const refusal = await this.claim(req, idempotency);
      if (refusal) return { ok: false, refusal };
    }
    // A hold cannot grow: it takes the whole most possible cost when the credit (and the key's budget) allows,
    // and only otherwise the first slice (the generation is then cut there, with finish_reason "length").
    let held = wholeMicros > amountMicros ? await reserveHold(req, this.deps.credits, wholeMicros, slot) : null;
    const short = (code: string) => code === 'exceeds_credit' || code === 'key_budget_exceeded';
    if (!held || (!held.ok && short(held.refusal.code))) held = await reserveHold(req, this.deps.credits, amountMicros, slot);
    return held.ok ? { ok: true, payment: holdPayment(held.hold, this.deps.credits, this.deps.log), sink, done: Promise.resolve() } : held;
  }

  private claim(req: GatewayRequest, idempotency: Pick<IdempotencyStore, 'claim'>): Gate {
    return idempotency
      .claim({ scope: `gw:${req.startup_id}`, key: req.idempotency_key, request_hash: req.request_hash, status_code: 409, reply: null })
      .then((c): ErrorSpec | null => {
        if (!c.ok) return { status: 409, type: 'invalid_request_error', code: 'idempotency_conflict', message: 'This Idempotency-Key was already used with a different request.' };
        if (c.replayed) return { status: 409, type: 'invalid_request_error', code: 'idempotency_key_reused', message: 'This Idempotency-Key was already used for a completion; send a new key to run another.' };
        return null;
      })
      .catch((err: unknown) => {
        this.deps.log?.('error', 'could not claim the idempotency key', { request_id: req.request_id, error: String(err) });
        return CONTENTION;
      });
  }
}
