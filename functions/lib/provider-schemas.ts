/** zod schemas of the provider routes (SPEC §6, §10); /openapi.json documents them from here. */
import { z } from 'zod';
import { MAX_ENDPOINTS_PER_PROVIDER, MAX_MODELS_PER_PROVIDER, MAX_TOKENS_PER_REQUEST, MAX_DECLARED_TOKENS_PER_GPU_SECOND, MIN_CAPACITY_INTERVAL_S, MODEL_ID } from '../../packages/core/src/index.js';
import { Accelerator } from '../../events/capacity.js';

const Name = z.string().trim().min(1).max(200);
const Region = z.string().regex(/^[a-z]{2}-[a-z]+-\d{1,2}$/, 'region must look like us-east-1');
const Zone = z.string().regex(/^[a-z]{2}-[a-z]+-\d{1,2}[a-z]$/, 'availability_zone must look like us-east-1a');

export const ApplyProviderBody = z.strictObject({
  name: Name,
  contact_email: z.email().max(254),
  regions: z.array(Region).min(1).max(20),
  accelerators: z.array(Accelerator).min(1).max(3),
});

/** A provider id as the state machines carry it. */
export const ProviderId = z.string().regex(/^prv_[A-Za-z0-9]{1,40}$/);

export const ReviewBody = z.strictObject({ decision: z.enum(['approve', 'reject']), notes: z.string().trim().max(2_000).default('') });

const Url = z
  .url()
  .max(500)
  .refine((u) => /^https?:\/\//.test(u), 'url must be http(s)');

export const EndpointsBody = z.strictObject({
  endpoints: z
    .array(
      z.strictObject({
        id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'endpoint id: 1–64 letters, digits, _ or -'),
        url: Url,
        region: Region,
        availability_zone: Zone,
        capacity_type: z.enum(['dedicated', 'shared']),
        accelerators: z.array(Accelerator).min(1).max(3),
      }),
    )
    .min(1)
    .max(MAX_ENDPOINTS_PER_PROVIDER)
    .refine((es) => new Set(es.map((e) => e.id)).size === es.length, 'endpoint ids must be distinct'),
});

const Tps = z.number().int().min(1).max(MAX_DECLARED_TOKENS_PER_GPU_SECOND);
export const ModelsBody = z.strictObject({
  models: z
    .array(
      z.strictObject({
        model: z.string().regex(MODEL_ID, 'not a valid model id'),
        kind: z.enum(['chat', 'embedding']).default('chat'),
        architecture: z.string().trim().min(1).max(64),
        context_length: z.number().int().min(1).max(MAX_TOKENS_PER_REQUEST),
        accelerator: Accelerator,
        prompt_tokens_per_gpu_second: Tps,
        completion_tokens_per_gpu_second: Tps,
      }),
    )
    .min(1)
    .max(MAX_MODELS_PER_PROVIDER)
    .refine((ms) => new Set(ms.map((m) => `${m.model}|${m.accelerator}`)).size === ms.length, 'each model is listed once per accelerator'),
});

export const SlaBody = z.strictObject({
  tier: z.enum(['standard', 'premium', 'enterprise']),
  capacity_interval_s: z.number().int().min(MIN_CAPACITY_INTERVAL_S, `capacity_interval_s is at least ${MIN_CAPACITY_INTERVAL_S} (15 minutes)`).max(86_400).optional(),
});

export const ProviderReply = z.object({
  id: z.string(),
  name: z.string(),
  contact_email: z.string(),
  regions: z.array(z.string()),
  accelerators: z.array(z.string()),
  status: z.enum(['pending_review', 'integration', 'validating', 'pricing_review', 'live', 'rejected']),
  sla_tier: z.string().nullable(),
  capacity_interval_s: z.number().int(),
  endpoints: z.array(z.object({ id: z.string(), url: z.string(), region: z.string(), availability_zone: z.string(), capacity_type: z.string(), accelerators: z.array(z.string()) })),
  models: z.array(z.object({ model: z.string(), kind: z.string(), context_length: z.number().int(), accelerator: z.string() }).loose()),
  steps: z.array(z.object({ step: z.string(), result: z.string(), at: z.string(), detail: z.string() })),
  custom_premium_bps: z.number().int().nullable().optional(),
  created_at: z.string(),
  updated_at: z.string(),
});

export const ApplyProviderReply = ProviderReply.extend({ key: z.string().nullable(), webhook_secret: z.string().nullable() });

/** A rolled capacity-webhook secret: the new one, shown only here. */
export const WebhookSecretReply = z.object({
  object: z.literal('webhook_secret'),
  provider_id: z.string(),
  secret: z.string().describe('The new whsec_… secret: sign capacity reports with it from now on. Shown once'),
  rolled_at: z.string(),
  previous_secret_expires_at: z.string().nullable().describe('Until when reports signed with the previous secret are still accepted (null: no longer)'),
});

export const ValidationReply = z.object({ provider_id: z.string(), execution_id: z.string(), status: z.literal('validating') });

export const SlaQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(2000).optional(),
});

export const SlaReply = z.object({
  provider_id: z.string(),
  tier: z.enum(['standard', 'premium', 'enterprise']),
  terms: z.object({ uptime_ppm: z.number().int(), latency_ms_p95: z.number().int() }),
  window_days: z.number().int(),
  samples: z.number().int(),
  errors: z.number().int(),
  uptime_ppm: z.number().int().nullable(),
  latency_samples: z.number().int(),
  latency_ms_p95: z.number().int().nullable().describe('Upper bound of the latency bucket holding the p95 of time to first token'),
  meeting: z.boolean(),
  judged: z.boolean().describe('False while there are too few samples to judge (the provider keeps its standing)'),
  reasons: z.array(z.string()),
  recent_error_ppm: z.number().int(),
  daily: z.array(z.object({ day: z.string(), samples: z.number().int(), errors: z.number().int(), uptime_ppm: z.number().int().nullable(), latency_ms_p95: z.number().int().nullable(), met: z.boolean().nullable() })).describe('The window day by day (for the compliance chart)'),
  routing_meeting: z.boolean().describe('The standing the router uses now (updated by the probe schedule each minute)'),
  alerts: z.array(z.object({ kind: z.enum(['breach', 'recovered']), tier: z.string(), at: z.string(), uptime_ppm: z.number().int().nullable(), latency_ms_p95: z.number().int().nullable(), samples: z.number().int(), reasons: z.array(z.string()) }).loose()),
  next_cursor: z.string().nullable(),
});

export const RelayJwksReply = z.object({
  keys: z.array(z.object({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string(), kid: z.string(), use: z.literal('sig'), alg: z.literal('EdDSA') })),
});

export const RelayRotateReply = z.object({
  active_kid: z.string(),
  keys: z.array(z.object({ kid: z.string(), created_at: z.string(), retire_at: z.string().nullable() })),
});
