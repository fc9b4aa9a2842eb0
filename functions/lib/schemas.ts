/**
 * zod schemas of every management request and reply. The handlers validate with them and
 * GET /openapi.json is generated from them (z.toJSONSchema), so the docs cannot drift from the checks.
 */
import { z } from 'zod';
import { MAX_KEY_MAX_IN_FLIGHT } from '../../packages/core/src/concurrency.js';
import { KeyRoutingSchema } from './routing-schemas.js';

/** Upper bound on any single amount: 10^15 micros = 1 billion USD. Keeps every sum a safe integer. */
export const MAX_AMOUNT_MICROS = 1_000_000_000_000_000;

export const Micros = z.number().int().min(0).max(MAX_AMOUNT_MICROS);
const Name = z.string().trim().min(1).max(200);
export const Id = z.string().regex(/^[a-z]+_[A-Za-z0-9]{8,40}$/, 'not a valid id');

export const ErrorReply = z.object({
  error: z.object({ message: z.string(), type: z.string(), code: z.string().nullable(), param: z.string().nullable().optional() }),
});

export const Segment = z.enum(['seed', 'series_a', 'series_b', 'growth', 'enterprise']);

export const CreateStartupBody = z.strictObject({ name: Name, segment: Segment });
export const CreateStartupReply = z.object({ id: Id, name: z.string(), segment: Segment, created_at: z.string() });

export const CreateLenderBody = z.strictObject({ name: Name });
/** `key` is the secret, shown once; a replayed request gets `key: null`. */
export const CreateLenderReply = z.object({ id: Id, name: z.string(), key: z.string().nullable(), created_at: z.string() });

export const CreateKeyBody = z.strictObject({
  name: Name,
  budget_micros: Micros.optional(),
  /** The budget resets every UTC day, week (from Monday) or month; without it, it counts over the key's life. */
  budget_period: z.enum(['daily', 'weekly', 'monthly']).optional(),
  /** Spend in a period at which key.budget_low is sent (once a period); below budget_micros. */
  budget_soft_micros: Micros.optional(),
  models: z.array(z.string().min(1).max(200)).max(100).optional(),
  rpm: z.number().int().min(1).max(100_000).optional(),
  tpm: z.number().int().min(1).max(100_000_000).optional(),
  /** Requests in flight at once, streams included (default 64): over it, 429 concurrency_limit_key. */
  max_in_flight: z.number().int().min(1).max(MAX_KEY_MAX_IN_FLIGHT).optional(),
  /** Routing defaults for the key's requests (`provider`, `models`: docs/api.md "Routing preferences"); a request's own win field by field. */
  routing: KeyRoutingSchema.optional(),
});
export const KeyReply = z.object({
  id: Id,
  name: z.string(),
  /** The secret, shown once at creation; null on a replayed request. */
  key: z.string().nullable().optional(),
  budget_micros: Micros.nullable(),
  budget_period: z.enum(['daily', 'weekly', 'monthly']).nullable(),
  budget_soft_micros: Micros.nullable(),
  /** What is left of the budget in the current period (or of a lifetime budget); null without a budget. */
  budget_left_micros: Micros.nullable(),
  /** When the current period's budget resets; null for a lifetime budget or none. */
  budget_resets_at: z.string().nullable(),
  models: z.array(z.string()).nullable(),
  rpm: z.number().int().nullable(),
  tpm: z.number().int().nullable(),
  /** Requests in flight at once (streams included); the default when the key sets none. */
  max_in_flight: z.number().int(),
  /** The key's routing defaults; null without. */
  routing: KeyRoutingSchema.nullable(),
  created_at: z.string(),
  revoked_at: z.string().nullable(),
});

/** The multiplier is a rate, not money: accepted as a decimal with at most 4 places and carried as basis points. */
export const Multiplier = z
  .number()
  .min(1.25, 'multiplier must be at least 1.25')
  .max(1.5, 'multiplier must be at most 1.50')
  .refine((m) => Math.abs(m * 10_000 - Math.round(m * 10_000)) < 1e-7, 'multiplier may have at most 4 decimal places');

export const OpenFacilityBody = z.strictObject({
  startup_id: Id,
  /** Operators only: the lender the facility is opened for. A lender's own id is implied. */
  lender_id: Id.optional(),
  principal_micros: Micros.min(1_000_000, 'principal_micros must be at least 1,000,000 (1 USD)').max(100_000_000_000_000, 'principal_micros must be at most 10^14 (100 million USD)'),
  multiplier: Multiplier,
  term_months: z.number().int().min(1).max(120),
  origination_fee_bps: z.number().int().min(100, 'origination fee is 1–3 % (100–300 bps)').max(300, 'origination fee is 1–3 % (100–300 bps)'),
  servicing_fee_bps: z.number().int().min(50, 'servicing fee is 0.5–1 % a year (50–100 bps)').max(100, 'servicing fee is 0.5–1 % a year (50–100 bps)'),
  /** SPEC §3: `strict` never lends to credit leases (a freeze then has no exposure); `standard` by default. */
  freeze_mode: z.enum(['standard', 'strict']).optional(),
});

export const FreezeBody = z.strictObject({ reason: z.string().trim().min(1).max(500) });

export const FacilityReply = z.object({
  id: Id,
  lender_id: Id,
  startup_id: Id,
  principal_micros: Micros,
  multiplier: z.number(),
  multiplier_bps: z.number().int(),
  term_months: z.number().int(),
  term_end: z.string(),
  origination_fee_bps: z.number().int(),
  servicing_fee_bps: z.number().int(),
  origination_fee_micros: Micros,
  status: z.enum(['active', 'frozen', 'recovered', 'matured']),
  /** When it matured at its term end (then no new spend); null before. */
  matured_at: z.string().nullable(),
  freeze_mode: z.enum(['standard', 'strict']),
  frozen_reason: z.string().nullable(),
  created_at: z.string(),
  granted_micros: Micros,
  spent_micros: Micros,
  reserved_micros: Micros,
  leased_micros: Micros,
  available_micros: Micros,
  frozen_micros: Micros,
  recovered_micros: Micros,
  /** Fees the startup owes its lender (origination and servicing so far): the loan's own account, not credit. */
  fees_owed_micros: Micros,
  burn_24h_micros: Micros,
  burn_7d_micros: Micros,
  burn_rate_micros_per_day: Micros,
  runway_days: z.number().nullable(),
});

/**
 * SPEC §3: a freeze's reply bounds what leases may still spend: at most `exposure_micros_max` (the credit out
 * on leases when the freeze returned), and nothing after `exposure_ends_at`.
 */
export const FreezeReply = FacilityReply.extend({ exposure_micros_max: Micros, exposure_ends_at: z.string() });

export const RecoveryReply = z.object({
  facility_id: Id,
  unspent_credits_micros: Micros,
  recovered_principal_micros: Micros,
  principal_micros: Micros,
  recovery_ratio: z.number(),
  recovery_ratio_ppm: z.number().int(),
  recovered_at: z.string(),
});

export const ListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(2000).optional(),
});

const CreditFigures = {
  granted_micros: Micros,
  spent_micros: Micros,
  reserved_micros: Micros,
  /** Out on credit leases: held by request handlers, spent from in memory, closed into spent and available (SPEC §2). */
  leased_micros: Micros,
  available_micros: Micros,
  frozen_micros: Micros,
};
export const CreditsReply = z.object({
  object: z.literal('credits'),
  ...CreditFigures,
  facilities: z.array(z.object({ id: Id, status: z.enum(['active', 'frozen', 'recovered', 'matured']), term_end: z.string(), ...CreditFigures, burn_24h_micros: Micros, burn_7d_micros: Micros })),
});

export const FacilityListQuery = ListQuery.extend({ lender_id: Id.optional() });

export const Page = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item), next_cursor: z.string().nullable() });
