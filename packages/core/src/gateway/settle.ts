/**
 * Stage 5, settlement (SPEC §2): the request's payment closed at the metered cost (never above what it
 * reserved) with the request record. A hold closes in one transaction before the reply's last byte; a
 * lease's reservation closes in memory and is flushed after the reply (payment.ts). A close that fails
 * leaves the hold to the sweeper, which releases it unbilled (never billed twice).
 */
import { assert, divHalfEven } from '../money.js';
import { PROVIDER_SHARE_PERCENT, requestEconomics } from '../pricing.js';
import type { Offer } from '../catalog.js';
import type { Outcome, UsageRecord } from '../usage.js';
import type { RequestContext } from './context.js';
import type { Metered } from './metering.js';
import type { GatewayClock, GatewayLog } from './ports.js';

export interface Settled {
  record: UsageRecord;
  settled: boolean;
  cost_micros: number;
}

/** Settles the request's hold; the one way every path after the hold ends. */
export type Settle = (ctx: RequestContext, offer: Offer | null, outcome: Outcome, status: number, metered: Metered | null) => Promise<Settled>;

interface Economics {
  gpu_microseconds: number;
  cost_micros: number;
  provider_micros: number;
  margin_micros: number;
}

/** What the metered tokens cost on the offer that served them, capped at the hold. */
function economicsOf(ctx: RequestContext, offer: Offer | null, metered: Metered | null, log: GatewayLog | undefined): Economics {
  const held = ctx.payment.amount_micros();
  if (!offer || !metered) return { gpu_microseconds: 0, cost_micros: 0, provider_micros: 0, margin_micros: 0 };
  const econ = requestEconomics(metered.prompt_tokens, metered.completion_tokens, offer.entry, offer.spot_micros_per_gpu_hour);
  if (econ.cost_micros <= held) return econ;
  // The reservation is the most we may take: a provider reporting more than the bound allowed is not passed on.
  log?.('warn', 'metered cost above the reservation; billed the reservation', { request_id: ctx.req.request_id, cost_micros: econ.cost_micros, hold_micros: held });
  const provider_micros = Number(divHalfEven(BigInt(held) * PROVIDER_SHARE_PERCENT, 100n));
  return { ...econ, cost_micros: held, provider_micros, margin_micros: held - provider_micros };
}

function usageRecord(ctx: RequestContext, clock: GatewayClock, offer: Offer | null, outcome: Outcome, status: number, metered: Metered | null, econ: Economics): Omit<UsageRecord, 'facilities'> {
  const { req, call, payment } = ctx;
  return {
    request_id: req.request_id,
    startup_id: req.startup_id,
    key_id: req.key.id,
    hold_id: payment.id,
    workload: call.workload,
    // The model that served (a fallback model's when one did); the requested one when none did.
    model: offer?.entry.model ?? call.model,
    provider_id: offer?.provider_id ?? '-',
    endpoint_id: offer?.endpoint_id ?? '-',
    accelerator: offer?.accelerator ?? '-',
    stream: call.stream,
    outcome,
    status_code: status,
    attempts: ctx.attempts.length,
    prompt_tokens: metered?.prompt_tokens ?? 0,
    completion_tokens: metered?.completion_tokens ?? 0,
    estimated: metered?.estimated ?? false,
    gpu_microseconds: econ.gpu_microseconds,
    cost_micros: econ.cost_micros,
    provider_micros: econ.provider_micros,
    margin_micros: econ.margin_micros,
    spot_micros_per_gpu_hour: offer?.spot_micros_per_gpu_hour ?? 0,
    latency_ms: clock.elapsedMs() - ctx.started_ms,
    ttft_ms: ctx.ttft_ms,
    created_at: clock.now().toISOString(),
  };
}

/** A Settle over the request's payment: the record built from the meter, the payment closed at its cost. */
export function settler(deps: { clock: GatewayClock; log?: GatewayLog }): Settle {
  return async (ctx, offer, outcome, status, metered) => {
    const econ = economicsOf(ctx, offer, metered, deps.log);
    assert(econ.cost_micros >= 0 && econ.cost_micros <= ctx.payment.amount_micros(), 'the bill is within the reservation');
    const record: UsageRecord = { ...usageRecord(ctx, deps.clock, offer, outcome, status, metered, econ), facilities: ctx.payment.facilitiesFor(econ.cost_micros) };
    const settled = await ctx.payment.close(econ.cost_micros, record);
    return { record, settled, cost_micros: econ.cost_micros };
  };
}
