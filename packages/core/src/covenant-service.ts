/**
 * Covenants in use (SPEC §12): the lender sets them on its facility; the schedule evaluates every set, and
 * tells each new breach once (its event, and with `freeze` the facility frozen with the covenant as reason).
 *
 * Told once: a new breach is stored first as breached and not yet notified; then it is told; then marked
 * notified. A run that fails in between leaves it unnotified, and the next run tells it again with the same
 * facts (the breach's start), which the event store answers as the same event.
 */
import type { Facility } from './facilities.js';
import type { Caller, Lending } from './lending.js';
import { now } from './clock.js';
import { forEachInPartitions } from './partitions.js';
import type { Clock } from './credits.js';
import {
  COVENANT_PAGE, COVENANT_SHARDS, checkCovenants, covenantReason, evaluate, statesFor,
  type Covenant, type CovenantSet, type CovenantState, type CovenantStore, type CovenantRefusal,
} from './covenants.js';

/** Tells a breach: emits its event (and facility.frozen when `frozen` is the facility it froze). Throws to retry next run. */
export type BreachTeller = (f: Facility, c: Covenant, s: CovenantState, frozen: Facility | null) => Promise<void>;

export interface CovenantCheckReport {
  sets: number;
  evaluated: number;
  breaches_told: number;
  frozen: number;
  /** Sets skipped: their facility is gone or recovered, or the lender changed them during the run. */
  skipped: number;
  failures: number;
}

const OPERATOR: Caller = { role: 'operator', lender_id: null };
const MAX_SET_ATTEMPTS = 3;
/** Pages one run reads from one partition: a bound (100 × 100 sets a partition), not a need. */
const MAX_PAGES_PER_SHARD = 100;

export class Covenants {
  constructor(
    private readonly store: CovenantStore,
    private readonly lending: Lending,
    private readonly clock: Clock = now,
  ) {}

  /** The facility's covenants as its lender (or an operator) sees them; null when the facility is not theirs. */
  async get(caller: Caller, facilityId: string): Promise<{ facility: Facility; set: CovenantSet | null } | null> {
    const facility = await this.lending.get(caller, facilityId);
    return facility ? { facility, set: await this.store.getCovenants(facilityId) } : null;
  }

  /** Replaces the facility's covenants; a kind kept keeps its state (a breach in course is not told again). */
  async set(caller: Caller, facilityId: string, covenants: Covenant[]): Promise<{ ok: true; set: CovenantSet } | CovenantRefusal | { ok: false; code: 'not_found' | 'facility_recovered' | 'contention' }> {
    const checked = checkCovenants(covenants);
    if (!checked.ok) return checked;
    for (let attempt = 0; attempt < MAX_SET_ATTEMPTS; attempt++) {
      const found = await this.get(caller, facilityId);
      if (!found) return { ok: false, code: 'not_found' };
      if (found.facility.status === 'recovered') return { ok: false, code: 'facility_recovered' };
      const prev = found.set;
      const set: CovenantSet = {
        facility_id: facilityId, lender_id: found.facility.lender_id, startup_id: found.facility.startup_id, covenants,
        states: statesFor(covenants, prev?.states ?? []), updated_at: this.clock().toISOString(), version: (prev?.version ?? 0) + 1,
      };
      const r = await this.store.putCovenants(set);
      if (r.ok) return r;
    }
    return { ok: false, code: 'contention' };
  }

  /** One run of the schedule: every set of every partition, bounded. */
  async checkAll(tell: BreachTeller): Promise<CovenantCheckReport> {
    const report: CovenantCheckReport = { sets: 0, evaluated: 0, breaches_told: 0, frozen: 0, skipped: 0, failures: 0 };
    await forEachInPartitions(COVENANT_SHARDS, MAX_PAGES_PER_SHARD, (shard, cursor) => this.store.listCovenantSets(shard, COVENANT_PAGE, cursor), (set) => this.checkOne(set, tell, report));
    return report;
  }

  private async checkOne(set: CovenantSet, tell: BreachTeller, report: CovenantCheckReport): Promise<void> {
    report.sets++;
    const f = await this.lending.get(OPERATOR, set.facility_id);
    if (!f || f.status === 'recovered' || set.covenants.length === 0) {
      report.skipped++;
      return;
    }
    const at = this.clock().toISOString();
    const evaluated = evaluate(set, await this.lending.view(f), at);
    report.evaluated += evaluated.length;
    let current: CovenantSet = { ...set, states: evaluated.map((e) => e.state), updated_at: at, version: set.version + 1 };
    const stored = await this.store.putCovenants(current);
    if (!stored.ok) {
      report.skipped++; // the lender changed the set meanwhile: the next run evaluates the new one
      return;
    }
    for (const e of evaluated) {
      if (!e.state.breached || e.state.notified) continue;
      try {
        const frozen = e.covenant.action === 'freeze' ? await this.freeze(f, covenantReason(e.covenant, e.state)) : null;
        await tell(f, e.covenant, e.state, frozen);
        report.breaches_told++;
        if (frozen) report.frozen++;
        current = { ...current, states: current.states.map((s) => (s.kind === e.state.kind ? { ...s, notified: true } : s)), version: current.version + 1 };
        if (!(await this.store.putCovenants(current)).ok) return; // told again next run, as the same event
      } catch {
        report.failures++;
      }
    }
  }

  /** Freezes with the covenant as reason; null when it was already frozen (by its lender or another covenant). */
  private async freeze(f: Facility, reason: string): Promise<Facility | null> {
    if (f.status !== 'active') return null;
    const r = await this.lending.freeze(OPERATOR, f.id, reason);
    return r && !('code' in r) && r.status === 'frozen' ? r : null;
  }
}
