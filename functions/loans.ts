/**
 * The loan side (SPEC §3, §12): a facility's monthly loan statement for its lender, and the loan-servicing
 * schedule (packages/core/src/loan-service.ts) that posts servicing fees, matures facilities at their term end
 * (facility.matured, to the lender and the startup) and issues each month's statement (statement.issued).
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { LoanServicing, type Facility, type LoanStatement, type LoanTeller, type RecoveryStatement } from '../packages/core/src/index.js';
import { DynamoLoanBook } from '../packages/core/src/adapters/dynamodb/index.js';
import { apiRoute } from './lib/api.js';
import { deps } from './lib/deps.js';
import { notFound } from './lib/errors.js';
import { periodParam } from './lib/params.js';
import { logger } from './lib/powertools.js';
import { webhooks } from './lib/webhooks.js';
import { callerOf } from './facilities.js';

let cached: LoanServicing | undefined;
const servicing = (): LoanServicing => (cached ??= new LoanServicing(new DynamoLoanBook(deps().doc, deps().table), deps().store));

export const statement = apiRoute('functions/loans.statement', async (req) => {
  const period = periodParam(req.params.period).period;
  const f = await deps().lending.get(callerOf(req.principal), req.params.id!);
  const s = await servicing().statement(callerOf(req.principal), f, period);
  if (!s) throw notFound('facility');
  return { status: 200, body: s };
});

/** Both sides of the loan hear of it; a refusal is thrown so the run counts it and the next run tells it again (same id). */
async function tellBoth(type: 'facility.matured' | 'statement.issued', f: Facility, facts: string[], data: Record<string, unknown>): Promise<void> {
  const w = webhooks();
  const told = await Promise.all([w.emit(type, { role: 'lender', id: f.lender_id }, facts, data), w.emit(type, { role: 'startup', id: f.startup_id }, facts, data)]);
  const refused = told.find((r) => !r.ok);
  if (refused && !refused.ok) throw new Error(`${type} refused: ${refused.code}`);
}

const teller: LoanTeller = {
  matured: (f: Facility, s: RecoveryStatement) =>
    tellBoth('facility.matured', f, [f.id, 'matured'], { facility_id: f.id, lender_id: f.lender_id, startup_id: f.startup_id, term_end: f.term_end, matured_at: f.matured_at, recovery: s }),
  statement: (f: Facility, s: LoanStatement) => tellBoth('statement.issued', f, [f.id, 'loan', s.period], { ...s }),
};

export const service = middy(async () => {
  const report = await servicing().runAll(teller);
  if (report.failures > 0) logger.error('some loans could not be serviced; the next run takes them from where they stopped', { ...report });
  return report;
}).use(injectLambdaContext(logger));
