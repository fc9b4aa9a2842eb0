/**
 * The loan side (SPEC §3, §12) through the runtime: a facility's loan statement for the month it opened shows the
 * origination fee the startup owes; only its lender (or an operator) reads it; the loan-servicing schedule runs under
 * its grant and issues no statement for a month still running. (Fees over months and maturity, with an injected
 * clock: test/ledger/loans.dynamodb.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { monthOf, nowIso } from '../../packages/core/src/index.js';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';
import { runSchedule } from './schedule.js';

let rt: TestRuntime;
let call: ReturnType<typeof client>;

beforeAll(async () => {
  rt = await startTestRuntime('loans');
  call = client(rt.baseUrl);
});
afterAll(async () => {
  await rt?.stop();
});

/** A lender of its own and a facility of 1,000 USD it opens for a new startup. */
async function openLoan(name: string) {
  const s = await call('POST', '/v1/admin/startups', { key: rt.adminKey, body: { name, segment: 'seed' } });
  const l = await call('POST', '/v1/admin/lenders', { key: rt.adminKey, body: { name: `${name} lender` } });
  const f = await call('POST', '/v1/facilities', {
    key: l.body.key, body: { startup_id: s.body.id, principal_micros: 1_000_000_000, multiplier: 1.25, term_months: 12, origination_fee_bps: 250, servicing_fee_bps: 100 },
  });
  expect(f.status, JSON.stringify(f.body)).toBe(201);
  return { lenderKey: l.body.key as string, facility: f.body };
}

describe('loan statements', () => {
  it("shows the month it opened: the principal and the origination fee the startup owes, apart from its credit", async () => {
    // Prepare
    const { lenderKey, facility } = await openLoan('loan-month');
    const period = monthOf(facility.created_at);
    // Act
    const r = await call('GET', `/v1/facilities/${facility.id}/statements/${period}`, { key: lenderKey });
    // Assess
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      object: 'loan_statement', facility_id: facility.id, period, principal_micros: 1_000_000_000, origination_fee_micros: 25_000_000,
      servicing_fee_micros: 0, fees_micros: 25_000_000, fees_owed_micros: 25_000_000, credits_recovered_micros: 0, status_at_period_end: 'open',
    });
    expect(facility).toMatchObject({ available_micros: 1_250_000_000, fees_owed_micros: 25_000_000 });
    expect((await call('GET', `/v1/facilities/${facility.id}`, { key: lenderKey })).body.fees_owed_micros).toBe(25_000_000);
  });

  it("only the facility's lender or an operator reads it: another lender gets 404, its startup 403; a bad month is 400", async () => {
    // Prepare
    const mine = await openLoan('loan-mine');
    const other = await openLoan('loan-other');
    const period = monthOf(nowIso());
    // Act
    const foreign = await call('GET', `/v1/facilities/${mine.facility.id}/statements/${period}`, { key: other.lenderKey });
    const operator = await call('GET', `/v1/facilities/${mine.facility.id}/statements/${period}`, { key: rt.adminKey });
    const startupKey = (await call('POST', `/v1/admin/startups/${mine.facility.startup_id}/keys`, { key: rt.adminKey, body: { name: 'own' } })).body.key;
    const startup = await call('GET', `/v1/facilities/${mine.facility.id}/statements/${period}`, { key: startupKey });
    const bad = await call('GET', `/v1/facilities/${mine.facility.id}/statements/2027-1`, { key: mine.lenderKey });
    // Assess
    expect(foreign.status).toBe(404);
    expect(operator.status).toBe(200);
    expect(startup.status).toBe(403);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'invalid_period', param: 'period' });
  });

  it('the loan-servicing schedule walks the book and issues nothing for a month still running', async () => {
    // Prepare
    await openLoan('loan-schedule');
    // Act
    const report = await runSchedule<{ loans: number; fees_posted: number; matured: number; statements: number; failures: number }>(rt, 'loan-servicing');
    // Assess
    expect(report.loans).toBeGreaterThanOrEqual(1);
    expect(report).toMatchObject({ fees_posted: 0, matured: 0, statements: 0, failures: 0 });
  });
});
