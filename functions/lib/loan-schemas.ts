/** zod schema of the loan statement route (SPEC §12); GET /openapi.json documents it. */
import { z } from 'zod';
import { Micros } from './schemas.js';
import { Id } from './schemas.js';

export const LoanStatementReply = z.object({
  object: z.literal('loan_statement'),
  facility_id: Id,
  lender_id: Id,
  startup_id: Id,
  period: z.string(),
  principal_micros: Micros,
  /** Charged in this month: the origination fee (the month the facility opened) and the servicing fees that fell due. */
  origination_fee_micros: Micros,
  servicing_fee_micros: Micros,
  fees_micros: Micros,
  /** Every fee charged from the opening to the month's end: what the startup owes its lender in fees then. */
  fees_owed_micros: Micros,
  credits_spent_micros: Micros,
  credits_recovered_micros: Micros,
  status_at_period_end: z.enum(['open', 'matured', 'recovered']),
  term_end: z.string(),
});
