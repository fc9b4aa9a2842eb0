/** Request and reply schemas of the dashboard routes (SPEC §8). */
import { z } from 'zod';
import { MAX_DASHBOARD_DAYS } from '../../packages/core/src/index.js';

export const MeReply = z.object({
  role: z.enum(['operator', 'lender', 'startup', 'provider']),
  tenant_id: z.string().nullable(),
  key_id: z.string().nullable(),
  key_name: z.string().nullable(),
});

export const DaysQuery = z.strictObject({ days: z.coerce.number().int().min(1).max(MAX_DASHBOARD_DAYS).default(30) });

export const UtilizationReply = z.object({
  provider_id: z.string(),
  days: z.number().int(),
  from: z.string(),
  to: z.string(),
  accelerators: z.array(z.string()),
  heatmap: z.array(z.object({ accelerator: z.string(), hour_of_day: z.number().int(), delivered_gpu_hours: z.number(), listed_gpu_hours: z.number(), utilization_ppm: z.number().int().nullable(), booked_gpu_hours: z.number().int() })),
  delivered_gpu_hours: z.number(),
  listed_gpu_hours: z.number(),
  fill_ppm: z.number().int().nullable(),
  fill_target_ppm: z.number().int(),
  daily: z.array(z.object({ day: z.string(), delivered_gpu_hours: z.number(), requests: z.number().int(), earnings_micros: z.number().int() })),
  /** Capacity blocks from now to the forecast's last day: GPU-hours listed, booked, booked ÷ listed (ppm). */
  blocks_ahead: z.object({ listed_gpu_hours: z.number().int(), booked_gpu_hours: z.number().int(), fill_ppm: z.number().int().nullable() }),
  forecast: z.array(z.object({ day: z.string(), listed_gpu_hours: z.number(), expected_gpu_hours: z.number(), blocks_listed_gpu_hours: z.number().int(), booked_gpu_hours: z.number().int() })),
  forecast_method: z.string(),
});

export const BurnReply = z.object({
  facility_id: z.string(),
  days: z.number().int(),
  daily: z.array(z.object({ day: z.string(), spent_micros: z.number().int() })),
  /** The same days' spend by provider and by model, most spent first. */
  by_provider: z.array(z.object({ provider_id: z.string(), spent_micros: z.number().int() })),
  by_model: z.array(z.object({ model: z.string(), spent_micros: z.number().int() })),
});

export const ReviewQuery = z.strictObject({ status: z.enum(['pending_review', 'integration', 'live', 'suspended']).default('pending_review') });
export const ReviewReply = z.object({
  data: z.array(z.object({ id: z.string(), name: z.string(), status: z.string(), contact_email: z.string().nullable(), regions: z.array(z.string()), accelerators: z.array(z.string()), created_at: z.string().nullable() })),
});

export const RunsQuery = z.strictObject({ months: z.coerce.number().int().min(1).max(24).default(12) });
export const RunsReply = z.object({
  data: z.array(z.object({ period: z.string(), status: z.enum(['running', 'settled', 'failed', 'not_started']), started_at: z.string().nullable(), finished_at: z.string().nullable(), totals: z.unknown().nullable(), failures: z.array(z.unknown()) })),
});
