/**
 * Progressive reservations (SPEC §4): a chat request without max_tokens reserves its prompt bound plus a
 * first slice of completion tokens, not the whole context, and extends the reservation as tokens arrive.
 * When it cannot be extended (credit out, the lease no longer reserving, or a hold, which never grows) or
 * the payment's spending time is over, the generation is cut: the client is told finish_reason "length"
 * and billed exactly the tokens it received, which the reservation always covers.
 *
 * The rules, in tokens counted as the relay counts them (tokens.ts, frame by frame):
 *   first slice  256 completion tokens a choice, never beyond the model's context
 *   extend rule  when a frame needs more than is reserved, reserve the next slice, twice the last one
 *                (256, then 512, 1024, … more, so a long reply extends O(log n) times), bounded by the
 *                context; if the credit cannot give a whole slice, just what the frame needs (so a reply
 *                runs until the credit is truly spent). Payment.extend is synchronous (a lease extends in
 *                memory), so nothing is gained by extending ahead of need, and the reservation stays least.
 *   cut rule     a frame that would take the count past what is reserved is not relayed: the provider
 *                call is aborted and the bill is the tokens relayed before it (the client never receives
 *                a token that was not paid for; the provider's unrelayed frame is not billed)
 */
import { assert } from '../money.js';
import { maxCostMicros, requestEconomics } from '../pricing.js';
import type { Offer } from '../catalog.js';
import type { GatewayCall } from './call.js';
import type { Usage } from './metering.js';
import type { Payment } from './payment.js';
import type { GatewayClock } from './ports.js';

/** Completion tokens a choice the first slice covers: most short replies fit, so most requests never extend. */
export const FIRST_SLICE_TOKENS_PER_CHOICE = 256;

/** Why a progressive generation was cut; the request's result code. */
export type Cut = 'credit_exhausted' | 'spend_until_passed';

/** A chat request without max_tokens / max_completion_tokens: paid slice by slice. */
export function isProgressive(call: GatewayCall): boolean {
  return call.workload === 'chat' && call.completion_tokens_max === null;
}

/** The completion tokens the first slice covers: 256 a choice, capped at the model's context. */
export function firstSliceTokens(call: GatewayCall, contextLength: number): number {
  const n = (call.body.n as number | undefined) ?? 1;
  return Math.min(FIRST_SLICE_TOKENS_PER_CHOICE * n, contextLength);
}

/**
 * One attempt's allowance on the offer serving it: how many completion tokens the payment covers there,
 * grown ahead of the frames, and the verdict on each frame before it is relayed.
 */
export class Allowance {
  private readonly context: number;
  private readonly first: number;
  private nextSlice: number;
  /** Completion tokens the payment covers on this offer at the prompt's bound. */
  private covered: number;
  /** Completion tokens let through so far. */
  produced = 0;

  constructor(
    private readonly call: GatewayCall,
    private readonly offer: Offer,
    private readonly payment: Payment,
    private readonly clock: GatewayClock,
  ) {
    this.context = offer.entry.context_length;
    this.first = firstSliceTokens(call, this.context);
    this.nextSlice = 2 * this.first;
    // Priced on the dearest offer (and maybe extended by an earlier attempt): this offer may cover more.
    this.covered = this.coverable(payment.amount_micros());
    assert(this.covered >= this.first, 'the reservation covers the first slice on every offer tried');
  }

  /** What `tokens` completion tokens cost here at most (the prompt at its bound, rounded up). */
  private costOf(tokens: number): number {
    return maxCostMicros(this.call.prompt_tokens_max, tokens, this.context, this.offer.entry, this.offer.spot_micros_per_gpu_hour);
  }

  /** The most completion tokens `micros` pays for here (binary search; the cost grows with the tokens). */
  private coverable(micros: number): number {
    let lo = 0;
    let hi = this.context;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (this.costOf(mid) <= micros) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Whether a frame of `tokens` completion tokens may be relayed (and so billed); a Cut when it may not. */
  take(tokens: number): Cut | null {
    const until = this.payment.spend_until_ms;
    if (until !== null && this.clock.now().getTime() >= until) return 'spend_until_passed';
    const next = this.produced + tokens;
    if (next > this.covered && next <= this.context) {
      const slice = Math.min(this.context, this.covered + this.nextSlice);
      if (slice >= next && this.extendTo(slice)) this.nextSlice *= 2;
      else this.extendTo(next);
    }
    if (next > this.covered) return 'credit_exhausted';
    this.produced = next;
    return null;
  }

  /** Reserves up to `target` completion tokens here; false when the payment will not grow. */
  private extendTo(target: number): boolean {
    const by = this.costOf(target) - this.payment.amount_micros();
    if (by > 0 && !this.payment.extend(by)) return false;
    this.covered = Math.max(this.covered, target);
    return true;
  }

  /**
   * At a normal end the provider's own usage is billed; where it counts more than the relay did (another
   * tokenizer), the reservation is topped up if it can be. If not, settlement caps the bill at the reservation.
   */
  cover(usage: Usage): void {
    const cost = requestEconomics(usage.prompt_tokens, usage.completion_tokens, this.offer.entry, this.offer.spot_micros_per_gpu_hour).cost_micros;
    const short = cost - this.payment.amount_micros();
    if (short > 0) this.payment.extend(short);
  }
}
