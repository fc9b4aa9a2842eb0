/** zod schemas of the covenant and credits.low routes (SPEC §12); GET /openapi.json documents them. Bounds are core's. */
import { z } from 'zod';
import { COVENANT_ACTIONS, COVENANT_KINDS, MAX_COVENANTS_PER_FACILITY, MAX_FACILITIES_PER_STARTUP } from '../../packages/core/src/index.js';
import { Id } from './schemas.js';

export const CovenantBody = z.strictObject({
  kind: z.enum(COVENANT_KINDS),
  /** min_runway_days: days (0.1–3,650); max_spend_24h_micros: micros (whole); max_burn_ratio: 24 h burn ÷ 7-day daily average (1–1,000). */
  threshold: z.number(),
  action: z.enum(COVENANT_ACTIONS),
});

/** The whole set, replacing the previous one; an empty list removes every covenant. */
export const SetCovenantsBody = z.strictObject({ covenants: z.array(CovenantBody).max(MAX_COVENANTS_PER_FACILITY) });

export const CovenantsReply = z.object({
  object: z.literal('covenant_set'),
  facility_id: Id,
  covenants: z.array(z.object({
    kind: z.enum(COVENANT_KINDS),
    threshold: z.number(),
    action: z.enum(COVENANT_ACTIONS),
    /** The last evaluation (every 5 minutes): the measured value (null when undefined: no spend), and the breach in course. */
    state: z.object({ value: z.number().nullable(), breached: z.boolean(), breached_since: z.string().nullable(), evaluated_at: z.string().nullable() }),
  })),
  updated_at: z.string().nullable(),
});

/** A startup's credits.low thresholds, one per facility of its own (replacing the previous ones; [] removes them). */
export const SetCreditAlertsBody = z.strictObject({
  alerts: z.array(z.strictObject({ facility_id: Id, threshold_micros: z.number() })).max(MAX_FACILITIES_PER_STARTUP),
});

export const CreditAlertsReply = z.object({
  object: z.literal('credit_alerts'),
  alerts: z.array(z.object({
    facility_id: Id,
    threshold_micros: z.number().int(),
    /** The last evaluation (every 5 minutes): available credit then, and the fall below the threshold in course. */
    state: z.object({ available_micros: z.number().int().nullable(), low: z.boolean(), low_since: z.string().nullable(), evaluated_at: z.string().nullable() }),
  })),
  updated_at: z.string().nullable(),
});
