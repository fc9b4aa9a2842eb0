/**
 * The loan side (SPEC §3, §12) against DynamoDB Local, with an injected clock: the origination fee recorded at the
 * opening, a servicing fee at each monthly anniversary, maturity at term end (no new spend; the unspent credit
 * recovered once nothing is reserved), each month's statement — all reconciled to the micro, and each charged or
 * told once however many times the schedule runs.
 */
import { describe, expect, it } from 'vitest';
import { DynamoLoanBook } from '../../packages/core/src/adapters/dynamodb/index.js';
import {
  LoanServicing, auditAll, facilityAccount, loanFeesAccount, loanOwedAccount, type Facility, type LoanStatement, type RecoveryStatement,
} from '../../packages/core/src/index.js';
import { ACCOUNT_SHARDS } from '../../infra/table.js';
import { world } from './world.js';

/** 1,200 USD at ×1.25 for 3 months from 31 January: origination 2 % = 24 USD, servicing 0.6 % a year = 0.6 USD a month. */
const PRINCIPAL = 1_200_000_000;
const ORIGINATION = 24_000_000;
const SERVICING_MONTHLY = 600_000;

async function loanWorld(prefix: string) {
  let t = Date.parse('2027-01-31T10:00:00Z');
  const clock = () => new Date(t);
  const w = await world(prefix, { clock });
  const s = await w.tenants.createStartup({ name: `${prefix} startup`, segment: 'seed' });
  const l = await w.tenants.createLender({ name: `${prefix} lender` });
  if (!s.ok || s.replayed || !l.ok || l.replayed) throw new Error('setup');
  const opened = await w.lending.open({ role: 'lender', lender_id: l.value.id }, {
    startup_id: s.value.id, principal_micros: PRINCIPAL, multiplier_bps: 12_500, term_months: 3, origination_fee_bps: 200, servicing_fee_bps: 60,
  });
  if (!opened.ok || opened.replayed) throw new Error('open');
  const told = { matured: [] as RecoveryStatement[], statements: [] as LoanStatement[] };
  const servicing = new LoanServicing(new DynamoLoanBook(w.doc, w.tableName), w.store, clock);
  const teller = { matured: async (_f: Facility, r: RecoveryStatement) => void told.matured.push(r), statement: async (_f: Facility, st: LoanStatement) => void told.statements.push(st) };
  let n = 0;
  const spend = async (micros: number) => {
    const r = await w.credits.reserve({ startup_id: s.value.id, amount_micros: micros, idempotency_key: `spend-${n++}`, request_hash: 'h' });
    if (!r.ok) return r;
    return w.credits.settle(r.hold.id, micros);
  };
  const balance = async (a: string) => (await w.store.getBalances([a])).get(a)?.balance_micros ?? 0;
  return { w, f: opened.value, set: (iso: string) => void (t = Date.parse(iso)), run: () => servicing.runAll(teller), told, spend, balance, startupId: s.value.id };
}

describe('fees and maturity', () => {
  it('records the origination fee at the opening, owed by the startup, apart from its credit', async () => {
    // Prepare, Act: the opening itself
    const { f, balance } = await loanWorld('loan-open');
    // Assess
    expect(f.origination_fee_micros).toBe(ORIGINATION);
    expect(await balance(loanOwedAccount(f.id))).toBe(ORIGINATION);
    expect(await balance(loanFeesAccount(f.id))).toBe(-ORIGINATION);
    expect(await balance(facilityAccount(f.id, 'available'))).toBe(1_500_000_000);
  });

  it('accrues a servicing fee at each monthly anniversary, once however often the schedule runs', async () => {
    // Prepare
    const { f, set, run, balance } = await loanWorld('loan-servicing');
    // Act: 28 February (the month's clamped anniversary) passes; the schedule runs three times
    set('2027-02-28T10:00:01Z');
    const first = await run();
    await run();
    await run();
    // Assess
    expect(first.fees_posted).toBe(1);
    expect(await balance(loanOwedAccount(f.id))).toBe(ORIGINATION + SERVICING_MONTHLY);
  });

  it('at term end matures: no new spend, the unspent credit recovered at principal, told once; the statements reconcile to the micro', async () => {
    // Prepare: 300 USD of credit spent in February
    const { w, f, set, run, told, spend, balance } = await loanWorld('loan-mature');
    set('2027-02-10T12:00:00Z');
    expect((await spend(300_000_000)).ok).toBe(true);
    // Act: past the term end (30 April 10:00), then twice more
    set('2027-05-01T00:30:00Z');
    const report = await run();
    await run();
    await run();
    const after = await spend(1_000);
    const matured = await w.store.getFacility(f.id);
    // Assess: maturity, once
    expect(report).toMatchObject({ fees_posted: 3, matured: 1, failures: 0 });
    expect(matured).toMatchObject({ status: 'matured', matured_at: '2027-05-01T00:30:00.000Z' });
    expect(after.ok).toBe(false);
    expect(told.matured).toHaveLength(1);
    expect(told.matured[0]).toMatchObject({ unspent_credits_micros: 1_200_000_000, recovered_principal_micros: 960_000_000 });
    // Every granted micro is spent or recovered; fees are owed apart
    expect(await balance(facilityAccount(f.id, 'spent')) + await balance(facilityAccount(f.id, 'recovered'))).toBe(1_500_000_000);
    expect(await balance(facilityAccount(f.id, 'available'))).toBe(0);
    const owed = ORIGINATION + 3 * SERVICING_MONTHLY;
    expect(await balance(loanOwedAccount(f.id))).toBe(owed);
    // One statement a month, January to April, adding up to what is owed and what was spent and recovered
    expect(told.statements.map((s) => s.period)).toEqual(['2027-01', '2027-02', '2027-03', '2027-04']);
    expect(told.statements.reduce((s, x) => s + x.fees_micros, 0)).toBe(owed);
    expect(told.statements.map((s) => s.fees_micros)).toEqual([ORIGINATION, SERVICING_MONTHLY, SERVICING_MONTHLY, SERVICING_MONTHLY]);
    expect(told.statements[3]).toMatchObject({ fees_owed_micros: owed, status_at_period_end: 'open' });
    expect(told.statements[1]!.credits_spent_micros).toBe(300_000_000);
    expect(await auditAll(w.store, ACCOUNT_SHARDS)).toMatchObject({ ok: true, balance_sum_micros: 0 });
  });

  it('a matured facility with credit still reserved is recovered only once that hold settles', async () => {
    // Prepare: a hold open across the term end
    const { w, f, set, run, told, startupId, balance } = await loanWorld('loan-held');
    set('2027-04-30T09:59:00Z');
    const held = await w.credits.reserve({ startup_id: startupId, amount_micros: 5_000_000, idempotency_key: 'across', request_hash: 'h' });
    if (!held.ok) throw new Error('reserve');
    set('2027-04-30T10:00:30Z');
    // Act: a run while it is held, then the settle, then a run
    const during = await run();
    const mid = await w.store.getFacility(f.id);
    await w.credits.settle(held.hold.id, 2_000_000);
    const afterSettle = await run();
    // Assess
    expect(during.matured).toBe(0);
    expect(mid).toMatchObject({ status: 'matured', recovered_at: null });
    expect(afterSettle.matured).toBe(1);
    expect(told.matured[0]!.unspent_credits_micros).toBe(1_500_000_000 - 2_000_000);
    expect(await balance(facilityAccount(f.id, 'reserved'))).toBe(0);
  });

  it('a lender cannot freeze, unfreeze or recover a matured facility', async () => {
    // Prepare
    const { w, f, set, run } = await loanWorld('loan-closed');
    set('2027-05-02T00:00:00Z');
    await run();
    const caller = { role: 'lender' as const, lender_id: f.lender_id };
    // Act
    const freeze = await w.lending.freeze(caller, f.id, 'late');
    const recover = await w.lending.recover(caller, f.id);
    // Assess
    expect(freeze).toEqual({ code: 'facility_matured' });
    expect(recover).toEqual({ ok: false, code: 'facility_matured' });
  });
});
