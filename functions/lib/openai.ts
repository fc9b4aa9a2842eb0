/**
 * zod schemas of the OpenAI-compatible requests (SPEC §4). They check what the marketplace relies on
 * (model, messages/prompt/input, max_tokens, n, stream, stream_options), the shapes of tools, tool_choice and
 * response_format (their JSON is prompt the hold counts), and every sampling parameter against
 * OpenAI's own bounds (its API reference and openapi.yaml), so a request OpenAI refuses is refused here with
 * OpenAI's code (openai-issues.ts) rather than by a provider. Other fields pass through untouched to the provider
 * (looseObject): OpenAI adds parameters often, and a field it accepts tomorrow must not break a client here today.
 * The routing preferences (`provider`, `models`: routing-schemas.ts) are CompuX's own, strict, and not forwarded.
 */
import { z } from 'zod';
import { MAX_CHOICES, MAX_TOKENS_PER_REQUEST, MODEL_ID } from '../../packages/core/src/index.js';
import { RoutingFields } from './routing-schemas.js';

/** Largest inference request body (the local server and API Gateway streaming carry at most this too). */
export const MAX_INFERENCE_BODY_BYTES = 1024 * 1024;
const MAX_MESSAGES = 2_048;
const MAX_INPUTS = 2_048;
/** OpenAI's bounds on the sampling parameters. */
const MAX_TEMPERATURE = 2;
const MAX_PENALTY = 2;
const MAX_TOP_LOGPROBS = 20;
const MAX_COMPLETION_LOGPROBS = 5;
const MAX_BEST_OF = 20;
const MAX_STOP_SEQUENCES = 4;
const MAX_TOOLS = 128;
const MAX_LOGIT_BIAS = 100;

/** An optional OpenAI parameter: null means "not set" in OpenAI's API (withoutNulls drops it before use). */
const opt = <T extends z.ZodType>(t: T) => t.nullable().optional();
const Int = (min: number, max: number) => z.int().min(min).max(max);
const Decimal = (min: number, max: number) => z.number().min(min).max(max);

const Model = z.string().regex(MODEL_ID, 'model must be a model id such as "llama-3.1-70b-instruct"');
const StreamOptions = z.looseObject({ include_usage: z.boolean().optional() });
const Stop = z.union([z.string(), z.array(z.string()).max(MAX_STOP_SEQUENCES)]);
const LogitBias = z.record(z.string(), Decimal(-MAX_LOGIT_BIAS, MAX_LOGIT_BIAS));

/** The sampling parameters chat and legacy completions share, with OpenAI's bounds. */
const Sampling = {
  temperature: opt(Decimal(0, MAX_TEMPERATURE)),
  top_p: opt(Decimal(0, 1)),
  presence_penalty: opt(Decimal(-MAX_PENALTY, MAX_PENALTY)),
  frequency_penalty: opt(Decimal(-MAX_PENALTY, MAX_PENALTY)),
  n: opt(Int(1, MAX_CHOICES)),
  // Any number: OpenAI takes int64 seeds, past what a JS number holds exactly, and clients send random 64-bit ones.
  seed: opt(z.number()),
  stop: opt(Stop),
  logit_bias: opt(LogitBias),
  stream: opt(z.boolean()),
  stream_options: opt(StreamOptions),
};

/** OpenAI's order, so its "Supported values are" list reads the same. */
const ROLES = ['system', 'assistant', 'user', 'function', 'tool', 'developer'] as const;
/** Roles whose message must carry content (an assistant's may hold tool calls instead). */
const CONTENT_REQUIRED = new Set<string>(['system', 'developer', 'user', 'tool']);

const ContentPart = z.looseObject({ type: z.string().min(1).max(64) });
const Message = z
  .looseObject({
    role: z.enum(ROLES),
    content: z.union([z.string(), z.array(ContentPart).max(1_000), z.null()]).optional(),
    name: z.string().max(256).optional(),
    tool_call_id: z.string().max(256).optional(),
  })
  .superRefine((m, ctx) => {
    if (m.content === undefined && CONTENT_REQUIRED.has(m.role)) ctx.addIssue({ code: 'custom', path: ['content'], message: 'content is required', params: { code: 'missing_required_parameter' } });
    if (m.role === 'tool' && m.tool_call_id === undefined) ctx.addIssue({ code: 'custom', path: ['tool_call_id'], message: 'tool_call_id is required', params: { code: 'missing_required_parameter' } });
  });

/** OpenAI's pattern for function and schema names (letters, digits, _ and -, at most 64). */
const FUNCTION_NAME = z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, "string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'");
const JsonSchemaObject = z.record(z.string(), z.unknown());
const FunctionDefinition = z.looseObject({
  name: FUNCTION_NAME,
  description: opt(z.string()),
  parameters: opt(JsonSchemaObject),
  strict: opt(z.boolean()),
});
const needs = (field: string) => ({ code: 'custom' as const, path: [field], message: `${field} is required`, params: { code: 'missing_required_parameter' } });
/** A tool: a function (its JSON Schema `parameters`) or a custom (free-text) tool; anything else is refused as OpenAI does. */
const Tool = z
  .looseObject({ type: z.enum(['function', 'custom']), function: FunctionDefinition.optional(), custom: z.looseObject({ name: FUNCTION_NAME }).optional() })
  .superRefine((t, ctx) => {
    if (t.type === 'function' && t.function === undefined) ctx.addIssue(needs('function'));
    if (t.type === 'custom' && t.custom === undefined) ctx.addIssue(needs('custom'));
  });
const NamedFunction = z.looseObject({ name: z.string().min(1).max(64) });
/** 'none' | 'auto' | 'required' | a named function or custom tool | allowed_tools. */
const ToolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z
    .looseObject({
      type: z.enum(['function', 'custom', 'allowed_tools']),
      function: NamedFunction.optional(),
      custom: NamedFunction.optional(),
      allowed_tools: z.looseObject({ mode: z.enum(['auto', 'required']), tools: z.array(z.looseObject({ type: z.string().max(64) })).max(MAX_TOOLS) }).optional(),
    })
    .superRefine((c, ctx) => {
      if (c.type === 'function' && c.function === undefined) ctx.addIssue(needs('function'));
      if (c.type === 'custom' && c.custom === undefined) ctx.addIssue(needs('custom'));
      if (c.type === 'allowed_tools' && c.allowed_tools === undefined) ctx.addIssue(needs('allowed_tools'));
    }),
]);
/** text | json_object | json_schema (whose json_schema names the schema and may hold it). */
const ResponseFormat = z
  .looseObject({
    type: z.enum(['text', 'json_object', 'json_schema']),
    json_schema: z.looseObject({ name: FUNCTION_NAME, description: opt(z.string()), schema: opt(JsonSchemaObject), strict: opt(z.boolean()) }).optional(),
  })
  .superRefine((f, ctx) => {
    if (f.type === 'json_schema' && f.json_schema === undefined) ctx.addIssue(needs('json_schema'));
  });

const toolChoiceNeedsTools = (b: { tools?: unknown[] | null; tool_choice?: unknown }) => b.tool_choice == null || (Array.isArray(b.tools) && b.tools.length > 0);
const TOOL_CHOICE_MESSAGE = { message: "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", path: ['tool_choice'], params: { code: 'invalid_value' } };
const topLogprobsNeedLogprobs = (b: { logprobs?: boolean | null; top_logprobs?: number | null }) => b.top_logprobs == null || b.logprobs === true;
const TOP_LOGPROBS_MESSAGE = { message: "Invalid value for 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is used.", path: ['top_logprobs'], params: { code: 'invalid_value' } };

const streamOptionsNeedStream = (b: { stream?: boolean | null; stream_options?: unknown }) => !(b.stream_options != null && b.stream !== true);
const STREAM_OPTIONS_MESSAGE = { message: "The 'stream_options' parameter is only allowed when 'stream' is enabled.", path: ['stream_options'], params: { code: 'invalid_value' } };

export const ChatBody = z
  .looseObject({
    model: Model,
    messages: z.array(Message).min(1).max(MAX_MESSAGES),
    max_tokens: opt(Int(1, MAX_TOKENS_PER_REQUEST)),
    max_completion_tokens: opt(Int(1, MAX_TOKENS_PER_REQUEST)),
    ...Sampling,
    logprobs: opt(z.boolean()),
    top_logprobs: opt(Int(0, MAX_TOP_LOGPROBS)),
    tools: opt(z.array(Tool).max(MAX_TOOLS)),
    tool_choice: opt(ToolChoice),
    parallel_tool_calls: opt(z.boolean()),
    response_format: opt(ResponseFormat),
    // Deprecated by OpenAI for tools / tool_choice; still accepted there, so passed through here.
    functions: opt(z.array(FunctionDefinition).max(MAX_TOOLS)),
    ...RoutingFields,
  })
  .refine(streamOptionsNeedStream, STREAM_OPTIONS_MESSAGE)
  .refine(toolChoiceNeedsTools, TOOL_CHOICE_MESSAGE)
  .refine(topLogprobsNeedLogprobs, TOP_LOGPROBS_MESSAGE);

const TokenIds = z.array(Int(0, 10_000_000)).max(MAX_TOKENS_PER_REQUEST);
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
    // OpenAI takes 0 here (with echo, the prompt's logprobs and no completion).
    max_tokens: opt(Int(0, MAX_TOKENS_PER_REQUEST)),
    ...Sampling,
    best_of: opt(Int(0, MAX_BEST_OF)),
    echo: opt(z.boolean()),
    logprobs: opt(Int(0, MAX_COMPLETION_LOGPROBS)),
    suffix: opt(z.string()),
    ...RoutingFields,
  })
  .refine(streamOptionsNeedStream, STREAM_OPTIONS_MESSAGE);

export const EmbeddingBody = z.looseObject({
  model: Model,
  input: PromptInput,
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: Int(1, 65_536).optional(),
  user: z.string().max(256).optional(),
  ...RoutingFields,
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
