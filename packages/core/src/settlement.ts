/**
 * Monthly provider settlement (SPEC §7), the pure part. The state machine (infra/asl/provider-settlement.asl.json)
 * folds a provider's billed request records of one UTC month into a ProviderMonth, page by page; then
 * buildStatement checks those records against the ledger's accrual accounts to the micro, applies the
 * volume tier to all the month's GPU time, and builds the statement and its posting: the month's accruals
 * plus the premium move to the provider's payable. reconcileMonth checks the whole month at the end:
 * startup spend = provider earnings + marketplace margin.
 *
 * Invariants:
 *  S1. Every record: cost = provider + margin (and none negative).
 *  S2. Per accrual shard: Σ records' provider share = that accrual account's balance.
 *  S3. Month: Σ statements' spend = −Σ sales accounts; Σ base earnings + Σ margin = Σ spend;
 *      Σ premiums = −premium account; Σ margin = Σ margin accounts.
 * A statement is issued once per provider and month (its key and posting id derive from both).
 */
import { ACCRUAL_SHARDS, MARKET_SHARDS, accruedAccount, checkPosting, marginAccount, payableAccount, premiumAccount, salesAccount, type Posting, type PostingLine } from './ledger.js';
import { derivedId } from './ids.js';
import { assert } from './money.js';
import { premiumMicros, volumeTier, GPU_US_PER_HOUR, type VolumeTier } from './volume.js';
import type { RecordWorkload } from './usage.js';

/** A month is settled no earlier than this after it ends: a request admitted at 23:59 settles its hold within the hold's TTL (≤ 1 h). */
export const SETTLEMENT_GRACE_S = 3_600;
export const STATEMENT_DUE_DAYS = 30;
/** Statement lines: 3 accelerators × 5 segments (+ unknown) × 3 workloads is 54; the bound is a guard. */
export const MAX_STATEMENT_LINES = 64;
/**
 * Providers one run settles (every provider past review): bounds the state machine's item list (a
 * provider id and a small outcome each) and the reconcile reads. Over it, a run fails loudly.
 */
export const MAX_PROVIDERS_PER_SETTLEMENT = 1_000;
/** Failures kept on a run record: enough to act on, bounded so the item stays small. */
export const MAX_RUN_FAILURES = 100;
/** A run still `running` after this is taken as dead (its execution crashed): a new one may start. */
export const STALE_RUN_S = 24 * 3_600;
/** Failure reasons kept per provider: enough to act on. */
export const MAX_REASONS = 8;

export interface Period {
  period: string;
  /** First instant of the month (inclusive) and of the next (exclusive), UTC. */
  start: string;
  end: string;
  /** Payment due: 30 days after the period ends. */
  due_date: string;
}

const PERIOD_RE = /^(\d{4})-(0[1-9]|1[0-2])$/;

export function parsePeriod(s: string): Period | null {
  const m = PERIOD_RE.exec(s);
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  if (year < 2000 || year > 2999) return null;
  const start = new Date(Date.UTC(year, month - 1, 1));
  const end = new Date(Date.UTC(year, month, 1));
  const due = new Date(end.getTime() + STATEMENT_DUE_DAYS * 86_400_000);
  return { period: s, start: start.toISOString(), end: end.toISOString(), due_date: due.toISOString().slice(0, 10) };
}

/** The month before the one `at` falls in: what the schedule on the 1st settles. */
export function previousPeriod(at: Date): string {
  const d = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() - 1, 1));
  return d.toISOString().slice(0, 7);
}

/** When a period may be settled: its end plus the grace. */
export function settleableAt(p: Period): string {
  return new Date(Date.parse(p.end) + SETTLEMENT_GRACE_S * 1000).toISOString();
}

/** What settlement reads of a request record. */
export interface BilledRecord {
  request_id: string;
  startup_id: string;
  accelerator: string;
  workload: RecordWorkload;
  gpu_microseconds: number;
  cost_micros: number;
  provider_micros: number;
  margin_micros: number;
}

export interface LineFigures {
  requests: number;
  gpu_microseconds: number;
  /** What startups paid (spot for the GPU time). */
  spend_micros: number;
  /** The provider's base earnings: 85 % of spot. */
  earnings_micros: number;
  margin_micros: number;
}

export interface StatementLine extends LineFigures {
  accelerator: string;
  segment: string;
  workload: RecordWorkload;
}

/** The fold state of one provider's month, carried between the state machine's pages. */
export interface ProviderMonth {
  provider_id: string;
  period: string;
  /** Next accrual shard to read, and the cursor within it; done once every shard is read. */
  shard: number;
  cursor: string | null;
  done: boolean;
  totals: LineFigures;
  lines: StatementLine[];
  /** Σ provider share per accrual shard (S2). */
  shard_earnings_micros: number[];
}

const zero = (): LineFigures => ({ requests: 0, gpu_microseconds: 0, spend_micros: 0, earnings_micros: 0, margin_micros: 0 });

export function emptyMonth(providerId: string, period: string): ProviderMonth {
  return { provider_id: providerId, period, shard: 0, cursor: null, done: false, totals: zero(), lines: [], shard_earnings_micros: new Array<number>(ACCRUAL_SHARDS).fill(0) };
}

function add(f: LineFigures, r: BilledRecord) {
  f.requests += 1;
  f.gpu_microseconds += r.gpu_microseconds;
  f.spend_micros += r.cost_micros;
  f.earnings_micros += r.provider_micros;
  f.margin_micros += r.margin_micros;
  assert(Number.isSafeInteger(f.gpu_microseconds) && Number.isSafeInteger(f.spend_micros), 'settlement figures stay exact (safe integers)');
}

/** Folds one record of accrual shard `shard` into the month (mutates `m`). */
export function addRecord(m: ProviderMonth, r: BilledRecord, shard: number, segment: string): void {
  // S1, per record: the split was made at request time and must still add up.
  assert(r.cost_micros === r.provider_micros + r.margin_micros && r.provider_micros >= 0 && r.margin_micros >= 0, `record ${r.request_id}: cost ≠ provider + margin`);
  add(m.totals, r);
  m.shard_earnings_micros[shard] = m.shard_earnings_micros[shard]! + r.provider_micros;
  let line = m.lines.find((l) => l.accelerator === r.accelerator && l.segment === segment && l.workload === r.workload);
  if (!line) {
    assert(m.lines.length < MAX_STATEMENT_LINES, `more than ${MAX_STATEMENT_LINES} statement lines`);
    line = { accelerator: r.accelerator, segment, workload: r.workload, ...zero() };
    m.lines.push(line);
  }
  add(line, r);
}

export interface Statement extends LineFigures {
  provider_id: string;
  period: string;
  period_start: string;
  period_end: string;
  due_date: string;
  issued_at: string;
  /** GPU-hours delivered (for reading; the tier is decided on gpu_microseconds, exactly). */
  gpu_hours: number;
  tier: VolumeTier;
  premium_bps: number;
  /** The tier's premium on the month's base earnings: the true-up. */
  premium_micros: number;
  /** Base earnings + premium: what is payable. */
  payable_micros: number;
  /** Margin after the premium is paid from it. */
  net_margin_micros: number;
  lines: StatementLine[];
  /** The posting that moved the month to payable; null when nothing was delivered. */
  posting_id: string | null;
}

export type StatementResult =
  | { ok: true; statement: Statement; posting: Posting | null; expect: Map<string, number>; close: Set<string> }
  | { ok: false; code: 'custom_rate_required' | 'reconciliation_failed'; reasons: string[] };

export const statementPostingId = (providerId: string, period: string) => derivedId('pst', 'statement', providerId, period);

/**
 * The statement of a folded month. `accrued` holds the ledger balance of each of the provider's accrual
 * accounts for the month (S2 is checked against it); the posting empties them (each expected at exactly
 * that balance, and closed) into payable, with the premium taken from the month's premium account.
 */
export function buildStatement(m: ProviderMonth, accrued: ReadonlyMap<string, number>, customPremiumBps: number | null, at: string): StatementResult {
  assert(m.done, 'a statement is built from a fully read month');
  const p = parsePeriod(m.period);
  assert(p, `bad period ${m.period}`);
  const reasons: string[] = [];
  const moves: PostingLine[] = [];
  const expect = new Map<string, number>();
  for (let s = 0; s < ACCRUAL_SHARDS; s++) {
    const account = accruedAccount(m.provider_id, m.period, s);
    const ledger = accrued.get(account) ?? 0;
    const records = m.shard_earnings_micros[s]!;
    if (ledger !== records) reasons.push(`${account}: ledger ${ledger} µUSD, request records ${records} µUSD`);
    expect.set(account, ledger);
    if (ledger !== 0) moves.push({ account, amount_micros: -ledger });
  }
  const t = m.totals;
  if (t.spend_micros !== t.earnings_micros + t.margin_micros) reasons.push(`spend ${t.spend_micros} ≠ earnings ${t.earnings_micros} + margin ${t.margin_micros}`);
  if (reasons.length > 0) return { ok: false, code: 'reconciliation_failed', reasons: reasons.slice(0, MAX_REASONS) };

  const tier = volumeTier(BigInt(t.gpu_microseconds), customPremiumBps);
  if (!tier.ok) return { ok: false, code: 'custom_rate_required', reasons: [`${m.provider_id} delivered over 200,000 GPU-hours in ${m.period}: set its custom rate (PUT /v1/admin/providers/${m.provider_id}/custom-rate), then settle again`] };
  const premium = Number(premiumMicros(BigInt(t.earnings_micros), tier.premium_bps));
  const payable = t.earnings_micros + premium;
  let posting: Posting | null = null;
  if (payable > 0) {
    if (premium > 0) moves.push({ account: premiumAccount(m.period), amount_micros: -premium });
    moves.push({ account: payableAccount(m.provider_id), amount_micros: payable });
    posting = checkPosting({ id: statementPostingId(m.provider_id, m.period), kind: 'payable', lines: moves, created_at: at, refs: { provider_id: m.provider_id, period: m.period } });
  }
  const statement: Statement = {
    provider_id: m.provider_id,
    period: m.period,
    period_start: p.start,
    period_end: p.end,
    due_date: p.due_date,
    issued_at: at,
    ...t,
    gpu_hours: Number(BigInt(t.gpu_microseconds) * 1_000n / GPU_US_PER_HOUR) / 1_000,
    tier: tier.tier,
    premium_bps: tier.premium_bps,
    premium_micros: premium,
    payable_micros: payable,
    net_margin_micros: t.margin_micros - premium,
    lines: [...m.lines].sort((a, b) => a.accelerator.localeCompare(b.accelerator) || a.segment.localeCompare(b.segment) || a.workload.localeCompare(b.workload)),
    posting_id: posting?.id ?? null,
  };
  return { ok: true, statement, posting, expect, close: new Set(expect.keys()) };
}

/** Every marketplace account of a month the reconciliation reads. */
export function marketAccounts(period: string): { sales: string[]; margin: string[]; premium: string } {
  const shards = Array.from({ length: MARKET_SHARDS }, (_, s) => s);
  return { sales: shards.map((s) => salesAccount(period, s)), margin: shards.map((s) => marginAccount(period, s)), premium: premiumAccount(period) };
}

export interface MonthTotals {
  providers: number;
  requests: number;
  gpu_microseconds: number;
  startup_spend_micros: number;
  provider_earnings_micros: number;
  premium_micros: number;
  payable_micros: number;
  margin_micros: number;
  net_margin_micros: number;
}

/** S3: the month's statements against the marketplace's ledger accounts. `balances` holds those accounts' balances. */
export function reconcileMonth(period: string, statements: readonly Statement[], balances: ReadonlyMap<string, number>): { ok: boolean; totals: MonthTotals; reasons: string[] } {
  const acc = marketAccounts(period);
  const bal = (a: string) => balances.get(a) ?? 0;
  const ledgerSpend = -acc.sales.reduce((s, a) => s + bal(a), 0);
  const ledgerMargin = acc.margin.reduce((s, a) => s + bal(a), 0);
  const ledgerPremium = -bal(acc.premium);
  const totals: MonthTotals = { providers: statements.length, requests: 0, gpu_microseconds: 0, startup_spend_micros: 0, provider_earnings_micros: 0, premium_micros: 0, payable_micros: 0, margin_micros: 0, net_margin_micros: 0 };
  for (const st of statements) {
    totals.requests += st.requests;
    totals.gpu_microseconds += st.gpu_microseconds;
    totals.startup_spend_micros += st.spend_micros;
    totals.provider_earnings_micros += st.earnings_micros;
    totals.premium_micros += st.premium_micros;
    totals.payable_micros += st.payable_micros;
    totals.margin_micros += st.margin_micros;
    totals.net_margin_micros += st.net_margin_micros;
  }
  const reasons: string[] = [];
  const check = (what: string, a: number, b: number) => {
    if (a !== b) reasons.push(`${what}: ${a} ≠ ${b} µUSD`);
  };
  check('startup spend = provider earnings + marketplace margin', totals.startup_spend_micros, totals.provider_earnings_micros + totals.margin_micros);
  check('statements spend = ledger sales', totals.startup_spend_micros, ledgerSpend);
  check('statements margin = ledger margin', totals.margin_micros, ledgerMargin);
  check('statements premium = ledger premium', totals.premium_micros, ledgerPremium);
  check('payable = earnings + premium', totals.payable_micros, totals.provider_earnings_micros + totals.premium_micros);
  return { ok: reasons.length === 0, totals, reasons };
}
