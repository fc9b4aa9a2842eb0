/**
 * The wrapper every HTTP handler goes through: middy + Powertools, then — from the handler's row in
 * infra/routes.ts, the single source — authentication, role check, strict body and query parsing with
 * the row's zod schemas, and the idempotency claim. Handlers only call core and shape the reply.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { z } from 'zod';
import { ROUTES, takesCursor, type RouteDef } from '../../infra/routes.js';
import { requestHash, type Principal } from '../../packages/core/src/index.js';
import { BadCursorError, ContentionError } from '../../packages/core/src/adapters/dynamodb/index.js';
import { deps } from './deps.js';
import { HttpError, badRequest, busy, errorBody, forbidden, fromZod, notFound, internalErrorBody, unauthorized } from './errors.js';
import { asOpenAi, incorrectApiKey, missingApiKey, openAiBodyError, openAiInternalError } from './openai-errors.js';
import { logger, metrics } from './powertools.js';
import { routeReplyHeaders } from './reply.js';
import { checkPathParams, checkRouteParams } from './params.js';
import { cursorBinding, openRequestCursor, sealReplyCursor } from './cursors.js';
import { MAX_JSON_DEPTH, jsonProblem } from './json.js';

/** Largest JSON body a management route reads. */
export const MAX_BODY_BYTES = 64 * 1024;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export interface ApiRequest<B = unknown, Q = unknown> {
  event: APIGatewayProxyEvent;
  context: Context;
  route: RouteDef;
  /** null on public routes. */
  principal: Principal | null;
  params: Record<string, string>;
  body: B;
  query: Q;
  /** The body exactly as received, on rows with `rawBody` (a signed webhook verifies these bytes). */
  rawBody: string;
  requestId: string;
  headers: Record<string, string>;
  /** Present on idempotent routes: where the first reply is stored. */
  idempotency?: { scope: string; key: string; request_hash: string };
}

export interface ApiReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export function routeFor(handler: string): RouteDef {
  const row = ROUTES.find((r) => r.handler === handler);
  if (!row) throw new Error(`no route row has handler ${handler}`);
  // Every path parameter must have a kind (charset and length) before the handler may serve: fails at import.
  checkRouteParams(row);
  return row;
}

export function lowerHeaders(h: Record<string, string | undefined> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) if (v !== undefined) out[k.toLowerCase()] = v;
  return out;
}

export function requestIdOf(event: APIGatewayProxyEvent, context: Context): string {
  return event.requestContext?.requestId || context.awsRequestId;
}

export function bearer(headers: Record<string, string>): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
  return m?.[1];
}

export async function authenticate(route: RouteDef, headers: Record<string, string>): Promise<Principal | null> {
  if (route.auth.includes('public')) return null;
  const key = bearer(headers);
  const principal = await deps().tenants.authenticate(key);
  if (!principal) throw route.openai ? (key ? incorrectApiKey(key) : missingApiKey()) : unauthorized();
  if (!route.auth.includes(principal.role)) throw forbidden();
  return principal;
}

/** The body as UTF-8 text, refused with 413 over `limitBytes`. */
export function rawBodyOf(event: APIGatewayProxyEvent, limitBytes = MAX_BODY_BYTES): string {
  const raw = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) : '';
  if (Buffer.byteLength(raw) > limitBytes) throw new HttpError(413, `Request body over ${limitBytes} bytes.`, 'body_too_large');
  return raw;
}

/**
 * A request body's JSON, refused with 400 naming what is wrong: not JSON (`invalid_json`), a key given twice in one
 * object (`duplicate_key`, `param` its path) or nesting deeper than `maxDepth` (`invalid_json`).
 */
export function parseJson(raw: string, maxDepth = MAX_JSON_DEPTH, notJson = 'Request body is not valid JSON.'): unknown {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw badRequest(notJson, null, 'invalid_json');
  }
  const problem = jsonProblem(raw, maxDepth);
  if (problem?.kind === 'duplicate_key') throw badRequest(`The request body gives the key ${problem.path} more than once.`, problem.path, 'duplicate_key');
  if (problem) throw badRequest(`The request body is nested deeper than ${maxDepth} levels (at ${problem.path}).`, problem.path, 'invalid_json');
  return json;
}

/** The caller's Idempotency-Key, else one derived from the request id; 400 when malformed. */
export function idempotencyKeyOf(headers: Record<string, string>, requestId: string): string {
  const key = headers['idempotency-key'] ?? `req:${requestId}`;
  if (!IDEMPOTENCY_KEY.test(key)) throw badRequest('Idempotency-Key must be 1–255 printable ASCII characters.', 'Idempotency-Key', 'invalid_idempotency_key');
  return key;
}

function parseBody(route: RouteDef, event: APIGatewayProxyEvent): unknown {
  if (route.rawBody) return undefined;
  const raw = rawBodyOf(event);
  const json: unknown = raw.trim() === '' ? undefined : parseJson(raw);
  if (!route.body) {
    // A route without a body takes nothing or {}: anything else is a mistake worth telling.
    if (json !== undefined && !(typeof json === 'object' && json !== null && !Array.isArray(json) && Object.keys(json).length === 0)) {
      throw badRequest('This route takes no request body.', null, 'unexpected_body');
    }
    return undefined;
  }
  if (json === undefined) throw badRequest('A JSON request body is required.', null, 'missing_body');
  return parseBodyWith(route, route.body as z.ZodType, json);
}

/** A JSON body checked against a schema: a 400 worded as OpenAI words it on its routes, else CompuX's. */
export function parseBodyWith<T>(route: RouteDef, schema: z.ZodType<T>, json: unknown): T {
  // The input is reported so a refusal can say what was received ("but got 5 instead").
  const parsed = schema.safeParse(json, { reportInput: route.openai === true });
  if (!parsed.success) throw route.openai ? openAiBodyError(parsed.error, schema) : fromZod(parsed.error, 'body');
  return parsed.data;
}

/**
 * The query, parsed; on a row that takes a cursor, the caller's cursor opened (400 `invalid_cursor` unless this
 * server sealed it for this list and caller: functions/lib/cursors.ts).
 */
function parseQuery(route: RouteDef, event: APIGatewayProxyEvent, binding: () => string): unknown {
  const q = event.queryStringParameters ?? {};
  if (!route.query) {
    if (Object.keys(q).length > 0) throw badRequest(`This route takes no query parameters (got ${Object.keys(q).slice(0, 5).join(', ')}).`, Object.keys(q)[0] ?? null, 'unexpected_query');
    return {};
  }
  const parsed = (route.query as z.ZodType).safeParse(q);
  if (!parsed.success) throw fromZod(parsed.error, 'query');
  const query = parsed.data as Record<string, unknown>;
  if (takesCursor(route) && typeof query.cursor === 'string') return { ...query, cursor: openRequestCursor(query.cursor, binding()) };
  return query;
}

/** A list reply's `next_cursor`, sealed for the list it continues (rows that take a cursor). */
function sealReply(route: RouteDef, out: ApiReply, binding: () => string): ApiReply {
  if (!takesCursor(route) || out.status >= 300) return out;
  const body = out.body as { next_cursor?: unknown } | null;
  if (!body || typeof body !== 'object' || typeof body.next_cursor !== 'string') return out;
  return { ...out, body: { ...body, next_cursor: sealReplyCursor(body.next_cursor, binding()) } };
}

function reply(status: number, body: unknown, requestId: string, extra: Record<string, string> = {}): APIGatewayProxyResult {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json', 'x-request-id': requestId, 'cache-control': 'no-store', ...extra },
    body: JSON.stringify(body),
  };
}

/** The error as a client may see it; null for a fault of ours, whose detail stays in the log. */
function exposed(err: unknown): HttpError | null {
  if (err instanceof HttpError && err.expose) return err;
  if (err instanceof BadCursorError) return badRequest(err.message, 'cursor', 'invalid_cursor');
  if (err instanceof ContentionError) return busy();
  return null;
}

/** The reply to a thrown error: OpenAI's types on the OpenAI-compatible routes (`route.openai`), CompuX's elsewhere. */
export function errorResult(err: unknown, requestId: string, route?: RouteDef): APIGatewayProxyResult {
  const e = exposed(err);
  if (!e) {
    logger.error('unhandled error', { error: err as Error, requestId });
    return route?.openai ? reply(500, errorBody(openAiInternalError()), requestId) : reply(500, internalErrorBody, requestId);
  }
  const shown = route?.openai ? asOpenAi(e) : e;
  return reply(shown.status, errorBody(shown), requestId, shown.headers);
}

/** What every route (buffered or streamed) resolves before its handler runs: who calls, with what. */
export async function prepareRequest(route: RouteDef, event: APIGatewayProxyEvent, context: Context): Promise<ApiRequest<undefined, Record<string, never>>> {
  const headers = lowerHeaders(event.headers);
  const principal = await authenticate(route, headers);
  // After the key (401/403 first), before anything reads them: a path value no id could be never reaches a handler.
  // Except on a signed webhook (`rawBody`): it answers an id that cannot exist as it answers an unknown one, a bad
  // signature (401), so no reply tells ids apart; its handler bounds the id itself before any read.
  const params = route.rawBody ? ((event.pathParameters ?? {}) as Record<string, string>) : checkPathParams(route, event.pathParameters);
  return { event, context, route, principal, params, body: undefined, query: {}, rawBody: '', requestId: requestIdOf(event, context), headers };
}

/** One metric a request, by status class: the dashboards' request and error rates. */
export function countRequest(route: RouteDef, status: number): void {
  metrics.addMetric(status >= 500 ? 'api_5xx' : status >= 400 ? 'api_4xx' : 'api_2xx', MetricUnit.Count, 1);
}

/** Builds the Lambda handler of one route row. */
export function apiRoute<B = unknown, Q = unknown>(handlerId: string, fn: (req: ApiRequest<B, Q>) => Promise<ApiReply>) {
  const route = routeFor(handlerId);
  const core = async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => {
    const requestId = requestIdOf(event, context);
    let result: APIGatewayProxyResult;
    try {
      const base = await prepareRequest(route, event, context);
      // The list this request pages, for whom (the filters as sent included): what its cursors are sealed to.
      const binding = () => cursorBinding(route, base.principal, base.params, event.queryStringParameters ?? {});
      // The query before the body: what the URL names is refused before what it carries.
      const query = parseQuery(route, event, binding) as Q;
      const req: ApiRequest<B, Q> = { ...base, query, body: parseBody(route, event) as B, rawBody: route.rawBody ? rawBodyOf(event) : '' };
      if (route.idempotent) {
        const key = idempotencyKeyOf(req.headers, requestId);
        req.idempotency = {
          scope: `${req.principal?.role ?? 'public'}:${req.principal?.tenant_id ?? '-'}:${route.method} ${route.path}`,
          key,
          request_hash: requestHash({ path: event.path, body: req.body ?? null }),
        };
      }
      const out = sealReply(route, await fn(req), binding);
      result = reply(out.status, out.body, requestId, out.headers);
    } catch (err) {
      result = errorResult(err, requestId, route);
    }
    countRequest(route, result.statusCode);
    return { ...result, headers: routeReplyHeaders(route, result.headers as Record<string, string>) };
  };
  return middy(core).use(injectLambdaContext(logger)).use(logMetrics(metrics));
}

/** Maps a store's idempotent outcome to a reply: first time → fresh; replay → the stored reply; other body → 409. */
export function idempotentReply<T>(
  r: { ok: true; replayed: false; value: T } | { ok: true; replayed: true; status_code: number; reply: unknown } | { ok: false; code: 'idempotency_conflict' },
  fresh: (v: T) => ApiReply,
): ApiReply {
  if (!r.ok) throw new HttpError(409, 'This Idempotency-Key was already used with a different request.', 'idempotency_conflict', 'conflict_error');
  if (r.replayed) return { status: r.status_code, body: r.reply, headers: { 'idempotent-replayed': 'true' } };
  return fresh(r.value);
}

/** The calling startup's id: startup routes are the startup's own (any other role is refused). No I/O. */
export function startupIdOf(req: Pick<ApiRequest<unknown, unknown>, 'principal'>): string {
  if (req.principal?.role !== 'startup' || !req.principal.tenant_id) throw forbidden();
  return req.principal.tenant_id;
}

/** The provider id a provider route names, if the caller may name it: its own, or any for the operator; another provider's gives 404. No I/O. */
export function providerIdOf(req: Pick<ApiRequest<unknown, unknown>, 'params' | 'principal'>): string {
  const id = req.params.id!;
  if (req.principal?.role === 'provider' && req.principal.tenant_id !== id) throw notFound('provider');
  return id;
}
