/**
 * The loan side of a facility (SPEC §3, §12): what the startup owes its lender besides the credit itself.
 *
 *   origination fee  principal × origination_fee_bps, recorded when the facility opens (facilities.ts computes it)
 *   servicing fee    principal × servicing_fee_bps a year, accrued monthly: principal × bps ÷ (10,000 × 12), round
 *                    half to even, at each monthly anniversary of the opening, `term_months` times in all
 *   maturity         at term end the facility takes no new spend; once nothing is reserved or leased on it, its
 *                    unspent credit is recovered as on default (unspent ÷ multiplier, at principal)
 *
 * Fees are money owed, not credit: they move between two accounts of the facility's loan and nowhere else,
 *   loan:<facility>:fees   the lender's fee income (goes negative by what was charged)
 *   loan:<facility>:owed   what the startup owes the lender in fees (never negative)
 * so no fee ever touches available, spent or any credit figure (the conservation granted = available + reserved +
 * leased + spent + recovered is unchanged). Each fee posting's id names the fee (`fee:<facility>:origination`,
 * `fee:<facility>:servicing:<n>`): posting it again is a replay, so a schedule that runs twice charges once.
 */
import { addMonthsUtc, type Facility } from './facilities.js';
import { BPS, assert, mulDivHalfEven } from './money.js';
import { checkPosting, transfer, type Posting } from './ledger.js';

export const loanFeesAccount = (facilityId: string): string => `loan:${facilityId}:fees`;
export const loanOwedAccount = (facilityId: string): string => `loan:${facilityId}:owed`;

/** One month of servicing fee: a twelfth of the yearly rate on the principal. */
export function servicingFeeMicros(f: Pick<Facility, 'principal_micros' | 'servicing_fee_bps'>): number {
  return mulDivHalfEven(f.principal_micros, f.servicing_fee_bps, BPS * 12n);
}

function feePosting(f: Facility, id: string, amount: number, at: string, fee: string): Posting | null {
  if (amount === 0) return null;
  return checkPosting({ id, kind: 'fee', lines: transfer(loanFeesAccount(f.id), loanOwedAccount(f.id), amount), created_at: at, refs: { facility_id: f.id, fee } });
}

/** The origination fee, recorded with the opening (null for a fee that rounds to nothing). */
export function originationPosting(f: Facility): Posting | null {
  return feePosting(f, `fee:${f.id}:origination`, f.origination_fee_micros, f.created_at, 'origination');
}

/** When the n-th month's servicing fee (1-based, up to term_months) falls due: the n-th monthly anniversary. */
export function servicingDueAt(f: Pick<Facility, 'created_at' | 'term_months'>, n: number): string {
  assert(Number.isInteger(n) && n >= 1 && n <= f.term_months, `servicing month ${n} outside 1..${f.term_months}`);
  return addMonthsUtc(f.created_at, n);
}

export function servicingPosting(f: Facility, n: number): Posting | null {
  return feePosting(f, `fee:${f.id}:servicing:${n}`, servicingFeeMicros(f), servicingDueAt(f, n), `servicing:${n}`);
}

/** The servicing months due at `at` after the first `through` were posted: through+1 .. the last anniversary passed. */
export function servicingMonthsDue(f: Pick<Facility, 'created_at' | 'term_months'>, through: number, at: Date): number[] {
  const out: number[] = [];
  for (let n = through + 1; n <= f.term_months && Date.parse(servicingDueAt(f, n)) <= at.getTime(); n++) out.push(n);
  return out;
}

/** A facility past its term end that has not matured yet. */
export const isPastTerm = (f: Pick<Facility, 'term_end' | 'status'>, at: Date): boolean =>
  (f.status === 'active' || f.status === 'frozen') && Date.parse(f.term_end) <= at.getTime();

/** A line of a loan or credit account, as the statement reads it. */
export interface DatedLine { amount_micros: number; created_at: string; posting_id: string }

export interface LoanStatement {
  object: 'loan_statement';
  facility_id: string;
  lender_id: string;
  startup_id: string;
  /** `YYYY-MM`, UTC. */
  period: string;
  principal_micros: number;
  origination_fee_micros: number;
  servicing_fee_micros: number;
  /** Fees charged in the period (origination + servicing). */
  fees_micros: number;
  /** All fees charged from the opening to the period's end: what the startup owes the lender in fees then. */
  fees_owed_micros: number;
  credits_spent_micros: number;
  credits_recovered_micros: number;
  status_at_period_end: 'open' | 'matured' | 'recovered';
  term_end: string;
}

const inPeriod = (iso: string, start: string, end: string) => iso >= start && iso < end;

/**
 * The statement of one facility for one month, from the lines of its owed and recovered accounts and the spend
 * the hourly buckets counted in the month. Pure: the service reads, this adds.
 */
export function loanStatement(
  f: Facility,
  period: string,
  range: { start: string; end: string },
  owedLines: readonly DatedLine[],
  recoveredLines: readonly DatedLine[],
  spentMicros: number,
): LoanStatement {
  const sum = (ls: readonly DatedLine[]) => ls.reduce((s, l) => s + l.amount_micros, 0);
  const inMonth = owedLines.filter((l) => inPeriod(l.created_at, range.start, range.end));
  const origination = sum(inMonth.filter((l) => l.posting_id === `fee:${f.id}:origination`));
  const fees = sum(inMonth);
  const recovered = sum(recoveredLines.filter((l) => inPeriod(l.created_at, range.start, range.end)));
  const endedBy = (iso: string | null) => iso !== null && iso < range.end;
  return {
    object: 'loan_statement', facility_id: f.id, lender_id: f.lender_id, startup_id: f.startup_id, period,
    principal_micros: f.principal_micros,
    origination_fee_micros: origination,
    servicing_fee_micros: fees - origination,
    fees_micros: fees,
    fees_owed_micros: sum(owedLines.filter((l) => l.created_at < range.end)),
    credits_spent_micros: spentMicros,
    credits_recovered_micros: recovered,
    status_at_period_end: f.status === 'recovered' && endedBy(f.recovered_at) ? 'recovered' : endedBy(f.matured_at) ? 'matured' : 'open',
    term_end: f.term_end,
  };
}
