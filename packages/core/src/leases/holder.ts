/**
 * A lease holder: what one execution environment (a Lambda container, or one process locally) uses to pay
 * for requests without touching the ledger on the request path (SPEC §2). It takes a lease ahead of need,
 * reserves and settles each request against it in memory, and after the reply flushes the settled requests
 * (records and journal counters) to the lease item, closes leases it is done with, and takes the next one
 * early. An object, not module state: tests run many holders in one process as Lambda runs many containers.
 *
 * Why it is right when Lambda freezes or drops the container: every request's flush runs inside its own
 * invocation after the reply's last byte (the handler awaits afterReply()), so a dropped container loses
 * only requests whose flush failed; those are unbilled (the sweeper closes the lease from what was flushed)
 * and never billed twice (flushes and the close are conditioned on the lease's flush count).
 */
import { assert } from '../money.js';
import { derivedId, newId } from '../ids.js';
import { now as clockNow } from '../clock.js';
import { drawOrder } from '../holds.js';
import { facilityAccount } from '../ledger.js';
import { MAX_FACILITIES_PER_STARTUP } from '../facilities.js';
import type { FacilityStore, FlushLeaseResult, LeaseStore, LedgerStore } from '../store.js';
import type { UsageRecord } from '../usage.js';
import { LeaseCloser } from './closer.js';
import { addToJournal, journalEntries, journalGroups, MAX_COUNTERS_PER_FLUSH, MAX_LEASE_ECON_GROUPS, MAX_LEASE_GROUPS, MAX_LEASE_MICROS, econGroups, MAX_RECORDS_PER_FLUSH, MAX_RECORDS_PER_LEASE, newLease, takePosting, type Journal, type Lease, type LeaseTiming } from './lease.js';

export type HolderStore = LeaseStore & Pick<FacilityStore, 'listFacilitiesByStartup'> & Pick<LedgerStore, 'getBalances'>;

export interface HolderConfig {
  timing: LeaseTiming;
  /** A first lease covers this many of the request's hold; later ones follow the holder's pace. */
  first_lease_holds: number;
  /** A lease takes at most this share of the facility's available credit (others' holders need some too). */
  max_share_of_available: number;
  /**
   * Group commit: while other requests on this holder are still running, a flush waits up to this long (real
   * time, after the reply) so that it carries theirs too. A Lambda container runs one request at a time, so
   * there it never waits; a local process serving many at once writes one flush for many requests.
   */
  flush_linger_ms: number;
  /** ... and stops waiting once this many settled requests are pending. */
  flush_batch_target: number;
  /**
   * Whether a flush also lingers when no other request is running, for the requests about to come: right only
   * where one holder serves many requests in turn (the local runtime, one process for every route). Never in a
   * Lambda container: it serves one request at a time, and would only be billed for the wait.
   */
  flush_linger_idle: boolean;
}

export const DEFAULT_HOLDER_CONFIG: Omit<HolderConfig, 'timing'> = { first_lease_holds: 16, max_share_of_available: 0.25, flush_linger_ms: 20, flush_batch_target: 16, flush_linger_idle: false };
/** The longest a group commit may hold a flush back (bounds what a crash can lose on top of the flush itself). */
export const MAX_FLUSH_LINGER_MS = 100;

/** Requests in flight on one lease at once (a local process shares one holder; a Lambda container has 1). */
const MAX_INFLIGHT_PER_LEASE = 64;
/** A flush batch left unwritten after this many rounds is given up: its requests stay unbilled (reported). */
const MAX_FLUSH_ROUNDS = 3;

interface Pending {
  record: UsageRecord;
  entries: [string, number][];
  rounds: number;
  /** Resolves once the record is written, or given up (then it is reported and stays unbilled). */
  done: () => void;
}

interface Live {
  lease: Lease;
  scope: string;
  reserve_until_ms: number;
  expires_at_ms: number;
  /** What is still free to reserve: amount − open reservations − settled spend. */
  free_micros: number;
  inflight: number;
  /** Requests reserved against it so far: at most MAX_RECORDS_PER_LEASE (what its close reads and pages). */
  served: number;
  groups: Set<string>;
  pending: Pending[];
  seq: number;
  /** A flush of this lease is on its way to the table: it must land before the lease may close. */
  flushing: boolean;
  retired: boolean;
  /** The sweeper closed it before a flush landed: nothing more can be flushed or reserved. */
  lost: boolean;
}

export interface LeaseReservation {
  readonly lease_id: string;
  readonly facility_id: string;
  amount_micros: number;
  /** Business time (ms) after which the request must stop spending: the lease's expiry. */
  readonly spend_until_ms: number;
  settled: boolean;
}

export interface ReserveAsk {
  startup_id: string;
  /** The key's sha256 when the key has a budget (the lease draws on it too), else null. */
  budget_key: string | null;
  /** The key's budget left as last read, to size the lease within it; null without a budget. */
  budget_left_micros: number | null;
  amount_micros: number;
}

/** `fallback`: no lease can cover this (strict or short facilities, budget, freeze): take a per-request hold. */
export type LeaseReserved = { ok: true; reservation: LeaseReservation } | { ok: false; code: 'fallback'; why: string };

export interface HolderReport {
  leases_taken: number;
  leases_closed: number;
  flushes: number;
  records_flushed: number;
  /** Settled requests whose flush could not land (unbilled): bounded, and reported here and in the log. */
  records_lost: number;
  micros_lost: number;
}

export type HolderLog = (level: 'info' | 'warn' | 'error', message: string, data: Record<string, unknown>) => void;

export class LeaseHolder {
  readonly id: string;
  private readonly live = new Map<string, Live>();
  private readonly current = new Map<string, Live>();
  private readonly taking = new Map<string, Promise<Live | string>>();
  /** Recent reserved micros per scope, per second (pace), for sizing the next lease. */
  private readonly pace = new Map<string, Map<number, number>>();
  private flushing: Promise<void> | null = null;
  /** Set while a flush lingers: settle() calls it so the flush starts as soon as its batch is complete. */
  private wake: (() => void) | null = null;
  private readonly closer: LeaseCloser;
  readonly report: HolderReport = { leases_taken: 0, leases_closed: 0, flushes: 0, records_flushed: 0, records_lost: 0, micros_lost: 0 };

  constructor(
    private readonly store: HolderStore,
    private readonly cfg: HolderConfig,
    private readonly clock: () => Date = clockNow,
    private readonly log?: HolderLog,
  ) {
    assert(Number.isInteger(cfg.flush_linger_ms) && cfg.flush_linger_ms >= 0 && cfg.flush_linger_ms <= MAX_FLUSH_LINGER_MS, `flush linger in [0, ${MAX_FLUSH_LINGER_MS}] ms`);
    assert(Number.isInteger(cfg.flush_batch_target) && cfg.flush_batch_target >= 1 && cfg.flush_batch_target <= MAX_RECORDS_PER_FLUSH, `flush batch target in [1, ${MAX_RECORDS_PER_FLUSH}]`);
    this.id = newId('hld');
    this.closer = new LeaseCloser(store, clock);
  }

  /** Reserves in memory from this holder's lease, taking one first if it has none that covers the ask. */
  async reserve(ask: ReserveAsk): Promise<LeaseReserved> {
    assert(Number.isSafeInteger(ask.amount_micros) && ask.amount_micros > 0, 'reserve a positive whole amount');
    const scope = `${ask.startup_id}|${ask.budget_key ?? '-'}`;
    let l = this.current.get(scope);
    // Twice at most: a lease taken for several waiting requests may be spent by the others before this one.
    for (let attempt = 0; !l || !this.usable(l, ask.amount_micros); attempt++) {
      if (attempt === 2) return { ok: false, code: 'fallback', why: 'lease_short' };
      const taken = await this.take(scope, ask);
      if (typeof taken === 'string') return { ok: false, code: 'fallback', why: taken };
      l = taken;
    }
    l.free_micros -= ask.amount_micros;
    l.inflight++;
    l.served++;
    this.notePace(scope, ask.amount_micros);
    return { ok: true, reservation: { lease_id: l.lease.id, facility_id: l.lease.facility_id, amount_micros: ask.amount_micros, spend_until_ms: l.expires_at_ms, settled: false } };
  }

  /** Progressive holds: more of the lease for a request already running, while the lease still reserves. */
  extend(r: LeaseReservation, byMicros: number): boolean {
    const l = this.live.get(r.lease_id);
    assert(l !== undefined && !r.settled, 'extend an open reservation of a live lease');
    if (l.lost || l.retired || this.nowMs() >= l.reserve_until_ms || l.free_micros < byMicros) return false;
    l.free_micros -= byMicros;
    r.amount_micros += byMicros;
    return true;
  }

  /**
   * Settles a reservation in memory; the record is written by a flush (afterReply). The promise resolves once
   * it is written or given up: the invocation that served it waits for that, and no longer.
   */
  settle(r: LeaseReservation, record: UsageRecord): Promise<void> {
    const l = this.live.get(r.lease_id);
    assert(l !== undefined, `settle against unknown lease ${r.lease_id}`);
    assert(!r.settled, `reservation on ${r.lease_id} settled twice`);
    assert(record.cost_micros >= 0 && record.cost_micros <= r.amount_micros, `cost ${record.cost_micros} outside the reservation ${r.amount_micros}`);
    r.settled = true;
    l.inflight--;
    l.free_micros += r.amount_micros - record.cost_micros;
    const entries = journalEntries(record);
    for (const g of journalGroups(entries.map(([k]) => k))) l.groups.add(g);
    let done!: () => void;
    const written = new Promise<void>((resolve) => (done = resolve));
    l.pending.push({ record, entries, rounds: 0, done });
    this.wake?.();
    return written;
  }

  /**
   * After the reply: flush what was settled (until `written`, this invocation's own record, is written when
   * given; else everything pending), close what is done, take the next lease early.
   */
  async afterReply(written?: Promise<void>): Promise<void> {
    let mine = false;
    void written?.then(() => (mine = true));
    for (let round = 0; round <= MAX_FLUSH_ROUNDS && this.hasPending() && !mine; round++) {
      if (!this.flushing) this.flushing = this.linger().then(() => this.flushRound()).finally(() => (this.flushing = null));
      await this.flushing;
      await Promise.resolve();
    }
    await this.closeFinished();
    await this.refillAhead();
  }

  /** Returns every lease (shutdown, tests): flushes, then closes all that have nothing in flight. */
  async closeAll(): Promise<void> {
    for (const l of this.live.values()) l.retired = true;
    // A flush on its way (another request's) must land before its lease may close.
    while (this.flushing) await this.flushing;
    await this.afterReply();
  }

  openLeases(): Lease[] {
    return [...this.live.values()].map((l) => l.lease);
  }

  private nowMs(): number {
    return this.clock().getTime();
  }

  private usable(l: Live, amount: number): boolean {
    // The groups bound keeps the close's posting within one transaction; a request in flight adds at most a
    // provider's accrual beyond it (few providers serve one startup at once), and buckets past it are chunked.
    return !l.lost && !l.retired && this.nowMs() < l.reserve_until_ms && l.free_micros >= amount && l.inflight < MAX_INFLIGHT_PER_LEASE && l.served < MAX_RECORDS_PER_LEASE && econGroups(l.groups) < MAX_LEASE_ECON_GROUPS && l.groups.size < MAX_LEASE_GROUPS;
  }

  private notePace(scope: string, micros: number): void {
    const s = Math.floor(this.nowMs() / 1000);
    const m = this.pace.get(scope) ?? new Map<number, number>();
    m.set(s, (m.get(s) ?? 0) + micros);
    for (const k of m.keys()) if (k <= s - this.cfg.timing.reserve_s) m.delete(k);
    this.pace.set(scope, m);
  }

  /** What this scope reserved over the last reserve window: a lease sized 1.5× that lasts the window. */
  private paceMicros(scope: string): number {
    const s = Math.floor(this.nowMs() / 1000);
    let sum = 0;
    for (const [k, v] of this.pace.get(scope) ?? []) if (k > s - this.cfg.timing.reserve_s) sum += v;
    return sum;
  }

  /** Takes a lease for the scope (one at a time per scope); a string says why none could be taken. */
  private take(scope: string, ask: ReserveAsk): Promise<Live | string> {
    const inFlight = this.taking.get(scope);
    if (inFlight) return inFlight;
    const p = this.takeNow(scope, ask).finally(() => this.taking.delete(scope));
    this.taking.set(scope, p);
    return p;
  }

  private async takeNow(scope: string, ask: ReserveAsk): Promise<Live | string> {
    const facilities = (await this.store.listFacilitiesByStartup(ask.startup_id, MAX_FACILITIES_PER_STARTUP))
      .filter((f) => f.status === 'active' && f.freeze_mode !== 'strict')
      .sort(drawOrder);
    if (facilities.length === 0) return 'no_leasable_facility';
    const balances = await this.store.getBalances(facilities.map((f) => facilityAccount(f.id, 'available')));
    // SPEC §3's draw order: the earliest-ending facility that can cover this request lends the lease.
    const f = facilities.find((x) => (balances.get(facilityAccount(x.id, 'available'))?.balance_micros ?? 0) >= ask.amount_micros);
    if (!f) return 'no_facility_covers';
    const available = balances.get(facilityAccount(f.id, 'available'))!.balance_micros;
    const want = Math.max(ask.amount_micros * this.cfg.first_lease_holds, Math.ceil(this.paceMicros(scope) * 1.5));
    const cap = Math.min(Math.floor(available * this.cfg.max_share_of_available), MAX_LEASE_MICROS, ask.budget_left_micros ?? MAX_LEASE_MICROS);
    const amount = Math.max(ask.amount_micros, Math.min(want, cap));
    if (ask.budget_left_micros !== null && amount > ask.budget_left_micros) return 'key_budget_short';
    const lease = newLease({ id: newId('lse'), holder_id: this.id, startup_id: ask.startup_id, facility_id: f.id, budget_key: ask.budget_key, amount_micros: amount, created_at: this.clock().toISOString() }, this.cfg.timing);
    const r = await this.store.takeLease(lease, takePosting(lease, derivedId('pst', lease.id, 'take')));
    if (!r.ok) return r.code;
    this.report.leases_taken++;
    const l: Live = {
      lease, scope, reserve_until_ms: Date.parse(lease.reserve_until), expires_at_ms: Date.parse(lease.expires_at), free_micros: amount,
      inflight: 0, served: 0, groups: new Set(), pending: [], seq: 0, flushing: false, retired: false, lost: false,
    };
    const prev = this.current.get(scope);
    if (prev) prev.retired = true;
    this.live.set(lease.id, l);
    this.current.set(scope, l);
    return l;
  }

  private batchComplete(): boolean {
    let inflight = 0;
    let pending = 0;
    for (const l of this.live.values()) {
      inflight += l.inflight;
      pending += l.pending.length;
    }
    return (inflight === 0 && !this.cfg.flush_linger_idle) || pending >= this.cfg.flush_batch_target;
  }

  /** Group commit: resolves once no request is still running (unless lingering idle), the batch is full, or the linger is up. */
  private linger(): Promise<void> {
    if (this.cfg.flush_linger_ms === 0 || this.batchComplete()) return Promise.resolve();
    return new Promise((resolve) => {
      const stop = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(stop, this.cfg.flush_linger_ms);
      this.wake = () => {
        if (this.batchComplete()) stop();
      };
    });
  }

  private hasPending(): boolean {
    for (const l of this.live.values()) if (l.pending.length > 0 && !l.lost) return true;
    return false;
  }

  /** One batch per lease with settled requests, each written as one create-only flush item. */
  private async flushRound(): Promise<void> {
    for (const l of [...this.live.values()]) {
      if (l.pending.length === 0 || l.lost) continue;
      const batch: Pending[] = [];
      const counters: Journal = new Map();
      for (const p of l.pending) {
        const names = new Set([...counters.keys(), ...p.entries.map(([k]) => k)]);
        if (batch.length >= MAX_RECORDS_PER_FLUSH || names.size > MAX_COUNTERS_PER_FLUSH) break;
        batch.push(p);
        addToJournal(counters, p.entries);
      }
      l.pending.splice(0, batch.length);
      l.flushing = true;
      // A throw (an error the store does not retry) counts as contention: the batch is tried again, then noted lost,
      // never dropped unseen (it was taken out of `pending` above).
      const r = await this.store.flushLease(l.lease, l.seq, counters, batch.map((p) => p.record))
        .catch((err: unknown): FlushLeaseResult => (this.log?.('warn', 'a lease flush failed; it is tried again', { lease_id: l.lease.id, error: String(err) }), { ok: false, code: 'contention' }))
        .finally(() => (l.flushing = false));
      if (r.ok) {
        l.seq++;
        this.report.flushes++;
        this.report.records_flushed += batch.length;
        for (const p of batch) p.done();
        continue;
      }
      if (r.code === 'lease_closed') l.lost = true;
      const retry = r.code === 'contention' ? batch.filter((p) => ++p.rounds < MAX_FLUSH_ROUNDS) : [];
      l.pending.unshift(...retry);
      const dropped = [...batch.filter((p) => !retry.includes(p)), ...(l.lost ? l.pending.splice(0) : [])];
      if (dropped.length > 0) this.noteLost(l, dropped, r.code);
    }
  }

  private noteLost(l: Live, dropped: Pending[], code: string): void {
    for (const p of dropped) p.done();
    const micros = dropped.reduce((s, p) => s + p.record.cost_micros, 0);
    this.report.records_lost += dropped.length;
    this.report.micros_lost += micros;
    this.log?.('error', 'settled requests could not be flushed; they stay unbilled', { lease_id: l.lease.id, code, requests: dropped.map((p) => p.record.request_id), micros });
  }

  /** Closes leases that reserve no more (retired, past their window, or lost) once nothing is in flight. */
  private async closeFinished(): Promise<void> {
    const t = this.nowMs();
    for (const l of [...this.live.values()]) {
      const done = l.lost || l.retired || t >= l.reserve_until_ms;
      if (!done || l.inflight > 0 || l.pending.length > 0 || l.flushing) continue;
      this.live.delete(l.lease.id);
      if (this.current.get(l.scope) === l) this.current.delete(l.scope);
      if (l.lost) continue;
      const r = await this.closer.close(l.lease.id);
      if (r.ok) this.report.leases_closed++;
      else this.log?.('warn', 'could not close a lease; the sweeper will', { lease_id: l.lease.id, code: r.code });
    }
  }

  /** Takes the next lease while this one still has a quarter of its credit and window left (after the reply). */
  private async refillAhead(): Promise<void> {
    const t = this.nowMs();
    for (const l of [...this.current.values()]) {
      if (l.retired || l.lost) continue;
      const windowMs = l.reserve_until_ms - Date.parse(l.lease.created_at);
      const low = l.free_micros < l.lease.amount_micros / 4 || l.reserve_until_ms - t < windowMs / 4;
      if (!low || this.taking.has(l.scope) || this.paceMicros(l.scope) === 0) continue;
      // Ahead of need: sized by pace. A key with a budget is left to take its next lease when it needs one.
      if (l.lease.budget_key !== null) continue;
      await this.take(l.scope, { startup_id: l.lease.startup_id, budget_key: null, budget_left_micros: null, amount_micros: Math.max(1, Math.ceil(this.paceMicros(l.scope) / 16)) });
    }
  }
}
