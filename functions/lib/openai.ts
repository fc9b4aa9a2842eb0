/**
 * zod schemas of the OpenAI-compatible requests (SPEC §4). They check what the marketplace relies on
 * (model, messages/prompt/input, max_tokens, n, stream, stream_options) with OpenAI's own limits, and let
 * every other OpenAI parameter through untouched to the provider (looseObject), as OpenAI's API accepts them.
 */
import { z } from 'zod';
import { MAX_CHOICES, MAX_TOKENS_PER_REQUEST, MODEL_ID } from '../../packages/core/src/index.js';

/** Largest inference request body (the local server and API Gateway streaming carry at most this too). */
export const MAX_INFERENCE_BODY_BYTES = 1024 * 1024;
const MAX_MESSAGES = 2_048;
const MAX_INPUTS = 2_048;

const Model = z.string().regex(MODEL_ID, 'model must be a model id such as "llama-3.1-70b-instruct"');
const MaxTokens = z.number().int().min(1).max(MAX_TOKENS_PER_REQUEST);
const StreamOptions = z.looseObject({ include_usage: z.boolean().optional() });

const ContentPart = z.looseObject({ type: z.string().min(1).max(64) });
const Message = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.union([z.string(), z.array(ContentPart).max(1_000), z.null()]).optional(),
  name: z.string().max(256).optional(),
});

const streamOptionsNeedStream = (b: { stream?: boolean | null; stream_options?: unknown }) => !(b.stream_options != null && b.stream !== true);
const STREAM_OPTIONS_MESSAGE = { message: 'stream_options is only allowed when stream is true', path: ['stream_options'] };

export const ChatBody = z
  .looseObject({
    model: Model,
    messages: z.array(Message).min(1, 'messages must hold at least one message').max(MAX_MESSAGES),
    max_tokens: MaxTokens.nullable().optional(),
    max_completion_tokens: MaxTokens.nullable().optional(),
    n: z.number().int().min(1).max(MAX_CHOICES).nullable().optional(),
    stream: z.boolean().nullable().optional(),
    stream_options: StreamOptions.nullable().optional(),
  })
  .refine(streamOptionsNeedStream, STREAM_OPTIONS_MESSAGE);

const TokenIds = z.array(z.number().int().min(0).max(10_000_000)).max(MAX_TOKENS_PER_REQUEST);
const PromptInput = z.union([
  z.string(),
  z.array(z.string()).min(1).max(MAX_INPUTS),
  TokenIds.min(1),
  z.array(TokenIds.min(1)).min(1).max(MAX_INPUTS),
]);

export const CompletionBody = z
  .looseObject({
    model: Model,
    prompt: PromptInput,
    max_tokens: MaxTokens.nullable().optional(),
    n: z.number().int().min(1).max(MAX_CHOICES).nullable().optional(),
    best_of: z.number().int().min(1).max(MAX_CHOICES).nullable().optional(),
    echo: z.boolean().nullable().optional(),
    stream: z.boolean().nullable().optional(),
    stream_options: StreamOptions.nullable().optional(),
  })
  .refine(streamOptionsNeedStream, STREAM_OPTIONS_MESSAGE);

export const EmbeddingBody = z.looseObject({
  model: Model,
  input: PromptInput,
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: z.number().int().min(1).max(65_536).optional(),
  user: z.string().max(256).optional(),
});

/** null means "not set" in OpenAI's API: drop nulls of the fields we read, so the figures see absence. */
export function withoutNulls<T extends Record<string, unknown>>(b: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(b)) if (v !== null) out[k] = v;
  return out as T;
}

export const ModelObject = z.object({
  id: z.string(),
  object: z.literal('model'),
  created: z.number().int(),
  owned_by: z.string(),
  kind: z.enum(['chat', 'embedding']),
  context_length: z.number().int(),
  accelerators: z.array(z.string()),
  providers: z.number().int(),
});
export const ModelList = z.object({ object: z.literal('list'), data: z.array(ModelObject) });

export const UsageQuery = z.strictObject({
  from: z.string().regex(/^\d{4}-\d{2}-\d{2}/, 'from must be a date (YYYY-MM-DD) or an ISO timestamp').optional(),
  to: z.string().regex(/^\d{4}-\d{2}-\d{2}/, 'to must be a date (YYYY-MM-DD) or an ISO timestamp').optional(),
  group_by: z.enum(['model', 'provider', 'day', 'key']).default('model'),
});
const UsageFigures = {
  requests: z.number().int(),
  errors: z.number().int(),
  estimated: z.number().int(),
  prompt_tokens: z.number().int(),
  completion_tokens: z.number().int(),
  gpu_seconds: z.number(),
  cost_micros: z.number().int(),
};
export const UsageReply = z.object({
  object: z.literal('usage'),
  from: z.string(),
  to: z.string(),
  group_by: z.enum(['model', 'provider', 'day', 'key']),
  data: z.array(z.object({ group: z.string(), ...UsageFigures })),
  total: z.object(UsageFigures),
});
