/** OpenAI's error shape `{"error":{"message","type","param","code"}}` (SPEC §4), the only error body a client sees. */

export interface ErrorSpec {
  status: number;
  type: string;
  code: string;
  message: string;
  param?: string | null;
  headers?: Record<string, string>;
}

/** Longest provider error message passed on to the client. */
const PROVIDER_MESSAGE_MAX_CHARS = 2_000;

export function openAiError(e: ErrorSpec): string {
  return JSON.stringify({ error: { message: e.message, type: e.type, param: e.param ?? null, code: e.code } });
}

/** A provider's 4xx body, reduced to OpenAI's error shape (nothing else of the provider's reaches the client). */
export function passThroughError(text: string, status: number): string {
  try {
    const e = (JSON.parse(text) as { error?: { message?: unknown; type?: unknown; param?: unknown; code?: unknown } }).error;
    if (e && typeof e.message === 'string') {
      return openAiError({
        status,
        message: e.message.slice(0, PROVIDER_MESSAGE_MAX_CHARS),
        type: typeof e.type === 'string' ? e.type : 'invalid_request_error',
        code: typeof e.code === 'string' ? e.code : 'invalid_request',
        param: typeof e.param === 'string' ? e.param : null,
      });
    }
  } catch {
    // fall through to a generic message
  }
  return openAiError({ status, type: 'invalid_request_error', code: 'invalid_request', message: `The provider rejected the request (${status}).` });
}
