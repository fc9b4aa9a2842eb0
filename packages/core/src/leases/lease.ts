/**
 * Credit leases (SPEC §2): credit moved out of a facility's `available` into its `leased` account ahead of
 * need, spent from in memory by one holder (leases/holder.ts), and closed by one posting when the lease ends.
 *
 * Between take and close, what the holder settled is kept in its flushes: each flush is one item holding a
 * batch of request records and the journal counters they add (the spend, each provider's accrual, the
 * margin, and the usage, provider-hour and burn buckets). The close sums the flushes' journals into the
 * ledger posting and the shared buckets, and turns the billed records into record pages for settlement,
 * so items shared between holders are written once a lease, not once a request, and a batch of requests
 * costs one item write, not one per request.
 *
 * Invariants (asserted here and by the store's conditions):
 *  L1. spent ≤ amount: a lease never spends more than it took.
 *  L2. The close posting moves exactly the lease's amount out of `leased`: spent to `spent`, the rest back.
 *  L3. Σ provider accruals + Σ margins = spent = Σ billed records' cost (startup spend = provider earnings +
 *      margin, and the records settlement reads agree with the ledger).
 *  L4. A lease closes once (open → closed, conditioned); a flush lands only on an open lease, in sequence.
 */
import { assert, assertMicros } from '../money.js';
import { ACCRUAL_SHARDS, MARKET_SHARDS, accruedAccount, checkPosting, facilityAccount, marginAccount, mergeLines, salesAccount, transfer, type Posting, type PostingLine } from '../ledger.js';
import { shardOf } from '../ids.js';
import { isBilled, type UsageRecord } from '../usage.js';
import type { BilledRecord } from '../settlement.js';

/** Reservations stop this long after the take; spending (requests already reserved) stops LEASE_SPEND_S later. */
export const DEFAULT_LEASE_RESERVE_S = 20;
/** How long a request reserved at the last moment may still run and spend (streams are cut at the lease's expiry). */
export const DEFAULT_LEASE_SPEND_S = 300;
/** The sweeper closes a lease this long after its expiry, so a holder's last flush lands first. */
export const LEASE_SWEEP_GRACE_S = 60;
/** Bounds on any lease's life, whatever the configuration: the freeze's exposure_ends_at rests on it. */
export const MAX_LEASE_RESERVE_S = 120;
export const MAX_LEASE_SPEND_S = 900;
/** The most one lease may take (10,000 USD): bounds what a dropped holder can leave out until the sweeper. */
export const MAX_LEASE_MICROS = 10_000_000_000;
/**
 * Distinct buckets (usage days, provider hours, burn hours, accrual periods×providers) one lease may journal
 * before it takes no more reservations. Its close writes the posting and as many buckets as fit in one
 * transaction, the rest in follow-ups (buckets are counters, not money: the posting is in the first).
 */
export const MAX_LEASE_GROUPS = 48;
/** Accrual and margin groups: each is a line of the close posting, which must stay within MAX_LINES_PER_POSTING. */
export const MAX_LEASE_ECON_GROUPS = 12;

/** The accrual and margin groups among a lease's groups (journalGroups' names). */
export const econGroups = (groups: Iterable<string>): number => [...groups].filter((g) => g.startsWith('["accrued"') || g.startsWith('["margin"')).length;
/** DynamoDB caps an expression at 4 KB: a flush's counter updates stay well under it. */
export const MAX_COUNTERS_PER_FLUSH = 64;
/** One flush item: its records (about 800 bytes each) keep it far under DynamoDB's 400 KB item limit. */
export const MAX_RECORDS_PER_FLUSH = 50;
/** The most requests one lease serves: bounds what its close reads (its flushes) and writes (its record pages). */
export const MAX_RECORDS_PER_LEASE = 4_096;
/** Billed records per record page (one item, about 230 bytes a record: far under 400 KB). */
export const RECORDS_PER_PAGE = 1_024;

export type LeaseStatus = 'open' | 'closed';

export interface Lease {
  id: string;
  holder_id: string;
  startup_id: string;
  facility_id: string;
  /** The key budget slot the lease also draws on (key-budgets.ts: the key's sha256, or that and the period), or null. */
  budget_key: string | null;
  amount_micros: number;
  created_at: string;
  /** No reservation against the lease at or after this. */
  reserve_until: string;
  /** No spending after this: the holder cuts requests still running; the sweeper closes it after LEASE_SWEEP_GRACE_S. */
  expires_at: string;
  status: LeaseStatus;
  /** Flushes applied: each flush is conditioned on the count it read, so none lands twice or out of order. */
  flush_seq: number;
}

/** A journal: counter name → amount. Names are JSON tuples (see journalEntries), so any id is safe in them. */
export type Journal = Map<string, number>;

const name = (...parts: (string | number)[]): string => JSON.stringify(parts);

/** How long a lease lives: what the freeze's exposure_ends_at is computed from. */
export interface LeaseTiming {
  reserve_s: number;
  spend_s: number;
}

export function checkTiming(t: LeaseTiming): LeaseTiming {
  assert(Number.isInteger(t.reserve_s) && t.reserve_s >= 1 && t.reserve_s <= MAX_LEASE_RESERVE_S, `lease reserve window in [1, ${MAX_LEASE_RESERVE_S}] s`);
  assert(Number.isInteger(t.spend_s) && t.spend_s >= 1 && t.spend_s <= MAX_LEASE_SPEND_S, `lease spend window in [1, ${MAX_LEASE_SPEND_S}] s`);
  return t;
}

/** The longest a lease taken at any moment may still spend after it: the freeze's exposure bound in time. */
export const maxLeaseLifeMs = (t: LeaseTiming): number => (t.reserve_s + t.spend_s) * 1000;

export function newLease(fields: Omit<Lease, 'reserve_until' | 'expires_at' | 'status' | 'flush_seq'>, timing: LeaseTiming): Lease {
  assertMicros(fields.amount_micros);
  assert(fields.amount_micros > 0 && fields.amount_micros <= MAX_LEASE_MICROS, `a lease takes (0, ${MAX_LEASE_MICROS}] micros`);
  checkTiming(timing);
  const t0 = Date.parse(fields.created_at);
  return {
    ...fields,
    reserve_until: new Date(t0 + timing.reserve_s * 1000).toISOString(),
    expires_at: new Date(t0 + maxLeaseLifeMs(timing)).toISOString(),
    status: 'open',
    flush_seq: 0,
  };
}

/** Taking a lease: available → leased, refused while the facility is frozen (as a reservation is). */
export function takePosting(lease: Lease, postingId: string): Posting {
  return checkPosting({
    id: postingId,
    kind: 'lease',
    lines: transfer(facilityAccount(lease.facility_id, 'available'), facilityAccount(lease.facility_id, 'leased'), lease.amount_micros, { requiresUnfrozen: true }),
    created_at: lease.created_at,
    refs: { lease_id: lease.id, startup_id: lease.startup_id, holder_id: lease.holder_id },
  });
}

/** The usage-day figures a request adds to, in the order of UsageFigures. */
const DAY_FIGURES = ['requests', 'errors', 'estimated', 'prompt_tokens', 'completion_tokens', 'gpu_microseconds', 'cost_micros'] as const;

/** The journal counters one settled request adds (all non-negative; zero ones left out). */
export function journalEntries(r: UsageRecord): [string, number][] {
  const day = r.created_at.slice(0, 10);
  const hour = r.created_at.slice(0, 13);
  const period = r.created_at.slice(0, 7);
  const dayValues = [1, r.outcome === 'ok' ? 0 : 1, r.estimated ? 1 : 0, r.prompt_tokens, r.completion_tokens, r.gpu_microseconds, r.cost_micros];
  const out: [string, number][] = DAY_FIGURES.map((f, i) => [name('day', day, r.key_id, r.provider_id, r.model, f), dayValues[i]!]);
  if (r.cost_micros > 0) out.push([name('spent'), r.cost_micros], [name('burn', hour), r.cost_micros]);
  if (isBilled(r)) {
    out.push(
      [name('accrued', r.provider_id, period), r.provider_micros],
      [name('margin', period), r.margin_micros],
      [name('phour', r.provider_id, hour, 'requests'), 1],
      [name('phour', r.provider_id, hour, `gpu_us_${r.accelerator}`), r.gpu_microseconds],
      [name('phour', r.provider_id, hour, 'earnings_micros'), r.provider_micros],
    );
  }
  return out.filter(([, v]) => v !== 0);
}

/** The buckets (distinct items) a journal's close writes besides the posting: bounded by MAX_LEASE_GROUPS. */
export function journalGroups(names: Iterable<string>): Set<string> {
  const groups = new Set<string>();
  for (const n of names) {
    const [kind, ...rest] = JSON.parse(n) as string[];
    if (kind === 'day') groups.add(JSON.stringify(['day', ...rest.slice(0, 4)]));
    else if (kind === 'phour') groups.add(JSON.stringify(['phour', ...rest.slice(0, 2)]));
    else if (kind !== 'spent') groups.add(n);
  }
  return groups;
}

/** What a journal says its lease has spent (its requests' billed cost). */
export const spentOf = (j: Journal): number => j.get(name('spent')) ?? 0;

export function addToJournal(j: Journal, entries: readonly [string, number][]): void {
  for (const [k, v] of entries) {
    assert(Number.isSafeInteger(v) && v >= 0, `journal counter ${k} adds ${v}`);
    j.set(k, (j.get(k) ?? 0) + v);
  }
}

export interface UsageDayChange { day: string; key_id: string; provider_id: string; model: string; figures: Record<(typeof DAY_FIGURES)[number], number> }
export interface ProviderHourChange { provider_id: string; hour: string; figures: Record<string, number> }
export interface BurnChange { facility_id: string; hour: string; spent_micros: number }
/** What the lease's facility spent on one provider and model in one day. */
export interface FacilityModelDay { day: string; provider_id: string; model: string; spent_micros: number }

/** A page of a lease's billed records of one provider and month, where settlement reads them (the month is the one the accrual is posted in). */
export interface RecordPage { provider_id: string; period: string; n: number; records: BilledRecord[] }

/** What a lease's close writes: one posting, its record pages, and the shared buckets, each once. */
export interface LeaseClose {
  posting: Posting;
  record_pages: RecordPage[];
  spent_micros: number;
  usage_days: UsageDayChange[];
  provider_hours: ProviderHourChange[];
  burns: BurnChange[];
  facility_models: FacilityModelDay[];
  /** The key budget's refund of what the lease took and did not spend; null without a budget. */
  budget: { slot: string; refund: number; spent: number } | null;
}

/**
 * The close of a lease from its journal. `periodFor` maps a request's month to the month its economics are
 * posted in (itself, unless that month was already settled: then the month the lease closes in).
 */
export function closeOf(lease: Lease, journal: Journal, records: readonly UsageRecord[], at: string, postingId: string, periodFor: (period: string) => string = (p) => p): LeaseClose {
  const spent = spentOf(journal);
  assert(spent >= 0 && spent <= lease.amount_micros, `L1: lease ${lease.id} spent ${spent} of ${lease.amount_micros}`);
  const market = shardOf(lease.id, MARKET_SHARDS);
  const accrual = shardOf(lease.id, ACCRUAL_SHARDS);
  const lines: PostingLine[] = [
    ...transfer(facilityAccount(lease.facility_id, 'leased'), facilityAccount(lease.facility_id, 'spent'), spent),
    ...transfer(facilityAccount(lease.facility_id, 'leased'), facilityAccount(lease.facility_id, 'available'), lease.amount_micros - spent),
  ];
  const days = new Map<string, UsageDayChange>();
  const hours = new Map<string, ProviderHourChange>();
  const burns: BurnChange[] = [];
  let economics = 0;
  for (const [key, value] of journal) {
    const [kind, ...p] = JSON.parse(key) as string[];
    if (kind === 'accrued') {
      lines.push(...transfer(salesAccount(periodFor(p[1]!), market), accruedAccount(p[0]!, periodFor(p[1]!), accrual), value));
      economics += value;
    } else if (kind === 'margin') {
      lines.push(...transfer(salesAccount(periodFor(p[0]!), market), marginAccount(periodFor(p[0]!), market), value));
      economics += value;
    } else if (kind === 'burn') burns.push({ facility_id: lease.facility_id, hour: p[0]!, spent_micros: value });
    else if (kind === 'day') {
      const id = JSON.stringify(p.slice(0, 4));
      const d = days.get(id) ?? { day: p[0]!, key_id: p[1]!, provider_id: p[2]!, model: p[3]!, figures: { requests: 0, errors: 0, estimated: 0, prompt_tokens: 0, completion_tokens: 0, gpu_microseconds: 0, cost_micros: 0 } };
      d.figures[p[4] as (typeof DAY_FIGURES)[number]] += value;
      days.set(id, d);
    } else if (kind === 'phour') {
      const id = JSON.stringify(p.slice(0, 2));
      const h = hours.get(id) ?? { provider_id: p[0]!, hour: p[1]!, figures: {} };
      h.figures[p[2]!] = (h.figures[p[2]!] ?? 0) + value;
      hours.set(id, h);
    } else assert(kind === 'spent', `unknown journal counter ${key}`);
  }
  // L3: every billed micro is split between a provider's accrual and the margin.
  const billed = [...days.values()].filter((d) => d.provider_id !== '-').reduce((s, d) => s + d.figures.cost_micros, 0);
  const pages = recordPages(records, periodFor);
  const paged = pages.reduce((s, p) => s + p.records.reduce((t, r) => t + r.cost_micros, 0), 0);
  assert(economics === spent && billed === spent && paged === spent, `L3: lease ${lease.id} spent ${spent}, accrued + margin ${economics}, billed days ${billed}, billed records ${paged}`);
  const posting = checkPosting({ id: postingId, kind: 'lease_close', lines: mergeLines(lines), created_at: at, refs: { lease_id: lease.id, startup_id: lease.startup_id, holder_id: lease.holder_id } });
  return {
    posting,
    record_pages: pages,
    facility_models: facilityModels(days.values()),
    spent_micros: spent,
    usage_days: [...days.values()],
    provider_hours: [...hours.values()],
    burns,
    budget: lease.budget_key ? { slot: lease.budget_key, refund: lease.amount_micros - spent, spent } : null,
  };
}

/** The billed records of a lease by provider and posting month, in pages of RECORDS_PER_PAGE. */
function recordPages(records: readonly UsageRecord[], periodFor: (period: string) => string): RecordPage[] {
  assert(records.length <= MAX_RECORDS_PER_LEASE, `a lease serves at most ${MAX_RECORDS_PER_LEASE} requests, got ${records.length}`);
  const groups = new Map<string, { provider_id: string; period: string; records: BilledRecord[] }>();
  const seen = new Set<string>();
  for (const r of records) {
    assert(!seen.has(r.request_id), `request ${r.request_id} flushed twice`);
    seen.add(r.request_id);
    if (!isBilled(r)) continue;
    const period = periodFor(r.created_at.slice(0, 7));
    const id = JSON.stringify([r.provider_id, period]);
    const g = groups.get(id) ?? { provider_id: r.provider_id, period, records: [] };
    g.records.push({ request_id: r.request_id, startup_id: r.startup_id, accelerator: r.accelerator, workload: r.workload, gpu_microseconds: r.gpu_microseconds, cost_micros: r.cost_micros, provider_micros: r.provider_micros, margin_micros: r.margin_micros });
    groups.set(id, g);
  }
  const pages: RecordPage[] = [];
  for (const g of groups.values()) {
    for (let n = 0; n * RECORDS_PER_PAGE < g.records.length; n++) pages.push({ provider_id: g.provider_id, period: g.period, n, records: g.records.slice(n * RECORDS_PER_PAGE, (n + 1) * RECORDS_PER_PAGE) });
  }
  return pages;
}

/** The billed usage days summed over keys: what the lease's facility spent per day, provider and model. */
function facilityModels(days: Iterable<UsageDayChange>): FacilityModelDay[] {
  const out = new Map<string, FacilityModelDay>();
  for (const d of days) {
    if (d.provider_id === '-' || d.figures.cost_micros === 0) continue;
    const id = JSON.stringify([d.day, d.provider_id, d.model]);
    const m = out.get(id) ?? { day: d.day, provider_id: d.provider_id, model: d.model, spent_micros: 0 };
    m.spent_micros += d.figures.cost_micros;
    out.set(id, m);
  }
  return [...out.values()];
}
