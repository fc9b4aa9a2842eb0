/**
 * Stage 5, settlement (SPEC §2): one transaction settles the hold to the metered cost (never above the
 * hold), returns the rest and writes the request record. Called before the reply's last byte, so a
 * request whose reply completed is settled; a settlement that fails leaves the hold to the sweeper,
 * which releases it unbilled (never billed twice).
 */
import { assert, divHalfEven } from '../money.js';
import { PROVIDER_SHARE_PERCENT, requestEconomics } from '../pricing.js';
import type { Offer } from '../catalog.js';
import type { Credits } from '../credits.js';
import { spendByFacility } from '../holds.js';
import type { Outcome, UsageRecord } from '../usage.js';
import type { RequestContext } from './context.js';
import type { Metered } from './metering.js';
import type { GatewayClock, GatewayLog } from './ports.js';

/** Settling is retried this many more times after the store's own retries before the hold is left to the sweeper. */
export const SETTLE_ATTEMPTS = 3;

export type HoldCloser = Pick<Credits, 'closeWithUsage'>;

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
  const hold = ctx.hold;
  if (!offer || !metered) return { gpu_microseconds: 0, cost_micros: 0, provider_micros: 0, margin_micros: 0 };
  const econ = requestEconomics(metered.prompt_tokens, metered.completion_tokens, offer.entry, offer.spot_micros_per_gpu_hour);
  if (econ.cost_micros <= hold.amount_micros) return econ;
  // The hold is the most we may take: a provider reporting more than the bound allowed is not passed on.
  log?.('warn', 'metered cost above the hold; billed the hold', { request_id: ctx.req.request_id, cost_micros: econ.cost_micros, hold_micros: hold.amount_micros });
  const provider_micros = Number(divHalfEven(BigInt(hold.amount_micros) * PROVIDER_SHARE_PERCENT, 100n));
  return { ...econ, cost_micros: hold.amount_micros, provider_micros, margin_micros: hold.amount_micros - provider_micros };
}

function usageRecord(ctx: RequestContext, clock: GatewayClock, offer: Offer | null, outcome: Outcome, status: number, metered: Metered | null, econ: Economics): Omit<UsageRecord, 'facilities'> {
  const { req, call, hold } = ctx;
  return {
    request_id: req.request_id,
    startup_id: req.startup_id,
    key_id: req.key.id,
    hold_id: hold.id,
    workload: call.workload,
    model: call.model,
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

/** A Settle over the credit port: closes the hold with the usage record, retrying contention. */
export function settler(deps: { credits: HoldCloser; clock: GatewayClock; log?: GatewayLog }): Settle {
  return async (ctx, offer, outcome, status, metered) => {
    const { hold } = ctx;
    const econ = economicsOf(ctx, offer, metered, deps.log);
    assert(econ.cost_micros >= 0 && econ.cost_micros <= hold.amount_micros, 'the bill is within the hold');
    const record = usageRecord(ctx, deps.clock, offer, outcome, status, metered, econ);
    const facilities = spendByFacility(hold, econ.cost_micros);
    for (let i = 0; i < SETTLE_ATTEMPTS; i++) {
      const r = await deps.credits.closeWithUsage(hold, econ.cost_micros, record);
      if (r.ok) return { record: { ...record, facilities }, settled: true, cost_micros: econ.cost_micros };
      if (r.code !== 'contention') {
        deps.log?.('error', 'could not close the hold', { request_id: ctx.req.request_id, hold_id: hold.id, code: r.code });
        break;
      }
    }
    // Left open, the sweeper releases it at expiry: the startup is then not billed (never billed twice).
    deps.log?.('error', 'settlement failed; the hold will expire unbilled', { request_id: ctx.req.request_id, hold_id: hold.id, cost_micros: econ.cost_micros });
    return { record: { ...record, facilities }, settled: false, cost_micros: econ.cost_micros };
  };
}
