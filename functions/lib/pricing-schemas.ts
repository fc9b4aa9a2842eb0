/** Request and reply schemas of the pricing routes (SPEC §7): the spot index and the revenue calculator. */
import { z } from 'zod';
import { Accelerator } from '../../events/capacity.js';
import { MAX_CUSTOM_PREMIUM_BPS } from '../../packages/core/src/index.js';

/** Spot prices the operator may set: up to 1,000 USD per GPU-hour (a typo of 10^6 must not pass). */
export const MAX_SPOT_MICROS = 1_000_000_000;

export const SpotBody = z.strictObject({
  usd_per_gpu_hour_micros: z.number().int().min(1).max(MAX_SPOT_MICROS),
});
export const SpotPrice = z.object({ accelerator: Accelerator, usd_per_gpu_hour_micros: z.number().int(), effective_at: z.string() });
export const SpotReply = SpotPrice.extend({ previous_usd_per_gpu_hour_micros: z.number().int().nullable() });
export const SpotList = z.object({ data: z.array(SpotPrice) });
export const SpotHistoryQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(2000).optional(),
});
export const SpotHistory = z.object({ data: z.array(SpotPrice), next_cursor: z.string().nullable() });

export const RevenueBody = z.strictObject({
  lines: z
    .array(
      z.strictObject({
        accelerator: Accelerator,
        gpus: z.number().int().min(1).max(100_000),
        listed_hours: z.number().int().min(1).max(744).describe('Hours a month each GPU is listed (at most 31 × 24)'),
        expected_fill_ppm: z.number().int().min(0).max(1_000_000).describe('Expected share of listed hours sold, parts per million (800000 = 80 %)'),
      }),
    )
    .min(1)
    .max(16),
  custom_premium_bps: z.number().int().min(0).max(MAX_CUSTOM_PREMIUM_BPS).optional().describe('Over 200,000 GPU-hours: the premium agreed with the operator'),
});
export const RevenueReply = z.object({
  lines: z.array(z.object({ accelerator: Accelerator, gpus: z.number(), listed_hours: z.number(), expected_fill_ppm: z.number(), gpu_hours: z.number(), spot_micros_per_gpu_hour: z.number().int(), base_earnings_micros: z.number().int() })),
  gpu_hours: z.number(),
  tier: z.enum(['base', 'tier_2', 'tier_4', 'custom']),
  premium_bps: z.number().int().nullable(),
  base_earnings_micros: z.number().int(),
  premium_micros: z.number().int(),
  revenue_micros: z.number().int(),
  premium_pending: z.boolean(),
});

// ---------- settlement and statements ----------

export const Period = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'a month, YYYY-MM');

export const CustomRateBody = z.strictObject({
  premium_bps: z.number().int().min(0).max(MAX_CUSTOM_PREMIUM_BPS).nullable().describe('Premium on base earnings over 200,000 GPU-hours a month, basis points (1500 = +15 %); null clears it'),
});
export const CustomRateReply = z.object({ provider_id: z.string(), custom_premium_bps: z.number().int().nullable() });

export const StartSettlementReply = z.object({ period: Period, execution_id: z.string(), previous_status: z.enum(['running', 'settled', 'failed']).nullable() });

const Totals = z.object({
  providers: z.number().int(), requests: z.number().int(), gpu_microseconds: z.number().int(), startup_spend_micros: z.number().int(),
  provider_earnings_micros: z.number().int(), premium_micros: z.number().int(), payable_micros: z.number().int(), margin_micros: z.number().int(), net_margin_micros: z.number().int(),
});
export const SettlementRunReply = z.object({
  period: Period,
  status: z.enum(['running', 'settled', 'failed']),
  started_at: z.string(),
  finished_at: z.string().nullable(),
  execution_id: z.string().nullable(),
  totals: Totals.nullable(),
  failures: z.array(z.object({ provider_id: z.string().nullable(), code: z.string(), reasons: z.array(z.string()) })),
});

/** The figures of a statement and of each of its lines (also the settlement machine's fold state). */
export const StatementFigures = z.object({
  requests: z.number().int(), gpu_microseconds: z.number().int(), spend_micros: z.number().int(), earnings_micros: z.number().int(), margin_micros: z.number().int(),
});
export const StatementLine = StatementFigures.extend({ accelerator: z.string(), segment: z.string(), workload: z.enum(['chat', 'completion', 'embedding', 'reserved']) });
export const StatementReply = z.object({
  provider_id: z.string(),
  period: Period,
  period_start: z.string(),
  period_end: z.string(),
  due_date: z.string(),
  issued_at: z.string(),
  ...StatementFigures.shape,
  gpu_hours: z.number(),
  tier: z.enum(['base', 'tier_2', 'tier_4', 'custom']),
  premium_bps: z.number().int(),
  premium_micros: z.number().int(),
  payable_micros: z.number().int(),
  net_margin_micros: z.number().int(),
  lines: z.array(StatementLine),
  posting_id: z.string().nullable(),
});
export const StatementsQuery = SpotHistoryQuery;
export const StatementList = z.object({ data: z.array(StatementReply), next_cursor: z.string().nullable() });
