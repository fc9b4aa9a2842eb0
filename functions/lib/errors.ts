/**
 * Errors that carry their HTTP status and whether their message may be shown (middy style).
 * The reply shape is OpenAI's: {"error":{"message","type","param","code"}}. Anything not an
 * HttpError reaches the caller as a plain 500 without detail; the stack goes to the log only.
 */
import type { z } from 'zod';
import type { OpenAiErrorType } from '../../packages/core/src/index.js';

/** CompuX's management types, and OpenAI's (the only ones an OpenAI-compatible route answers: openai-errors.ts). */
export type ErrorType = 'authentication_error' | 'permission_error' | 'not_found_error' | 'conflict_error' | 'rate_limit_error' | 'api_error' | OpenAiErrorType;

export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    /** null only where OpenAI sends none (openai-errors.ts); management routes always name one. */
    readonly code: string | null,
    readonly type: ErrorType = status >= 500 ? 'api_error' : 'invalid_request_error',
    readonly param: string | null = null,
    readonly expose = status < 500,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string, param: string | null = null, code = 'invalid_request') => new HttpError(400, message, code, 'invalid_request_error', param);
export const unauthorized = () => new HttpError(401, 'Missing or invalid API key. Send it as "Authorization: Bearer <key>".', 'invalid_api_key', 'authentication_error');
export const forbidden = (message = 'This key may not call this route.') => new HttpError(403, message, 'forbidden', 'permission_error');
export const notFound = (what: string) => new HttpError(404, `No such ${what}.`, 'not_found', 'not_found_error');
export const conflict = (message: string, code: string) => new HttpError(409, message, code, 'conflict_error');
export const busy = () => new HttpError(503, 'The service is busy; retry with the same Idempotency-Key.', 'contention', 'api_error', null, true, { 'retry-after': '1' });

export function errorBody(e: { message: string; type: string; param?: string | null; code: string | null }) {
  // All four keys, always (null when none), as OpenAI sends them.
  return { error: { message: e.message, type: e.type, param: e.param ?? null, code: e.code } };
}

export const internalErrorBody = { error: { message: 'Internal server error', type: 'api_error', param: null, code: 'internal_error' } };

/** A readable 400 from zod issues: "field.path: problem; other: problem". */
export function fromZod(error: z.ZodError, where: 'body' | 'query'): HttpError {
  const issues = error.issues.slice(0, 10);
  const message = issues.map((i) => `${i.path.length ? i.path.join('.') : where}: ${i.message}`).join('; ');
  const first = issues[0]?.path.join('.') || null;
  return badRequest(`Invalid ${where}: ${message}`, first, 'invalid_request');
}
