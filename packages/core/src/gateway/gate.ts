/**
 * A caller's own Idempotency-Key on a leased request (payment.ts): its claim (one create-only put) runs
 * while the provider works, and nothing reaches the client, and nothing is billed, until it has answered.
 * A replay of the key then gets the 409 it got before leases (a completion is not stored, so it cannot be
 * replayed) and the work done for it is released unbilled; the first request is unaffected.
 */
import type { Allocation } from '../holds.js';
import type { UsageRecord } from '../usage.js';
import { openAiError, type ErrorSpec } from './errors.js';
import type { Payment } from './payment.js';
import type { ResponseSink } from './ports.js';

/** Resolves null when the key is this request's, else the refusal to answer instead. */
export type Gate = Promise<ErrorSpec | null>;

export function gatedSink(sink: ResponseSink, gate: Gate): ResponseSink & { done: Promise<void> } {
  let chain: Promise<unknown> = Promise.resolve();
  let refused = false;
  const after = (fn: () => void) => {
    chain = chain.then(() => gate).then((refusal) => {
      if (refusal && !refused) {
        refused = true;
        sink.reply(refusal.status, { 'x-compux-provider': 'none', 'x-compux-cost-micros': '0', ...(refusal.headers ?? {}) }, openAiError(refusal));
      }
      if (!refused) fn();
    });
  };
  return {
    get signal() {
      return sink.signal;
    },
    reply: (status, headers, body) => after(() => sink.reply(status, headers, body)),
    open: (status, headers) => after(() => sink.open(status, headers)),
    async write(chunk) {
      await chain;
      if (refused) return false;
      return sink.write(chunk);
    },
    end: () => after(() => sink.end()),
    ...(sink.finished ? { finished: sink.finished } : {}),
    get done() {
      return chain.then(() => undefined);
    },
  };
}

/** The payment of a gated request: a refused replay closes at zero (its work is not billed). */
export function gatedPayment(inner: Payment, gate: Gate): Payment {
  return {
    ...inner,
    amount_micros: () => inner.amount_micros(),
    extend: (by) => inner.extend(by),
    facilitiesFor: (cost): Allocation[] => inner.facilitiesFor(cost),
    written: () => inner.written(),
    async close(cost, record: UsageRecord) {
      if (!(await gate)) return inner.close(cost, record);
      const unbilled: UsageRecord = { ...record, outcome: 'rejected_upstream', status_code: 409, cost_micros: 0, provider_micros: 0, margin_micros: 0, facilities: [] };
      return inner.close(0, unbilled);
    },
  };
}
