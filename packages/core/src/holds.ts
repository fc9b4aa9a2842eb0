/**
 * Holds (reservations): spend is reserved before work goes upstream, settled to the metered amount
 * after, and the rest released (SPEC §2). A hold may draw on several facilities, in SPEC §3 order:
 * earliest term end first.
 */
import { assert, assertMicros, sum } from './money.js';
import {
  ACCRUAL_SHARDS, MARKET_SHARDS, accruedAccount, checkPosting, facilityAccount, marginAccount, mergeLines, salesAccount, transfer, type Posting, type PostingKind,
} from './ledger.js';
import { shardOf } from './ids.js';
import type { Facility } from './facilities.js';

/** A hold never lives longer than this: the sweeper releases it after expiry (a crashed request). */
export const MAX_HOLD_TTL_S = 3_600;
/** How long a request's hold lives unless the wiring sets another (COMPUX_HOLD_TTL_S): past the longest request (300 s). */
export const DEFAULT_HOLD_TTL_S = 600;
/**
 * The shortest hold expiry the wiring may set: the crash trials shorten it to see crashed holds come back within the
 * trial. A hold that expires while its request still runs is released by the sweeper and the request goes unbilled
 * (never billed twice), so operation keeps it above the longest request.
 */
export const MIN_HOLD_TTL_S = 5;
/**
 * A capacity booking's hold lives until the booking has ended (SPEC §11: bookings reach 90 days ahead), plus a
 * day of grace for its last hour's billing; the sweeper releases it after that like any other.
 */
export const MAX_BOOKING_HOLD_TTL_S = 92 * 24 * 3_600;

export interface Allocation {
  facility_id: string;
  amount_micros: number;
}

export type HoldStatus = 'open' | 'settled' | 'released' | 'expired';

export interface Hold {
  id: string;
  startup_id: string;
  amount_micros: number;
  allocations: Allocation[];
  status: HoldStatus;
  created_at: string;
  expires_at: string;
  /** Hash of what was asked for, so a replayed key with another body is told apart (409). */
  request_hash: string;
  settled_micros: number | null;
  closed_at: string | null;
  refs: Record<string, string>;
  /**
   * Settled while still open, in captures (a booking bills each delivered hour: capturePosting); 0 for a request's
   * hold. A close settles the rest: its settled_micros counts the captures too.
   */
  captured_micros: number;
}

export interface DrawableFacility {
  facility: Facility;
  available_micros: number;
}

export type PlanResult =
  | { ok: true; allocations: Allocation[] }
  | { ok: false; code: 'exceeds_credit' | 'facility_frozen'; available_micros: number; frozen_micros: number };

/** SPEC §3 draw order: earliest term end first; ties by creation then id, so the order is total. */
export function drawOrder(a: Facility, b: Facility): number {
  return a.term_end.localeCompare(b.term_end) || a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id);
}

/**
 * Plans which facilities pay for `amount`. Frozen and recovered facilities are skipped. When the
 * unfrozen credit is short but frozen credit would have covered it, the answer is facility_frozen
 * (the caller is blocked by a freeze, not by being out of credit).
 */
export function planAllocation(facilities: readonly DrawableFacility[], amount: number): PlanResult {
  assertMicros(amount);
  assert(amount > 0, 'a hold is for a positive amount');
  const ordered = [...facilities].sort((x, y) => drawOrder(x.facility, y.facility));
  const allocations: Allocation[] = [];
  let remaining = amount;
  let available = 0;
  let frozen = 0;
  for (const { facility, available_micros } of ordered) {
    if (available_micros <= 0) continue;
    if (facility.status !== 'active') {
      if (facility.status === 'frozen') frozen += available_micros;
      continue;
    }
    available += available_micros;
    if (remaining === 0) continue;
    const take = Math.min(available_micros, remaining);
    allocations.push({ facility_id: facility.id, amount_micros: take });
    remaining -= take;
  }
  if (remaining > 0) {
    return { ok: false, code: available + frozen >= amount && frozen > 0 ? 'facility_frozen' : 'exceeds_credit', available_micros: available, frozen_micros: frozen };
  }
  return { ok: true, allocations };
}

export function reservePosting(hold: Hold, postingId: string): Posting {
  return checkPosting({
    id: postingId,
    kind: 'reserve',
    lines: mergeLines(
      hold.allocations.flatMap((a) =>
        transfer(facilityAccount(a.facility_id, 'available'), facilityAccount(a.facility_id, 'reserved'), a.amount_micros, { requiresUnfrozen: true }),
      ),
    ),
    created_at: hold.created_at,
    refs: { hold_id: hold.id, startup_id: hold.startup_id },
  });
}

/**
 * What moves out of each allocation between two settled totals (draw order, as splitSettlement): the part of a
 * hold a capture, or a close after captures, settles.
 */
export function splitBetween(allocations: readonly Allocation[], fromMicros: number, toMicros: number): Allocation[] {
  const before = splitSettlement(allocations, fromMicros);
  return splitSettlement(allocations, toMicros).map((a, i) => ({ facility_id: a.facility_id, amount_micros: a.amount_micros - before[i]!.amount_micros }));
}

/** Splits a settled amount across the hold's allocations in draw order. */
export function splitSettlement(allocations: readonly Allocation[], settledMicros: number): Allocation[] {
  const total = sum(allocations.map((a) => a.amount_micros));
  assert(settledMicros >= 0 && settledMicros <= total, `settle ${settledMicros} outside [0, ${total}]`);
  let remaining = settledMicros;
  return allocations.map((a) => {
    const take = Math.min(a.amount_micros, remaining);
    remaining -= take;
    return { facility_id: a.facility_id, amount_micros: take };
  });
}

/** Who earned a settled amount: the provider's 85 % and the marketplace's margin (pricing.ts). */
export interface SplitOfSpend {
  request_id: string;
  provider_id: string;
  provider_micros: number;
  margin_micros: number;
}

/** `2026-11` from an ISO time: the UTC month a posting at that time belongs to. */
export const periodOf = (iso: string): string => iso.slice(0, 7);

/**
 * Closing a hold: the settled part moves reserved → spent, the rest reserved → available. With `split`
 * (a metered request) the same posting records who earned it: sales −cost, the provider's month accrual
 * +provider, the marketplace margin +margin, each on the shard of the request id, in the month of `at`.
 */
export function closePosting(hold: Hold, settledMicros: number, kind: Extract<PostingKind, 'settle' | 'release' | 'expire'>, postingId: string, at: string, split?: SplitOfSpend): Posting {
  // What captures settled already left reserved: the close moves only the rest (settled counts the captures too).
  const captured = hold.captured_micros;
  assert(settledMicros >= captured, `a close settles ${settledMicros}, less than the ${captured} captured`);
  const spent = splitSettlement(hold.allocations, settledMicros);
  const now = splitBetween(hold.allocations, captured, settledMicros);
  const lines = hold.allocations.flatMap((a, i) => [
    ...transfer(facilityAccount(a.facility_id, 'reserved'), facilityAccount(a.facility_id, 'spent'), now[i]!.amount_micros),
    ...transfer(facilityAccount(a.facility_id, 'reserved'), facilityAccount(a.facility_id, 'available'), a.amount_micros - spent[i]!.amount_micros),
  ]);
  const refs: Record<string, string> = { hold_id: hold.id, startup_id: hold.startup_id };
  if (split && settledMicros > captured) lines.push(...earningsLines(split, settledMicros - captured, at, refs));
  return checkPosting({ id: postingId, kind, lines: mergeLines(lines), created_at: at, refs });
}

/**
 * Who earned `spentMicros`, as posting lines: sales −cost, the provider's month accrual +provider, the marketplace
 * margin +margin, each on the shard of the request id, in the month of `at`. Adds the request and provider to refs.
 */
function earningsLines(split: SplitOfSpend, spentMicros: number, at: string, refs: Record<string, string>) {
  // Invariant: startup spend = provider earnings + marketplace margin, for every request (and every booked hour).
  assert(split.provider_micros >= 0 && split.margin_micros >= 0, 'provider and margin shares are not negative');
  assert(split.provider_micros + split.margin_micros === spentMicros, `provider ${split.provider_micros} + margin ${split.margin_micros} ≠ spend ${spentMicros}`);
  const period = periodOf(at);
  const market = shardOf(split.request_id, MARKET_SHARDS);
  const sales = salesAccount(period, market);
  refs.request_id = split.request_id;
  refs.provider_id = split.provider_id;
  return [
    ...transfer(sales, accruedAccount(split.provider_id, period, shardOf(split.request_id, ACCRUAL_SHARDS)), split.provider_micros),
    ...transfer(sales, marginAccount(period, market), split.margin_micros),
  ];
}

/**
 * A capture: `amountMicros` of an open hold settled now (reserved → spent, in draw order after what earlier captures
 * took), with who earned it. The hold stays open; its close later settles or releases the rest.
 */
export function capturePosting(hold: Hold, amountMicros: number, postingId: string, at: string, split: SplitOfSpend): Posting {
  assert(amountMicros > 0 && hold.captured_micros + amountMicros <= hold.amount_micros, `capture ${amountMicros} beyond the hold (${hold.captured_micros} of ${hold.amount_micros} captured)`);
  const lines = splitBetween(hold.allocations, hold.captured_micros, hold.captured_micros + amountMicros)
    .flatMap((a) => transfer(facilityAccount(a.facility_id, 'reserved'), facilityAccount(a.facility_id, 'spent'), a.amount_micros));
  const refs: Record<string, string> = { hold_id: hold.id, startup_id: hold.startup_id };
  lines.push(...earningsLines(split, amountMicros, at, refs));
  return checkPosting({ id: postingId, kind: 'settle', lines: mergeLines(lines), created_at: at, refs });
}

/** Spend per facility of a closing, for burn buckets and usage records. */
export function spendByFacility(hold: Hold, settledMicros: number): Allocation[] {
  return splitSettlement(hold.allocations, settledMicros).filter((a) => a.amount_micros > 0);
}

/**
 * A hold taken under a key with a budget carries `refs.budget_key`: the budget slot it draws on (key-budgets.ts:
 * the key's sha256, or that and the period). Reserving takes the whole amount from the slot (refused when the
 * budget is short); closing gives back the unspent part to the same slot and counts the spend. Null: the hold
 * draws on no key budget.
 */
export type KeyBudgetChange = { slot: string; take: number } | { slot: string; refund: number; spent: number };

export function budgetOnReserve(hold: Hold): KeyBudgetChange | null {
  const key = hold.refs.budget_key;
  return key ? { slot: key, take: hold.amount_micros } : null;
}

export function budgetOnClose(hold: Hold, settledMicros: number): KeyBudgetChange | null {
  const key = hold.refs.budget_key;
  return key ? { slot: key, refund: hold.amount_micros - settledMicros, spent: settledMicros } : null;
}

/** A reservation found under the hold's id is a replay when it was asked with the same body (else a 409). */
export const sameReservation = (first: Hold, asked: Pick<Hold, 'request_hash'>): boolean => first.request_hash === asked.request_hash;

/** A hold found closed is a replay of this close when it closed the same way (a retry after a lost reply). */
export const sameClose = (found: Hold, status: HoldStatus, settledMicros: number): boolean => found.status === status && found.settled_micros === settledMicros;
