/**
 * Spending credits: reserve → settle (≤ the hold) → release, and the sweeper for holds that were
 * never settled (SPEC §2). A startup's available credit never goes below zero: the store applies
 * every reservation as one conditional transaction; this module only plans and retries.
 */
import { derivedId } from './ids.js';
import { now } from './clock.js';
import { MAX_FACILITIES_PER_STARTUP } from './facilities.js';
import { DEFAULT_HOLD_TTL_S, MAX_BOOKING_HOLD_TTL_S, MAX_HOLD_TTL_S, MIN_HOLD_TTL_S, capturePosting, closePosting, planAllocation, reservePosting, sameReservation, spendByFacility, splitBetween, type Hold, type SplitOfSpend } from './holds.js';
import { facilityAccount } from './ledger.js';
import { assert, assertMicros } from './money.js';
import type { CaptureResult, CloseResult, FacilityStore, HoldStore, LedgerStore, ReserveResult } from './store.js';
import { isBilled, type UsageRecord } from './usage.js';
import { OPEN_HOLD_SHARDS } from '../../../infra/table.js';

/** Who earned a billed record's cost: what its posting's earnings lines need. */
const earnersOf = (u: Pick<UsageRecord, 'request_id' | 'provider_id' | 'provider_micros' | 'margin_micros'>): SplitOfSpend =>
  ({ request_id: u.request_id, provider_id: u.provider_id, provider_micros: u.provider_micros, margin_micros: u.margin_micros });

/** Re-plans after a lost race (a balance changed between reading and writing). */
const MAX_PLAN_ATTEMPTS = 4;
export const MAX_SWEEP_PER_SHARD = 100;

export interface ReserveRequest {
  startup_id: string;
  amount_micros: number;
  /** Scoped by the caller: the same key always lands on the same hold. */
  idempotency_key: string;
  request_hash: string;
  /** Default: the Credits' hold_ttl_s. */
  ttl_s?: number;
  /** A capacity booking's hold: ttl_s may reach MAX_BOOKING_HOLD_TTL_S (the booking's end) instead of MAX_HOLD_TTL_S. */
  booking?: boolean;
  refs?: Record<string, string>;
}

export type Clock = () => Date;

/** What spending needs: the holds, and to plan a reservation, a startup's facilities and their balances. */
export type CreditsStore = HoldStore & Pick<FacilityStore, 'listFacilitiesByStartup'> & Pick<LedgerStore, 'getBalances' | 'getPosting'>;

export interface CreditsOptions {
  /** The expiry of a hold whose request names none, in [MIN_HOLD_TTL_S, MAX_HOLD_TTL_S]; default DEFAULT_HOLD_TTL_S. */
  hold_ttl_s?: number;
}

export class Credits {
  private readonly holdTtlS: number;

  constructor(
    private readonly store: CreditsStore,
    private readonly clock: Clock = now,
    options: CreditsOptions = {},
  ) {
    this.holdTtlS = options.hold_ttl_s ?? DEFAULT_HOLD_TTL_S;
    assert(Number.isInteger(this.holdTtlS) && this.holdTtlS >= MIN_HOLD_TTL_S && this.holdTtlS <= MAX_HOLD_TTL_S, `hold_ttl_s must be a whole number in [${MIN_HOLD_TTL_S}, ${MAX_HOLD_TTL_S}]`);
  }

  holdIdFor(startupId: string, idempotencyKey: string): string {
    return derivedId('hold', startupId, idempotencyKey);
  }

  async reserve(req: ReserveRequest): Promise<ReserveResult> {
    assertMicros(req.amount_micros);
    assert(req.amount_micros > 0, 'reserve a positive amount');
    const ttl = req.ttl_s ?? this.holdTtlS;
    const maxTtl = req.booking ? MAX_BOOKING_HOLD_TTL_S : MAX_HOLD_TTL_S;
    assert(ttl > 0 && ttl <= maxTtl, `hold ttl must be in (0, ${maxTtl}] s`);
    const holdId = this.holdIdFor(req.startup_id, req.idempotency_key);

    let last: ReserveResult = { ok: false, code: 'exceeds_credit' };
    for (let attempt = 0; attempt < MAX_PLAN_ATTEMPTS; attempt++) {
      const facilities = await this.store.listFacilitiesByStartup(req.startup_id, MAX_FACILITIES_PER_STARTUP);
      const balances = await this.store.getBalances(facilities.map((f) => facilityAccount(f.id, 'available')));
      const plan = planAllocation(
        facilities.map((f) => ({ facility: f, available_micros: balances.get(facilityAccount(f.id, 'available'))?.balance_micros ?? 0 })),
        req.amount_micros,
      );
      if (!plan.ok) {
        // A replay of a key that already holds credit must get its hold back, not a refusal.
        const existing = await this.store.getHold(holdId);
        if (existing) return sameReservation(existing, req) ? { ok: true, hold: existing, replayed: true } : { ok: false, code: 'idempotency_conflict' };
        return { ok: false, code: plan.code };
      }
      const now = this.clock();
      const hold: Hold = {
        id: holdId,
        startup_id: req.startup_id,
        amount_micros: req.amount_micros,
        allocations: plan.allocations,
        status: 'open',
        created_at: now.toISOString(),
        expires_at: new Date(now.getTime() + ttl * 1000).toISOString(),
        request_hash: req.request_hash,
        settled_micros: null,
        captured_micros: 0,
        closed_at: null,
        refs: req.refs ?? {},
      };
      last = await this.store.reserve(hold, reservePosting(hold, derivedId('pst', holdId, 'reserve')));
      // Refused on balances read a moment ago: read again and re-plan (another request won the race).
      if (last.ok || last.code === 'idempotency_conflict' || last.code === 'contention' || last.code === 'key_budget_exceeded') return last;
    }
    return last;
  }

  /** Settles a hold to the metered amount (≤ the hold); the rest goes back to available. */
  async settle(holdId: string, amountMicros: number): Promise<CloseResult | { ok: false; code: 'exceeds_hold' }> {
    assertMicros(amountMicros);
    const hold = await this.store.getHold(holdId);
    if (!hold) return { ok: false, code: 'hold_not_found' };
    if (amountMicros < 0 || amountMicros > hold.amount_micros - hold.captured_micros) return { ok: false, code: 'exceeds_hold' };
    return this.close(hold, 'settled', amountMicros);
  }

  /**
   * Settles `amountMicros` of an open hold now and keeps it open (a booking's delivered hour, SPEC §11), with its
   * usage record. Capture `n` of a hold is one posting (its id from the hold and n): asked again, it is a replay.
   * Captures are sequential: each is conditioned on what the hold had captured before it.
   */
  async capture(holdId: string, n: number, amountMicros: number, usage: Omit<UsageRecord, 'facilities'>): Promise<CaptureResult> {
    assert(Number.isSafeInteger(n) && n >= 0, 'a capture number is a whole number');
    assertMicros(amountMicros);
    const hold = await this.store.getHold(holdId);
    if (!hold) return { ok: false, code: 'hold_not_found' };
    const postingId = derivedId('pst', hold.id, 'capture', String(n));
    // Capture n landed before (a retry after a lost reply, or two callers billing the same hour): a replay.
    if (await this.store.getPosting(postingId)) return { ok: true, hold, replayed: true };
    if (hold.status !== 'open') return { ok: false, code: 'hold_closed' };
    if (amountMicros <= 0 || hold.captured_micros + amountMicros > hold.amount_micros) return { ok: false, code: 'exceeds_hold' };
    const facilities = splitBetween(hold.allocations, hold.captured_micros, hold.captured_micros + amountMicros).filter((a) => a.amount_micros > 0);
    return this.store.captureHold(hold, capturePosting(hold, amountMicros, postingId, usage.created_at, earnersOf(usage)), amountMicros, { ...usage, facilities });
  }

  /**
   * The request path's close: it still has the hold it took, so no read first. `usage` is the request
   * record, written in the same transaction; the amount is bounded by the hold (asserted).
   */
  closeWithUsage(hold: Hold, amountMicros: number, usage: Omit<UsageRecord, 'facilities'>): Promise<CloseResult> {
    assertMicros(amountMicros);
    assert(amountMicros <= hold.amount_micros, `settle ${amountMicros} exceeds the hold ${hold.amount_micros}`);
    const record: UsageRecord = { ...usage, facilities: spendByFacility(hold, amountMicros) };
    return this.close(hold, amountMicros > 0 ? 'settled' : 'released', amountMicros, record);
  }

  async release(holdId: string): Promise<CloseResult> {
    const hold = await this.store.getHold(holdId);
    if (!hold) return { ok: false, code: 'hold_not_found' };
    return this.close(hold, 'released', 0);
  }

  /** `settled`: what the close itself settles; what captures settled before counts in the hold's settled total. */
  private close(hold: Hold, status: 'settled' | 'released' | 'expired', extra: number, usage?: UsageRecord): Promise<CloseResult> {
    const settled = hold.captured_micros + extra;
    // A request's posting carries its record's time, so both fall in the same month for settlement.
    const at = usage?.created_at ?? this.clock().toISOString();
    const kind = status === 'settled' ? 'settle' : status === 'released' ? 'release' : 'expire';
    const split = usage && isBilled(usage) ? earnersOf(usage) : undefined;
    // One close per hold: its posting id derives from the hold, so a retried close cannot post twice.
    // A hold its captures spent whole has nothing left in reserved: its close only marks it closed.
    const posting = settled === hold.amount_micros && hold.captured_micros === settled ? null : closePosting(hold, settled, kind, derivedId('pst', hold.id, 'close'), at, split);
    return this.store.closeHold(hold, posting, status, settled, at, usage);
  }

  /** Releases every hold past its expiry (a request that crashed before settling). Bounded per run. */
  async sweepExpired(limitPerShard = MAX_SWEEP_PER_SHARD): Promise<{ expired: number; skipped: number }> {
    const now = this.clock().toISOString();
    let expired = 0;
    let skipped = 0;
    for (let shard = 0; shard < OPEN_HOLD_SHARDS; shard++) {
      for (const hold of await this.store.listExpiredHolds(shard, now, limitPerShard)) {
        // The index is eventually consistent: the hold may have closed since; closeHold's condition decides.
        const r = await this.close(hold, 'expired', 0);
        if (r.ok && !r.replayed) expired++;
        else skipped++;
      }
    }
    return { expired, skipped };
  }
}
