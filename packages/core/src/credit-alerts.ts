/**
 * `credits.low` (SPEC §12): thresholds a startup sets on its facilities' available credit. The covenant-check
 * schedule evaluates them with the covenants; a facility whose available credit falls below its threshold is low,
 * which is told to the startup once (the event `credits.low`); back above it, it is no longer low (no event), and
 * a later fall is told again. Told once as covenant breaches are: stored, told, marked (covenant-service.ts).
 */
import { MAX_FACILITIES_PER_STARTUP, type Facility } from './facilities.js';
import type { Lending } from './lending.js';
import { now } from './clock.js';
import { forEachInPartitions } from './partitions.js';
import type { Clock } from './credits.js';

/** Up to 1,000,000 USD: a threshold above any facility's credit would be told at once, which is what the startup asked. */
export const MAX_CREDIT_ALERT_MICROS = 1_000_000_000_000;
export const CREDIT_ALERT_SHARDS = 16;
const ALERT_PAGE = 100;
const MAX_PAGES_PER_SHARD = 100;

export interface CreditAlert { facility_id: string; threshold_micros: number }
export interface CreditAlertState { facility_id: string; available_micros: number | null; low: boolean; low_since: string | null; notified: boolean; evaluated_at: string | null }
export interface CreditAlertSet { startup_id: string; alerts: CreditAlert[]; states: CreditAlertState[]; updated_at: string; version: number }

export interface CreditAlertStore {
  getCreditAlerts(startupId: string): Promise<CreditAlertSet | null>;
  /** Writes the set as version `set.version`, provided the stored one is `set.version − 1` (or none, for 1). */
  putCreditAlerts(set: CreditAlertSet): Promise<{ ok: boolean }>;
  listCreditAlertSets(shard: number, limit: number, cursor?: string): Promise<{ items: CreditAlertSet[]; cursor: string | null }>;
}

/** Tells the startup its facility is low; throws to be retried next run. */
export type LowTeller = (f: Facility, alert: CreditAlert, s: CreditAlertState) => Promise<void>;

export type SetAlertsResult =
  | { ok: true; set: CreditAlertSet }
  | { ok: false; code: 'invalid_alert'; field: string; message: string }
  | { ok: false; code: 'facility_not_found' | 'contention' };

const fresh = (facilityId: string): CreditAlertState => ({ facility_id: facilityId, available_micros: null, low: false, low_since: null, notified: false, evaluated_at: null });

export class CreditAlerts {
  constructor(
    private readonly store: CreditAlertStore,
    private readonly lending: Lending,
    private readonly clock: Clock = now,
  ) {}

  get(startupId: string): Promise<CreditAlertSet | null> {
    return this.store.getCreditAlerts(startupId);
  }

  /** Replaces the startup's thresholds: each on one of its own facilities, once; a facility kept keeps its state. */
  async set(startupId: string, alerts: CreditAlert[]): Promise<SetAlertsResult> {
    if (alerts.length > MAX_FACILITIES_PER_STARTUP) return { ok: false, code: 'invalid_alert', field: 'alerts', message: `At most ${MAX_FACILITIES_PER_STARTUP} alerts, one per facility.` };
    const own = new Set((await this.lending.facilitiesOf(startupId)).map((f) => f.id));
    const seen = new Set<string>();
    for (const [i, a] of alerts.entries()) {
      if (!own.has(a.facility_id)) return { ok: false, code: 'facility_not_found' };
      if (seen.has(a.facility_id)) return { ok: false, code: 'invalid_alert', field: `alerts[${i}].facility_id`, message: 'One threshold per facility.' };
      seen.add(a.facility_id);
      if (!Number.isSafeInteger(a.threshold_micros) || a.threshold_micros < 1 || a.threshold_micros > MAX_CREDIT_ALERT_MICROS) {
        return { ok: false, code: 'invalid_alert', field: `alerts[${i}].threshold_micros`, message: `A whole number of micros in [1, ${MAX_CREDIT_ALERT_MICROS}].` };
      }
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      const prev = await this.store.getCreditAlerts(startupId);
      const set: CreditAlertSet = {
        startup_id: startupId, alerts, states: alerts.map((a) => prev?.states.find((s) => s.facility_id === a.facility_id) ?? fresh(a.facility_id)),
        updated_at: this.clock().toISOString(), version: (prev?.version ?? 0) + 1,
      };
      if ((await this.store.putCreditAlerts(set)).ok) return { ok: true, set };
    }
    return { ok: false, code: 'contention' };
  }

  /** One run: every set of every partition (bounded); returns how many falls were told and how many failed. */
  async checkAll(tell: LowTeller): Promise<{ sets: number; told: number; failures: number }> {
    const report = { sets: 0, told: 0, failures: 0 };
    await forEachInPartitions(CREDIT_ALERT_SHARDS, MAX_PAGES_PER_SHARD, (shard, cursor) => this.store.listCreditAlertSets(shard, ALERT_PAGE, cursor), (set) => this.checkOne(set, tell, report));
    return report;
  }

  private async checkOne(set: CreditAlertSet, tell: LowTeller, report: { sets: number; told: number; failures: number }): Promise<void> {
    report.sets++;
    const at = this.clock().toISOString();
    const facilities = new Map((await this.lending.facilitiesOf(set.startup_id)).map((f) => [f.id, f]));
    const states: CreditAlertState[] = [];
    for (const a of set.alerts) {
      const before = set.states.find((s) => s.facility_id === a.facility_id) ?? fresh(a.facility_id);
      const f = facilities.get(a.facility_id);
      if (!f || f.status === 'recovered') {
        states.push(before);
        continue;
      }
      const available = (await this.lending.view(f)).available_micros;
      const low = available < a.threshold_micros;
      const continuing = low && before.low;
      states.push({ facility_id: a.facility_id, available_micros: available, low, low_since: low ? (continuing ? before.low_since : at) : null, notified: continuing ? before.notified : false, evaluated_at: at });
    }
    let current: CreditAlertSet = { ...set, states, updated_at: at, version: set.version + 1 };
    if (!(await this.store.putCreditAlerts(current)).ok) return; // the startup changed them meanwhile: next run
    for (const s of states) {
      if (!s.low || s.notified) continue;
      try {
        await tell(facilities.get(s.facility_id)!, set.alerts.find((a) => a.facility_id === s.facility_id)!, s);
        report.told++;
        current = { ...current, states: current.states.map((x) => (x.facility_id === s.facility_id ? { ...x, notified: true } : x)), version: current.version + 1 };
        if (!(await this.store.putCreditAlerts(current)).ok) return;
      } catch {
        report.failures++;
      }
    }
  }
}
