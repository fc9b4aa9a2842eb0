/**
 * The Responses API request (POST /v1/responses), as OpenAI's API reference and openapi.yaml bound it. Unlike chat,
 * nothing here passes through to a provider (the request is translated to a chat completion), so every field is
 * decided: acted on, accepted and ignored (listed in IGNORED), or refused (UNSUPPORTED, and unknown fields, as
 * OpenAI refuses them: `unknown_parameter`). docs/api.md's "Responses API" section lists the same.
 */
import { z } from 'zod';
import { MAX_TOKENS_PER_REQUEST, MODEL_ID } from '../../packages/core/src/index.js';
import { RoutingFields } from './routing-schemas.js';

const MAX_INPUT_ITEMS = 2_048;
const MAX_CONTENT_PARTS = 1_000;
const MAX_TOOLS = 128;
/** OpenAI's floor for max_output_tokens. */
const MIN_OUTPUT_TOKENS = 16;
/** OpenAI's metadata bounds: 16 pairs, keys up to 64 characters, values up to 512. */
const MAX_METADATA_PAIRS = 16;
const MAX_METADATA_KEY_CHARS = 64;
const MAX_METADATA_VALUE_CHARS = 512;
const MAX_ID_CHARS = 256;
const MAX_NAME_CHARS = 64;

const opt = <T extends z.ZodType>(t: T) => t.nullable().optional();
const Id = z.string().min(1).max(MAX_ID_CHARS);

const TextPart = z.looseObject({ type: z.enum(['input_text', 'output_text']), text: z.string() });
const ImagePart = z.looseObject({ type: z.literal('input_image'), image_url: z.string().max(1024 * 1024), detail: z.enum(['low', 'high', 'auto']).optional() });
const RefusalPart = z.looseObject({ type: z.literal('refusal'), refusal: z.string() });
const ContentPart = z.discriminatedUnion('type', [TextPart, ImagePart, RefusalPart]);
const Content = z.union([z.string(), z.array(ContentPart).max(MAX_CONTENT_PARTS)]);

const MessageItem = z.looseObject({
  type: z.literal('message').optional(),
  role: z.enum(['user', 'assistant', 'system', 'developer']),
  content: Content,
  id: Id.optional(),
  status: z.string().max(32).optional(),
});
const FunctionCallItem = z.looseObject({
  type: z.literal('function_call'), call_id: Id, name: z.string().min(1).max(MAX_NAME_CHARS), arguments: z.string(), id: Id.optional(), status: z.string().max(32).optional(),
});
const FunctionCallOutputItem = z.looseObject({
  type: z.literal('function_call_output'), call_id: Id, output: z.union([z.string(), z.array(TextPart).max(MAX_CONTENT_PARTS)]), id: Id.optional(), status: z.string().max(32).optional(),
});
const ItemReference = z.looseObject({ type: z.literal('item_reference'), id: Id });
const ITEM_TYPES = ['message', 'function_call', 'function_call_output', 'item_reference'] as const;

/** An input item: a message (its `type` may be left out), a function call, its output, or a reference to a stored item. */
const InputItem = z.union([MessageItem, FunctionCallItem, FunctionCallOutputItem, ItemReference]);

const Items = z.array(
  z.unknown().superRefine((v, ctx) => {
    const t = v && typeof v === 'object' && !Array.isArray(v) ? (v as { type?: unknown }).type : undefined;
    if (t !== undefined && !(ITEM_TYPES as readonly unknown[]).includes(t)) {
      ctx.addIssue({ code: 'custom', path: ['type'], message: `Invalid value: '${String(t).slice(0, 64)}'. CompuX serves input items of type ${ITEM_TYPES.map((x) => `'${x}'`).join(', ')}.`, params: { code: 'invalid_value' } });
    }
  }).pipe(InputItem),
).min(1).max(MAX_INPUT_ITEMS);

const FunctionTool = z.looseObject({
  type: z.literal('function'),
  name: z.string().min(1).max(MAX_NAME_CHARS).regex(/^[a-zA-Z0-9_-]+$/, 'a function name is letters, digits, underscores and dashes'),
  description: opt(z.string().max(4_096)),
  parameters: opt(z.record(z.string(), z.unknown())),
  strict: opt(z.boolean()),
});
const Tool = z.unknown().superRefine((v, ctx) => {
  const t = v && typeof v === 'object' && !Array.isArray(v) ? (v as { type?: unknown }).type : undefined;
  if (t !== undefined && t !== 'function') {
    ctx.addIssue({ code: 'custom', path: ['type'], message: `Tool type '${String(t).slice(0, 64)}' is not supported: CompuX serves function tools (translated to chat completions), not OpenAI's hosted tools.`, params: { code: 'invalid_value' } });
  }
}).pipe(FunctionTool);

const ToolChoice = z.union([z.enum(['none', 'auto', 'required']), z.looseObject({ type: z.literal('function'), name: z.string().min(1).max(MAX_NAME_CHARS) })]);

const Format = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('text') }),
  z.looseObject({ type: z.literal('json_object') }),
  z.looseObject({ type: z.literal('json_schema'), name: z.string().min(1).max(MAX_NAME_CHARS), schema: z.record(z.string(), z.unknown()), strict: opt(z.boolean()), description: opt(z.string().max(4_096)) }),
]);

const Metadata = z.record(z.string().max(MAX_METADATA_KEY_CHARS), z.string().max(MAX_METADATA_VALUE_CHARS)).refine((m) => Object.keys(m).length <= MAX_METADATA_PAIRS, {
  message: `Invalid 'metadata': at most ${MAX_METADATA_PAIRS} key-value pairs.`, params: { code: 'invalid_value' },
});

/** Acted on. */
const FIELDS = {
  model: z.string().regex(MODEL_ID, 'model must be a model id such as "llama-3.1-70b-instruct"'),
  input: z.union([z.string(), Items]),
  instructions: opt(z.string()),
  tools: opt(z.array(Tool).max(MAX_TOOLS)),
  tool_choice: opt(ToolChoice),
  parallel_tool_calls: opt(z.boolean()),
  text: opt(z.looseObject({ format: Format.optional(), verbosity: opt(z.enum(['low', 'medium', 'high'])) })),
  max_output_tokens: opt(z.int().min(MIN_OUTPUT_TOKENS).max(MAX_TOKENS_PER_REQUEST)),
  temperature: opt(z.number().min(0).max(2)),
  top_p: opt(z.number().min(0).max(1)),
  stream: opt(z.boolean()),
  store: opt(z.boolean()),
  previous_response_id: opt(z.string().regex(/^resp_[A-Za-z0-9]{1,64}$/, "previous_response_id must be a response id such as 'resp_…'")),
  metadata: opt(Metadata),
  user: opt(z.string().max(MAX_ID_CHARS)),
  // CompuX's routing preferences and model fallbacks, as on the chat route (docs/api.md "Routing preferences").
  ...RoutingFields,
};

/**
 * Accepted and ignored (a client library sends them, and they change nothing a chat completion can do): hosted
 * reasoning and caching options, `include` (no hosted tool outputs, no logprobs), `truncation` ("disabled" is what
 * CompuX does), `service_tier`, `top_logprobs`, `stream_options`, `max_tool_calls`, `safety_identifier`.
 */
export const IGNORED_FIELDS = [
  'include', 'reasoning', 'truncation', 'service_tier', 'top_logprobs', 'stream_options', 'max_tool_calls', 'safety_identifier',
  'prompt_cache_key', 'prompt_cache_retention',
] as const;

/** Refused with `unsupported_parameter`: each would change the reply in a way CompuX cannot honour. */
export const UNSUPPORTED_FIELDS = ['background', 'conversation', 'prompt', 'context_management'] as const;

const KNOWN = new Set<string>([...Object.keys(FIELDS), ...IGNORED_FIELDS]);
const UNSUPPORTED = new Set<string>(UNSUPPORTED_FIELDS);

export const ResponsesBody = z.looseObject(FIELDS).superRefine((b, ctx) => {
  for (const key of Object.keys(b)) {
    if (KNOWN.has(key)) continue;
    // `background: false` and the like ask for nothing CompuX lacks.
    const value = (b as Record<string, unknown>)[key];
    if (UNSUPPORTED.has(key) && (value === null || value === false)) continue;
    const param = key.length > MAX_NAME_CHARS ? `${key.slice(0, MAX_NAME_CHARS)}…` : key;
    ctx.addIssue(UNSUPPORTED.has(key)
      ? { code: 'custom', path: [key], message: `Unsupported parameter: '${param}' is not supported by CompuX's Responses API.`, params: { code: 'unsupported_parameter' } }
      : { code: 'custom', path: [key], message: `Unknown parameter: '${param}'.`, params: { code: 'unknown_parameter' } });
    return;
  }
});

/** The Response object (documented; its items and usage as packages/core/src/responses/response.ts builds them). */
export const ResponseReply = z.looseObject({
  id: z.string(),
  object: z.literal('response'),
  created_at: z.int(),
  status: z.enum(['completed', 'incomplete', 'failed', 'in_progress']),
  model: z.string(),
  output: z.array(z.looseObject({ type: z.enum(['message', 'function_call']), id: z.string() })),
  usage: z.looseObject({ input_tokens: z.int(), output_tokens: z.int(), total_tokens: z.int() }).nullable(),
  error: z.looseObject({ code: z.string(), message: z.string() }).nullable(),
  incomplete_details: z.looseObject({ reason: z.string() }).nullable(),
});
export const DeletedResponseReply = z.object({ id: z.string(), object: z.literal('response'), deleted: z.literal(true) });
