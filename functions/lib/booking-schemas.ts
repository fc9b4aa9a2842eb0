/** zod schemas of the capacity booking routes (SPEC §11): what the handlers validate and /openapi.json shows. */
import { z } from 'zod';
import { MAX_BOOKING_HOURS, MAX_GPUS_PER_BOOKING } from '../../packages/core/src/index.js';
import { Id, Micros } from './schemas.js';

const Accelerator = z.enum(['H100', 'A100', 'H200']);
const PlaceName = z.string().regex(/^[a-z0-9-]{1,32}$/, 'lower case letters, digits and dashes, at most 32');
const CapacityType = z.enum(['dedicated', 'shared']);
const Interconnect = z.enum(['infiniband', 'roce', 'nvlink', 'ethernet']);
const SlaTier = z.enum(['standard', 'premium', 'enterprise']);
const Hour = z.iso.datetime().describe('a whole UTC hour, e.g. 2027-03-01T14:00:00Z');

export const QuoteBody = z.strictObject({
  accelerator: Accelerator,
  gpus: z.number().int().min(1).max(MAX_GPUS_PER_BOOKING),
  hours: z.number().int().min(1).max(MAX_BOOKING_HOURS),
  /** The window of acceptable starts: the booking starts at a whole hour in [earliest_start, latest_start] (at most 14 days wide). */
  earliest_start: Hour,
  latest_start: Hour,
  region: PlaceName.optional(),
  capacity_type: CapacityType.optional(),
  interconnect: Interconnect.optional(),
  /** The least SLA tier accepted. */
  sla_tier: SlaTier.optional(),
});

const Placement = { accelerator: z.string(), region: z.string(), availability_zone: z.string(), capacity_type: z.string(), interconnect: z.string() };

/** What an offer and the booking made from it share: where, how many GPUs, when, and at what price. */
const Slot = {
  sla_tier: SlaTier,
  ...Placement,
  gpus: z.number().int(),
  hours: z.number().int(),
  start: z.string(),
  end: z.string(),
  /** The spot index in force for the accelerator when quoted. */
  price_micros_per_gpu_hour: Micros,
  total_micros: Micros,
};

export const OfferReply = z.object({
  id: Id,
  /** Opaque, stable for this startup: never the provider's id or name. */
  provider_ref: Id,
  ...Slot,
  /** Why it was offered, and in this rank. */
  reason: z.string(),
});

export const QuoteReply = z.object({
  id: Id,
  object: z.literal('capacity_quote'),
  ask: QuoteBody,
  offers: z.array(OfferReply),
  created_at: z.string(),
  /** Book before this (a few minutes after the quote). */
  expires_at: z.string(),
});

export const BookBody = z.strictObject({ quote_id: Id, offer: Id });

const BookingStatus = z.enum(['placing', 'refused', 'pending', 'scheduled', 'declined', 'cancelled', 'expired', 'running', 'completed', 'interrupted']);
const BookingCommon = {
  id: Id,
  object: z.literal('booking'),
  status: BookingStatus,
  startup_id: Id,
  quote_id: Id,
  offer_id: Id,
  ...Slot,
  /** The provider answers before this; later, accepting is refused. */
  accept_by: z.string(),
  /** Hours billed so far: each delivered hour, billed at its end (gpus × price_micros_per_gpu_hour). */
  billed_hours: z.number().int().min(0).optional(),
  /** When it stopped running (completed, cancelled during, interrupted). */
  ended_at: z.string().nullable().optional(),
  /** The provider's reason, when it interrupted the booking. */
  interruption: z.string().nullable().optional(),
  created_at: z.string(),
  updated_at: z.string(),
};

export const AccessDetails = z.strictObject({
  /** Where the startup reaches the capacity: a host, an SSH target or a URL. */
  endpoint: z.string().trim().min(1).max(512),
  instructions: z.string().max(4_000).optional(),
});

export const BookingReply = z.object({
  ...BookingCommon,
  provider_ref: Id,
  refusal: z.enum(['exceeds_credit', 'facility_frozen', 'key_budget_exceeded', 'capacity_unavailable', 'abandoned']).nullable(),
  /** Set once the provider accepts; only the booking's startup reads it. */
  access: AccessDetails.nullable(),
});

export const ProviderBookingReply = z.object({ ...BookingCommon, provider_id: Id });

export const AcceptBody = z.strictObject({ access: AccessDetails });
/** Why the provider stops a booking; the startup is told it (booking.interrupted). */
export const InterruptBody = z.strictObject({ reason: z.string().trim().min(1).max(500) });
