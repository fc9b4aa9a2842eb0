/** GET /v1/requests/{id}: one request's record as its startup sees it (SPEC §4). */
import { z } from 'zod';

export const RequestReply = z.object({
  id: z.string(),
  object: z.literal('request'),
  created_at: z.string(),
  key_id: z.string(),
  workload: z.enum(['chat', 'completion', 'embedding']),
  model: z.string(),
  /** The provider that answered, as the reply's x-compux-provider header named it; null when none did. */
  provider: z.string().nullable(),
  accelerator: z.string().nullable(),
  stream: z.boolean(),
  outcome: z.enum(['ok', 'failed_mid_stream', 'client_disconnected', 'upstream_error', 'rejected_upstream']),
  status_code: z.number().int(),
  attempts: z.number().int(),
  prompt_tokens: z.number().int(),
  completion_tokens: z.number().int(),
  total_tokens: z.number().int(),
  /** Tokens counted from the content: the provider sent no usage report. */
  estimated: z.boolean(),
  gpu_seconds: z.number(),
  cost_micros: z.number().int(),
  latency_ms: z.number().int(),
  ttft_ms: z.number().int().nullable(),
  /** Which of the startup's facilities paid, in draw order. */
  facilities: z.array(z.object({ facility_id: z.string(), amount_micros: z.number().int() })),
});
