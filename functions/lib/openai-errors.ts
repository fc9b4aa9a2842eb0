/**
 * The errors of the OpenAI-compatible routes (rows marked `openai` in infra/routes.ts), as OpenAI's API answers
 * them: `{"error":{"message","type","param","code"}}` with all four keys, OpenAI's types only
 * (invalid_request_error, insufficient_quota, requests, tokens, server_error), its key refusals, its validation
 * codes and `param` paths (openai-issues.ts) and one not-found for models. Status codes stay SPEC §4's.
 */
import type { z } from 'zod';
import { modelNotFound, type ErrorSpec, type OpenAiErrorType } from '../../packages/core/src/index.js';
import { HttpError, type ErrorType } from './errors.js';
import { invalidRequest, openAiIssue } from './openai-issues.js';

/** How many trailing characters of a refused key the message shows (as OpenAI does): enough to tell keys apart. */
const KEY_TAIL_CHARS = 4;
/** A key shorter than this is not shown at all: its tail would be most of it. */
const KEY_MIN_CHARS_TO_SHOW_TAIL = 16;

export function httpErrorOf(spec: ErrorSpec): HttpError {
  return new HttpError(spec.status, spec.message, spec.code, spec.type, spec.param ?? null, true, spec.headers ?? {});
}

/** The key as a refusal may quote it: its last 4 characters only. */
export function maskedKey(key: string): string {
  return key.length >= KEY_MIN_CHARS_TO_SHOW_TAIL ? `****${key.slice(-KEY_TAIL_CHARS)}` : '****';
}

/** No bearer token. OpenAI sends no code here; CompuX names the one its docs give every 401 (a null helps nobody). */
export function missingApiKey(): HttpError {
  return new HttpError(401, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", 'invalid_api_key', 'invalid_request_error');
}

/** An unknown or revoked key. */
export function incorrectApiKey(key: string): HttpError {
  return new HttpError(401, `Incorrect API key provided: ${maskedKey(key)}. A startup's keys are made with POST /v1/keys and shown once; send one as "Authorization: Bearer <key>".`, 'invalid_api_key', 'invalid_request_error');
}

/**
 * A body that fails its schema. A model id that cannot be one (it fails the id pattern) names a model that does
 * not exist: OpenAI answers any unknown model with the same 404, so this does too.
 */
export function openAiBodyError(error: z.ZodError, schema: z.ZodType): HttpError {
  const first = error.issues[0];
  if (first?.code === 'invalid_format' && first.path.length === 1 && first.path[0] === 'model' && typeof first.input === 'string') {
    return httpErrorOf(modelNotFound(first.input));
  }
  return httpErrorOf(invalidRequest(openAiIssue(error, schema)));
}

/** CompuX's management types, as the nearest of OpenAI's. */
const OPENAI_TYPE: Record<ErrorType, OpenAiErrorType> = {
  invalid_request_error: 'invalid_request_error',
  authentication_error: 'invalid_request_error',
  permission_error: 'invalid_request_error',
  not_found_error: 'invalid_request_error',
  conflict_error: 'invalid_request_error',
  rate_limit_error: 'requests',
  api_error: 'server_error',
  insufficient_quota: 'insufficient_quota',
  requests: 'requests',
  tokens: 'tokens',
  server_error: 'server_error',
};

/** Any HttpError raised on an OpenAI-compatible route (body limits, idempotency keys, contention), with OpenAI's type. */
export function asOpenAi(e: HttpError): HttpError {
  const type = OPENAI_TYPE[e.type];
  return type === e.type ? e : new HttpError(e.status, e.message, e.code, type, e.param, e.expose, e.headers);
}

/** A fault of ours on an OpenAI-compatible route, worded as OpenAI words its own. */
export function openAiInternalError(): ErrorSpec {
  return { status: 500, type: 'server_error', code: 'internal_error', message: 'The server had an error while processing your request. Sorry about that! You can retry your request; x-request-id names it.' };
}

/** Longest response id quoted back (a malformed path value may be anything). */
const QUOTED_ID_MAX_CHARS = 80;

/** A stored response that does not exist for this startup (never made, another startup's, deleted, expired): one 404. */
export function responseNotFound(id: string): HttpError {
  const quoted = id.length > QUOTED_ID_MAX_CHARS ? `${id.slice(0, QUOTED_ID_MAX_CHARS)}…` : id;
  return new HttpError(404, `Response with id '${quoted}' not found.`, 'response_not_found', 'invalid_request_error', 'response_id');
}
