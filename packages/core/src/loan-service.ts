/**
 * Servicing the loan book (SPEC §3, §12; the rules are loans.ts): the loan-servicing schedule walks every
 * facility's loan entry and, for each, posts the servicing fees that fell due, matures a facility past its term
 * end, recovers a matured facility's unspent credit once nothing is reserved or leased on it (telling
 * `facility.matured`), and issues the statement of each month that ended (telling `statement.issued`).
 *
 * Every step may run twice (a run that fails half-way, two runs racing): fee postings are replays by their ids,
 * maturity and recovery are conditioned on the facility's status, the events' ids are their facts, and the
 * entry's progress is written conditioned on its version. So each fee is charged once and each event has one id.
 */
import { now, shiftPeriod, monthOf } from './clock.js';
import type { Clock } from './credits.js';
import { derivedId } from './ids.js';
import { facilityAccount } from './ledger.js';
import { recoveryPosting, recoveryStatement, type Facility, type RecoveryStatement } from './facilities.js';
import type { Caller } from './lending.js';
import { isPastTerm, loanOwedAccount, loanStatement, servicingMonthsDue, servicingPosting, type DatedLine, type LoanStatement } from './loans.js';
import { forEachInPartitions } from './partitions.js';
import type { FacilityStore, LedgerStore } from './store.js';

export const LOAN_SHARDS = 16;
const LOAN_PAGE = 100;
const MAX_PAGES_PER_SHARD = 100;
/** Statements one run issues for one facility (a schedule that was off for a year catches up in a few runs). */
const MAX_STATEMENTS_PER_RUN = 12;
/** Lines an account of one loan can carry: the origination fee, 120 months of servicing, and a few recoveries. */
const MAX_LOAN_LINES = 400;

export interface LoanBookEntry {
  facility_id: string;
  /** Servicing months posted so far (0..term_months). */
  servicing_through: number;
  matured_told: boolean;
  /** The last month whose statement was issued; null before the first. */
  statements_through: string | null;
  version: number;
}

export interface LoanBookStore {
  listLoans(shard: number, limit: number, cursor?: string): Promise<{ items: LoanBookEntry[]; cursor: string | null }>;
  /** Writes the entry as version `e.version`, provided the stored one is `e.version − 1`. */
  putLoan(e: LoanBookEntry): Promise<{ ok: boolean }>;
}

/** The facilities and ledger the servicing reads and writes (the credit store), beside the loan book. */
export type LoanStore = Pick<FacilityStore, 'getFacility' | 'matureFacility' | 'recoverFacility'> &
  Pick<LedgerStore, 'getBalances' | 'post' | 'listLines' | 'spendBetween'>;

export interface LoanTeller {
  matured(f: Facility, s: RecoveryStatement): Promise<void>;
  statement(f: Facility, s: LoanStatement): Promise<void>;
}

export interface ServicingReport { loans: number; fees_posted: number; matured: number; statements: number; failures: number }

const monthRange = (period: string) => ({ start: `${period}-01T00:00:00.000Z`, end: `${shiftPeriod(period, 1)}-01T00:00:00.000Z` });

export class LoanServicing {
  constructor(
    private readonly book: LoanBookStore,
    private readonly store: LoanStore,
    private readonly clock: Clock = now,
  ) {}

  async runAll(tell: LoanTeller): Promise<ServicingReport> {
    const report: ServicingReport = { loans: 0, fees_posted: 0, matured: 0, statements: 0, failures: 0 };
    await forEachInPartitions(LOAN_SHARDS, MAX_PAGES_PER_SHARD, (shard, cursor) => this.book.listLoans(shard, LOAN_PAGE, cursor), async (e) => {
      report.loans++;
      try {
        await this.serviceOne(e, tell, report);
      } catch {
        report.failures++; // the next run takes it from where the entry says
      }
    });
    return report;
  }

  private async serviceOne(e: LoanBookEntry, tell: LoanTeller, report: ServicingReport): Promise<void> {
    let f = await this.store.getFacility(e.facility_id);
    if (!f) return;
    const at = this.clock();
    let entry = e;
    // A recovered (defaulted) loan accrues no more servicing: its credit was taken back.
    if (f.status !== 'recovered') {
      const due = servicingMonthsDue(f, entry.servicing_through, at);
      for (const n of due) {
        const p = servicingPosting(f, n);
        if (p) {
          const r = await this.store.post(p);
          if (!r.ok) throw new Error(`servicing fee ${n} of ${f.id}: ${r.code}`);
          if (!r.replayed) report.fees_posted++;
        }
      }
      if (due.length > 0) entry = await this.save({ ...entry, servicing_through: due[due.length - 1]! });
    }
    if (isPastTerm(f, at)) f = (await this.store.matureFacility(f.id, at.toISOString())) ?? f;
    if (f.status === 'matured' && f.recovered_at === null) f = await this.recoverMatured(f, at);
    if (f.status === 'matured' && f.recovered_at !== null && !entry.matured_told) {
      const statement = await this.recoveryOf(f);
      await tell.matured(f, statement);
      report.matured++;
      entry = await this.save({ ...entry, matured_told: true });
    }
    await this.issueStatements(f, entry, at, tell, report);
  }

  /** Once nothing is reserved or leased on it, a matured facility's available credit moves to recovered. */
  private async recoverMatured(f: Facility, at: Date): Promise<Facility> {
    const names = (['available', 'reserved', 'leased'] as const).map((k) => facilityAccount(f.id, k));
    const b = await this.store.getBalances(names);
    const bal = (i: number) => b.get(names[i]!)?.balance_micros ?? 0;
    if (bal(1) > 0 || bal(2) > 0) return f; // holds and leases still settle; the next run recovers
    const statement = recoveryStatement(f, bal(0), at.toISOString());
    const posting = bal(0) > 0 ? recoveryPosting(f, bal(0), statement.recovered_at, derivedId('pst', f.id, 'recover')) : null;
    const r = await this.store.recoverFacility(f, posting, bal(0), statement);
    if (!r.ok && r.code !== 'balance_changed') throw new Error(`maturity recovery of ${f.id}: ${r.code}`);
    return (await this.store.getFacility(f.id)) ?? f;
  }

  /** The recovery as it was recorded: the recovered account's balance valued at principal. */
  private async recoveryOf(f: Facility): Promise<RecoveryStatement> {
    const recovered = (await this.store.getBalances([facilityAccount(f.id, 'recovered')])).get(facilityAccount(f.id, 'recovered'))?.balance_micros ?? 0;
    return recoveryStatement(f, recovered, f.recovered_at!);
  }

  /** The statements of the months that ended since the last one issued, up to the month the loan closed in. */
  private async issueStatements(f: Facility, e: LoanBookEntry, at: Date, tell: LoanTeller, report: ServicingReport): Promise<void> {
    const last = shiftPeriod(monthOf(at), -1);
    const closedIn = f.recovered_at ? monthOf(f.recovered_at) : null;
    let entry = e;
    let period = entry.statements_through ? shiftPeriod(entry.statements_through, 1) : monthOf(f.created_at);
    for (let n = 0; n < MAX_STATEMENTS_PER_RUN && period <= last && (closedIn === null || period <= closedIn); n++) {
      await tell.statement(f, await this.statementFor(f, period));
      report.statements++;
      entry = await this.save({ ...entry, statements_through: period });
      period = shiftPeriod(period, 1);
    }
  }

  /** One month's loan statement of a facility the caller may read (null otherwise: its lender or an operator only). */
  async statement(caller: Caller, f: Facility | null, period: string): Promise<LoanStatement | null> {
    if (!f || (caller.role !== 'operator' && f.lender_id !== caller.lender_id)) return null;
    return this.statementFor(f, period);
  }

  private async statementFor(f: Facility, period: string): Promise<LoanStatement> {
    const range = monthRange(period);
    const lastHour = new Date(Date.parse(range.end) - 3_600_000).toISOString();
    const [owed, recovered, spent] = await Promise.all([
      this.lines(loanOwedAccount(f.id)),
      this.lines(facilityAccount(f.id, 'recovered')),
      this.store.spendBetween(f.id, range.start, lastHour),
    ]);
    return loanStatement(f, period, range, owed, recovered, spent);
  }

  private async lines(account: string): Promise<DatedLine[]> {
    const out: DatedLine[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.store.listLines(account, 200, cursor);
      out.push(...page.items);
      cursor = page.cursor ?? undefined;
    } while (cursor && out.length < MAX_LOAN_LINES);
    return out;
  }

  private async save(e: LoanBookEntry): Promise<LoanBookEntry> {
    const next = { ...e, version: e.version + 1 };
    if (!(await this.book.putLoan(next)).ok) throw new Error(`loan entry ${e.facility_id} changed meanwhile`);
    return next;
  }
}
