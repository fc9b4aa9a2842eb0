/**
 * Lender operations on facilities (SPEC §3): open, read figures, freeze, unfreeze, recover.
 * Tenancy: a facility is visible only to its lender (or an operator); anyone else gets not_found,
 * exactly as if it did not exist.
 */
import { derivedId, newId } from './ids.js';
import {
  MAX_FACILITIES_PER_STARTUP, facilityFigures, newFacility, recoveryPosting, recoveryStatement,
  type Facility, type FacilityFigures, type FacilityTerms, type RecoveryStatement,
} from './facilities.js';
import { facilityAccount, facilityAccounts } from './ledger.js';
import { loanOwedAccount, originationPosting } from './loans.js';
import type { Clock } from './credits.js';
import { now } from './clock.js';
import type { FacilityStore, IdempotencyClaim, IdempotencyStore, Idempotent, LedgerStore, Page, TenantStore } from './store.js';

export interface Caller {
  role: 'operator' | 'lender';
  /** The lender's id; null for an operator. */
  lender_id: string | null;
}

/** The figures, and the fees the startup owes the lender (loans.ts: the loan's own account, never part of the credit). */
export type FacilityView = Facility & FacilityFigures & { fees_owed_micros: number };

/** What lending needs: facilities, the tenants a facility names, its balances and burn, and replays of a recovery. */
export type LendingStore = FacilityStore & IdempotencyStore & Pick<TenantStore, 'getLender' | 'getStartup'> & Pick<LedgerStore, 'getBalances' | 'getBalancesSnapshot' | 'spendBetween'>;

const HOUR_MS = 3_600_000;
/** Recovery retries when a hold closes between reading the balance and moving it. */
const MAX_RECOVERY_ATTEMPTS = 5;

export class Lending {
  constructor(
    private readonly store: LendingStore,
    private readonly clock: Clock = now,
  ) {}

  private visible(f: Facility | null, caller: Caller): Facility | null {
    if (!f) return null;
    return caller.role === 'operator' || f.lender_id === caller.lender_id ? f : null;
  }

  /** `idem.replyOf` shapes the reply stored for replays from the facility created. */
  async open(
    caller: Caller,
    terms: Omit<FacilityTerms, 'lender_id'> & { lender_id?: string },
    idem?: Omit<IdempotencyClaim, 'reply'> & { replyOf: (f: Facility) => unknown },
  ): Promise<Idempotent<Facility> | { ok: false; code: 'startup_not_found' | 'lender_not_found' | 'too_many_facilities' }> {
    const lenderId = caller.role === 'lender' ? caller.lender_id! : terms.lender_id;
    if (!lenderId || !(await this.store.getLender(lenderId))) return { ok: false, code: 'lender_not_found' };
    if (!(await this.store.getStartup(terms.startup_id))) return { ok: false, code: 'startup_not_found' };
    const existing = await this.store.listFacilitiesByStartup(terms.startup_id, MAX_FACILITIES_PER_STARTUP);
    const at = this.clock().toISOString();
    const id = idem ? derivedId('fac', idem.scope, idem.key) : newId('fac');
    const { facility, grant } = newFacility(id, { ...terms, lender_id: lenderId }, at);
    if (existing.length >= MAX_FACILITIES_PER_STARTUP && !existing.some((f) => f.id === id)) return { ok: false, code: 'too_many_facilities' };
    const claim = idem && { scope: idem.scope, key: idem.key, request_hash: idem.request_hash, status_code: idem.status_code, reply: idem.replyOf(facility) };
    return this.store.openFacility(facility, Object.values(facilityAccounts(id)), grant, originationPosting(facility), claim);
  }

  async get(caller: Caller, id: string): Promise<Facility | null> {
    return this.visible(await this.store.getFacility(id), caller);
  }

  async list(caller: Caller, lenderId: string | null, limit: number, cursor?: string): Promise<Page<Facility>> {
    const target = caller.role === 'lender' ? caller.lender_id : lenderId;
    return this.store.listFacilitiesByLender(target, limit, cursor);
  }

  /** The visibility figures: balances read consistently, burn from hourly spend buckets. */
  async view(f: Facility): Promise<FacilityView> {
    const names = facilityAccounts(f.id);
    // A snapshot: a plain batch read can land in the middle of a settle and see money in two places.
    const balances = await this.store.getBalancesSnapshot([...Object.values(names).map((a) => a.id), loanOwedAccount(f.id)]);
    const bal = (k: keyof typeof names) => balances.get(names[k].id)?.balance_micros ?? 0;
    const now = this.clock();
    const iso = (ms: number) => new Date(ms).toISOString();
    const [burn24h, burn7d] = await Promise.all([
      this.store.spendBetween(f.id, iso(now.getTime() - 23 * HOUR_MS), now.toISOString()),
      this.store.spendBetween(f.id, iso(now.getTime() - (7 * 24 - 1) * HOUR_MS), now.toISOString()),
    ]);
    const figures = facilityFigures(
      f,
      { available_micros: bal('available'), reserved_micros: bal('reserved'), leased_micros: bal('leased'), spent_micros: bal('spent'), recovered_micros: bal('recovered'), granted_micros: -bal('funding') },
      burn24h,
      burn7d,
    );
    return { ...f, ...figures, fees_owed_micros: balances.get(loanOwedAccount(f.id))?.balance_micros ?? 0 };
  }

  /** A startup's facilities (at most MAX_FACILITIES_PER_STARTUP), for routes the startup itself calls. */
  facilitiesOf(startupId: string): Promise<Facility[]> {
    return this.store.listFacilitiesByStartup(startupId, MAX_FACILITIES_PER_STARTUP);
  }

  /** A startup's credits (SPEC §4 GET /v1/credits): each facility's figures in draw order, and the totals. */
  async creditsOf(startupId: string) {
    const facilities = await this.store.listFacilitiesByStartup(startupId, MAX_FACILITIES_PER_STARTUP);
    const views = await Promise.all(facilities.map((f) => this.view(f)));
    const total = (k: 'granted_micros' | 'spent_micros' | 'reserved_micros' | 'leased_micros' | 'available_micros' | 'frozen_micros') => views.reduce((s, v) => s + v[k], 0);
    return {
      granted_micros: total('granted_micros'),
      spent_micros: total('spent_micros'),
      reserved_micros: total('reserved_micros'),
      leased_micros: total('leased_micros'),
      frozen_micros: total('frozen_micros'),
      // What new requests can draw on: available on facilities that are neither frozen nor recovered.
      available_micros: views.filter((v) => v.status === 'active').reduce((s, v) => s + v.available_micros, 0),
      facilities: views,
    };
  }

  async freeze(caller: Caller, id: string, reason: string): Promise<Facility | null | { code: 'facility_recovered' | 'facility_matured' }> {
    const f = await this.get(caller, id);
    if (!f) return null;
    if (f.status === 'recovered' || f.status === 'matured') return { code: `facility_${f.status}` };
    // Freezing a frozen facility changes nothing (the first reason and time stand).
    if (f.status === 'frozen') return f;
    return this.store.setFacilityFrozen(id, true, reason, this.clock().toISOString());
  }

  async unfreeze(caller: Caller, id: string): Promise<Facility | null | { code: 'facility_recovered' | 'facility_matured' }> {
    const f = await this.get(caller, id);
    if (!f) return null;
    if (f.status === 'recovered' || f.status === 'matured') return { code: `facility_${f.status}` };
    if (f.status === 'active') return f;
    return this.store.setFacilityFrozen(id, false, null, this.clock().toISOString());
  }

  /**
   * Recovery on default: the facility must be frozen first (so no new reservation races the
   * recovery); open holds still settle afterwards, and what they release stays in available.
   */
  async recover(caller: Caller, id: string, idem?: IdempotencyClaim): Promise<
    { ok: true; replayed: boolean; statement: RecoveryStatement } | { ok: false; code: 'not_found' | 'facility_not_frozen' | 'facility_matured' | 'already_recovered' | 'idempotency_conflict' | 'contention' }
  > {
    for (let attempt = 0; attempt < MAX_RECOVERY_ATTEMPTS; attempt++) {
      const f = await this.get(caller, id);
      if (!f) return { ok: false, code: 'not_found' };
      if (f.status === 'recovered') {
        // A replay of the same request gets the same statement; a new request is told it is done.
        const replay = idem ? await this.store.findReplay(idem) : null;
        if (replay?.ok && replay.replayed) return { ok: true, replayed: true, statement: replay.reply as RecoveryStatement };
        if (replay) return { ok: false, code: 'idempotency_conflict' };
        return { ok: false, code: 'already_recovered' };
      }
      // A matured facility's unspent credit is recovered by the loan-servicing schedule (loan-service.ts).
      if (f.status === 'matured') return { ok: false, code: 'facility_matured' };
      if (f.status !== 'frozen') return { ok: false, code: 'facility_not_frozen' };
      const available = (await this.store.getBalances([facilityAccount(id, 'available')])).get(facilityAccount(id, 'available'))?.balance_micros ?? 0;
      const at = this.clock().toISOString();
      const statement = recoveryStatement(f, available, at);
      const posting = available > 0 ? recoveryPosting(f, available, at, derivedId('pst', id, 'recover')) : null;
      const r = await this.store.recoverFacility(f, posting, available, statement, idem && { ...idem, reply: statement });
      if (r.ok) return { ok: true, replayed: r.replayed, statement };
      if (r.code !== 'balance_changed') return { ok: false, code: r.code === 'idempotency_conflict' ? 'idempotency_conflict' : 'contention' };
    }
    return { ok: false, code: 'contention' };
  }
}
