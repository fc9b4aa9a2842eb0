/** The simulator's refusals, in OpenAI's error shape: thrown by the request checks, answered by the server. */

export interface ApiError {
  status: number;
  message: string;
  type: string;
  param?: string | null;
  code?: string | null;
  headers?: Record<string, string>;
}

export class RequestError extends Error {
  constructor(readonly apiError: ApiError) {
    super(apiError.message);
  }
}

/** A 400 invalid_request_error, as OpenAI words them. */
export const bad = (message: string, param: string | null = null, code: string | null = null): RequestError =>
  new RequestError({ status: 400, message, type: 'invalid_request_error', param, code });

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
