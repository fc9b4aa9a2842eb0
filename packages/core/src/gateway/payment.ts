/**
 * How a request is paid for: a reservation that covers its most possible cost and is closed once, at the
 * metered cost. Two kinds, one interface, so attempts, relay and settlement do not care which:
 *
 *   lease  in memory against the holder's credit lease (leases/holder.ts): no I/O before the reply; the
 *          close is journaled and flushed after the reply (Gateway.handle awaits it within the invocation).
 *   hold   one conditional transaction before the request, one after (credits.ts): used when no lease can
 *          pay (a strict facility, credit spread over facilities, a key budget too short for a lease) or
 *          when the caller sent an Idempotency-Key, whose replay must be detected before any work.
 */
import { assert } from '../money.js';
import type { Allocation, Hold } from '../holds.js';
import { spendByFacility } from '../holds.js';
import type { Credits } from '../credits.js';
import type { LeaseHolder, LeaseReservation } from '../leases/holder.js';
import type { UsageRecord } from '../usage.js';
import type { GatewayLog } from './ports.js';

/** Settling a hold is retried this many more times after the store's own retries before it is left to the sweeper. */
export const SETTLE_ATTEMPTS = 3;

export interface Payment {
  /** The hold's or the lease's id: what the request record names as what paid. */
  readonly id: string;
  readonly kind: 'hold' | 'lease';
  /** What is reserved for the request now (a progressive hold grows it). */
  amount_micros(): number;
  /** Business time (ms) after which the request may spend no more; null: the hold's own expiry is far enough. */
  readonly spend_until_ms: number | null;
  /** Reserves `by` more for this request if the credit allows (progressive holds); false when it does not. */
  extend(by: number): boolean;
  /** Who pays `cost`, in draw order. */
  facilitiesFor(cost: number): Allocation[];
  /** Closes at `cost` (≤ amount) with the request's record; false when the close could not be made (left to the sweeper). */
  close(cost: number, record: UsageRecord): Promise<boolean>;
  /** A lease's close is written after the reply: resolves once it is (null for a hold, written by close()). */
  written(): Promise<void> | null;
}

export type HoldCloser = Pick<Credits, 'closeWithUsage'>;

export function holdPayment(hold: Hold, credits: HoldCloser, log?: GatewayLog): Payment {
  return {
    id: hold.id,
    kind: 'hold',
    amount_micros: () => hold.amount_micros,
    spend_until_ms: null,
    extend: () => false,
    facilitiesFor: (cost) => spendByFacility(hold, cost),
    written: () => null,
    async close(cost, record) {
      assert(cost <= hold.amount_micros, 'the bill is within the hold');
      const { facilities: _paid, ...usage } = record;
      for (let i = 0; i < SETTLE_ATTEMPTS; i++) {
        const r = await credits.closeWithUsage(hold, cost, usage);
        if (r.ok) return true;
        if (r.code !== 'contention') {
          log?.('error', 'could not close the hold', { request_id: record.request_id, hold_id: hold.id, code: r.code });
          break;
        }
      }
      // Left open, the sweeper releases it at expiry: the startup is then not billed (never billed twice).
      log?.('error', 'settlement failed; the hold will expire unbilled', { request_id: record.request_id, hold_id: hold.id, cost_micros: cost });
      return false;
    },
  };
}

export function leasePayment(r: LeaseReservation, holder: Pick<LeaseHolder, 'extend' | 'settle'>): Payment {
  let written: Promise<void> | null = null;
  return {
    id: r.lease_id,
    kind: 'lease',
    amount_micros: () => r.amount_micros,
    spend_until_ms: r.spend_until_ms,
    extend: (by) => holder.extend(r, by),
    facilitiesFor: (cost) => (cost > 0 ? [{ facility_id: r.facility_id, amount_micros: cost }] : []),
    async close(cost, record) {
      written = holder.settle(r, { ...record, lease_id: r.lease_id });
      return true;
    },
    written: () => written,
  };
}
