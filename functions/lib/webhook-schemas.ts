/** zod schemas of the outbound-webhook routes (SPEC §12); GET /openapi.json documents them. */
import { z } from 'zod';
import { EVENT_PATTERNS, MAX_EVENTS_PER_ENDPOINT, MAX_WEBHOOK_URL_CHARS, SECRET_OVERLAP_DEFAULT_S, SECRET_OVERLAP_MAX_S } from '../../packages/core/src/index.js';

const EventId = z.string().regex(/^evt_[A-Za-z0-9]{8,40}$/, 'not a valid event id');
const EndpointId = z.string().regex(/^whe_[A-Za-z0-9]{8,40}$/, 'not a valid endpoint id');

export const CreateEndpointBody = z.strictObject({
  /** https (http only on the local runtime); a public address, also behind a DNS name. */
  url: z.string().min(1).max(MAX_WEBHOOK_URL_CHARS),
  /** Event names, `booking.*` or `*`. */
  events: z.array(z.enum(EVENT_PATTERNS as [string, ...string[]])).min(1).max(MAX_EVENTS_PER_ENDPOINT),
});

/** A secret roll (a provider's capacity-webhook secret, an endpoint's signing secret): how long the old one stays valid. */
export const RollSecretBody = z.strictObject({
  expires_in_s: z
    .number().int().min(0).max(SECRET_OVERLAP_MAX_S).default(SECRET_OVERLAP_DEFAULT_S)
    .describe('Seconds the secret being replaced stays valid (0: it stops now, and so does any older one still in an overlap); default 3,600, at most 86,400'),
});

export const EndpointReply = z.object({
  id: EndpointId,
  object: z.literal('webhook_endpoint'),
  url: z.string(),
  events: z.array(z.string()),
  created_at: z.string(),
  /** `whsec_…`: shown once, at creation or at a roll. */
  secret: z.string().optional(),
  /** The last roll of its secret, and until when the secret it replaced still signs deliveries too (null: none does). */
  secret_rolled_at: z.string().nullable().optional(),
  previous_secret_expires_at: z.string().nullable().optional(),
  deleted: z.boolean().optional(),
});
export const EndpointList = z.object({ data: z.array(EndpointReply), next_cursor: z.null() });

export const DeliveryReply = z.object({
  endpoint_id: EndpointId,
  status: z.enum(['pending', 'succeeded', 'failed']),
  round: z.number().int(),
  attempts: z.number().int(),
  last_status_code: z.number().int().nullable(),
  last_error: z.string().nullable(),
  last_attempt_at: z.string().nullable(),
  next_attempt_at: z.string().nullable(),
});

export const EventReply = z.object({
  id: EventId,
  object: z.literal('event'),
  type: z.string(),
  created_at: z.string(),
  data: z.record(z.string(), z.unknown()),
  deliveries: z.array(DeliveryReply),
});
export const EventList = z.object({ data: z.array(EventReply), next_cursor: z.string().nullable() });
