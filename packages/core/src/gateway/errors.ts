/** OpenAI's error shape `{"error":{"message","type","param","code"}}` (SPEC §4), the only error body a client sees. */

/**
 * The `type`s OpenAI's API answers with, and so the only ones the inference routes use: a client written for
 * OpenAI branches on these (`requests`/`tokens` are its two 429 kinds, `insufficient_quota` its credit refusal).
 */
export type OpenAiErrorType = 'invalid_request_error' | 'insufficient_quota' | 'requests' | 'tokens' | 'server_error';

/**
 * Every `code` the OpenAI-compatible routes answer, CompuX's own and OpenAI's alike: docs/api.md's error table lists
 * exactly these (test/api/openai-error-codes.offline.test.ts checks both ways, and that each is raised somewhere).
 */
export const INFERENCE_ERROR_CODES = [
  // 400, OpenAI's validation codes (functions/lib/openai-issues.ts)
  'missing_required_parameter', 'invalid_type', 'invalid_value', 'empty_array', 'empty_string',
  'array_below_min_length', 'array_above_max_length', 'string_below_min_length', 'string_above_max_length',
  'integer_below_min_value', 'integer_above_max_value', 'decimal_below_min_value', 'decimal_above_max_value',
  // 400, the request itself (functions/lib/api.ts, functions/inference.ts)
  'missing_body', 'invalid_json', 'duplicate_key', 'invalid_idempotency_key', 'unexpected_query', 'unexpected_body',
  'invalid_api_key', 'exceeds_credit', 'key_budget_exceeded', 'credits_frozen', 'model_not_allowed', 'forbidden',
  'model_not_found', 'idempotency_key_reused', 'idempotency_conflict', 'body_too_large', 'rate_limit_exceeded',
  'concurrency_limit_key', 'concurrency_limit_startup',
  // routing preferences (preferences.ts, route-plan.ts) and nested fields OpenAI does not know
  'unknown_parameter', 'unknown_provider', 'max_price_exceeded', 'no_allowed_provider',
  'internal_error', 'upstream_error', 'upstream_failed_mid_stream', 'upstream_rate_limited', 'no_capacity', 'contention',
  'upstream_timeout', 'client_closed_request',
  // The Responses API (packages/core/src/responses/, functions/responses.ts, functions/lib/responses-schemas.ts);
  // its unknown fields share `unknown_parameter` above
  'unsupported_parameter', 'previous_response_not_found', 'response_not_found',
] as const;
export type InferenceErrorCode = (typeof INFERENCE_ERROR_CODES)[number];

const CODES: ReadonlySet<string> = new Set(INFERENCE_ERROR_CODES);
export const isInferenceErrorCode = (code: unknown): code is InferenceErrorCode => typeof code === 'string' && CODES.has(code);

export interface ErrorSpec {
  status: number;
  type: OpenAiErrorType;
  code: InferenceErrorCode;
  message: string;
  param?: string | null;
  headers?: Record<string, string>;
}

/** Longest provider error message passed on to the client. */
const PROVIDER_MESSAGE_MAX_CHARS = 2_000;
/** Longest provider `param` passed on: a field path, never a payload. */
const PROVIDER_PARAM_MAX_CHARS = 256;
/** A provider's `code` passed on only when it looks like one of OpenAI's (snake case); vLLM sends numbers and class names. */
const PROVIDER_CODE = /^[a-z][a-z0-9_]{0,63}$/;
/** Longest model id quoted back in a message: an id that fails the pattern may be any string the caller sent. */
const QUOTED_MODEL_MAX_CHARS = 256;

/** The body of an error: any code here, as a provider's passed-through one may be anything (or none). */
export function openAiError(e: Omit<ErrorSpec, 'code'> & { code: string | null }): string {
  return JSON.stringify({ error: { message: e.message, type: e.type, param: e.param ?? null, code: e.code } });
}

/** The ledger (a hold, a claim, a concurrency ticket) stayed busy through its retries: the caller retries in a second. */
export const CONTENTION: ErrorSpec = { status: 503, type: 'server_error', code: 'contention', message: 'The service is busy; retry.', headers: { 'retry-after': '1' } };

/**
 * The one not-found of the inference routes, as OpenAI words it, whether the model is unknown, served by no live
 * provider for this route, malformed, or asked for by id (GET /v1/models/{id}).
 */
export function modelNotFound(model: string): ErrorSpec {
  const quoted = model.length > QUOTED_MODEL_MAX_CHARS ? `${model.slice(0, QUOTED_MODEL_MAX_CHARS)}…` : model;
  return { status: 404, type: 'invalid_request_error', code: 'model_not_found', param: 'model', message: `The model \`${quoted}\` does not exist or you do not have access to it.` };
}

/**
 * A provider's 4xx body, reduced to OpenAI's error shape: its message, and its param and code when they look like
 * OpenAI's; the type is always invalid_request_error (the provider's own class names say which software it runs).
 */
export function passThroughError(text: string, status: number): string {
  try {
    const e = (JSON.parse(text) as { error?: { message?: unknown; type?: unknown; param?: unknown; code?: unknown } }).error;
    if (e && typeof e.message === 'string') {
      return openAiError({
        status,
        message: e.message.slice(0, PROVIDER_MESSAGE_MAX_CHARS),
        type: 'invalid_request_error',
        code: typeof e.code === 'string' && PROVIDER_CODE.test(e.code) ? e.code : null,
        param: typeof e.param === 'string' ? e.param.slice(0, PROVIDER_PARAM_MAX_CHARS) : null,
      });
    }
  } catch {
    // fall through to a generic message
  }
  return openAiError({ status, type: 'invalid_request_error', code: null, message: `The provider rejected the request (${status}).` });
}
