/**
 * The OpenAI-compatible API (SPEC §4): chat completions, completions, embeddings and responses (paid, routed,
 * metered by packages/core/src/gateway/; responses as a chat completion retold, functions/lib/responses.ts), models,
 * and usage. The four paid routes are response-streaming rows: a plain reply is written to the stream in one piece,
 * a `stream: true` one as server-sent events.
 */
import middy from '@middy/core';
import { executionModeStreamifyResponse } from '@middy/core/StreamifyResponse';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import type { z } from 'zod';
import {
  MAX_USAGE_RANGE_DAYS, describeCall, groupUsage, listedModels, modelNotFound, openAiError, requestHash, type Workload,
} from '../packages/core/src/index.js';
import { now as clockNow } from '../packages/core/src/clock.js';
import { UsageTooLargeError } from '../packages/core/src/adapters/dynamodb/index.js';
import { apiRoute, authenticate, countRequest, errorResult, idempotencyKeyOf, lowerHeaders, parseBodyWith, parseJson, rawBodyOf, requestIdOf, routeFor, startupIdOf } from './lib/api.js';
import { deps } from './lib/deps.js';
import { badRequest, forbidden } from './lib/errors.js';
import { httpErrorOf, openAiInternalError } from './lib/openai-errors.js';
import { usageDay } from './lib/days.js';
import type { RouteDef } from '../infra/routes.js';
import { ChatBody, CompletionBody, EmbeddingBody, MAX_INFERENCE_BODY_BYTES, withoutNulls, type UsageQuery } from './lib/openai.js';
import { requestRouting } from './lib/routing-schemas.js';
import { ResponsesBody } from './lib/responses-schemas.js';
import { serveResponse } from './lib/responses.js';
import { logger, metrics } from './lib/powertools.js';
import { StreamSink, type Serve } from './lib/sink.js';
import { shapeStreamedReply } from './lib/reply.js';

/** Each invocation's gateway run, keyed by its Lambda context (weak: nothing outlives the invocation). */
const pendingWork = new WeakMap<Context, { work: Promise<unknown>; sink: StreamSink }>();

/** Room left, before the function's own timeout, to meter and settle after the provider. */
const SETTLE_RESERVE_MS = 5_000;

/** Deeper than management bodies: a tool's parameters are a JSON Schema of their own. */
const MAX_INFERENCE_JSON_DEPTH = 128;

/** Chat, completions and embeddings: the body is the call, written to the client as the provider answers it. */
const direct = (workload: Workload): Serve => async (body, { sink }) => ({ call: describeCall(workload, body), sink });

function parseInferenceBody(route: RouteDef, schema: z.ZodType, event: APIGatewayProxyEvent): Record<string, unknown> {
  const raw = rawBodyOf(event, MAX_INFERENCE_BODY_BYTES);
  if (raw.trim() === '') throw badRequest('A JSON request body is required.', null, 'missing_body');
  const json = parseJson(raw, MAX_INFERENCE_JSON_DEPTH, 'We could not parse the JSON body of your request.');
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw badRequest('The request body must be a JSON object.', null, 'invalid_json');
  return withoutNulls(parseBodyWith(route, schema, json) as Record<string, unknown>);
}

function inferenceRoute(handlerId: string, schema: z.ZodType, serve: Serve) {
  const route = routeFor(handlerId);
  const core = async (event: APIGatewayProxyEvent, context: Context) => {
    const requestId = requestIdOf(event, context);
    const headers = lowerHeaders(event.headers);
    try {
      const principal = await authenticate(route, headers);
      if (principal?.role !== 'startup' || !principal.key || !principal.tenant_id) throw forbidden('Inference routes take a startup key.');
      const body = parseInferenceBody(route, schema, event);
      const idem = idempotencyKeyOf(headers, requestId);

      const sink = new StreamSink();
      const served = await serve(body, { principal: { ...principal, tenant_id: principal.tenant_id }, requestId, sink });
      const { call } = served;
      const routing = requestRouting(body);
      const work = deps()
        .gateway.handle(
          {
            call,
            startup_id: principal.tenant_id,
            key: principal.key,
            request_id: requestId,
            idempotency_key: idem,
            caller_idempotency_key: headers['idempotency-key'] !== undefined,
            request_hash: requestHash({ path: event.path, body }),
            ...(routing ? { routing } : {}),
            deadline_ms: Date.now() + Math.max(1_000, context.getRemainingTimeInMillis() - SETTLE_RESERVE_MS),
          },
          served.sink,
        )
        .then(async (r) => {
          metrics.addMetric(`gateway_${r.outcome}`, MetricUnit.Count, 1);
          if (r.record) metrics.addMetric('billed_micros', MetricUnit.Count, r.record.cost_micros);
          logger.debug('inference request', { requestId, status: r.status, outcome: r.outcome, code: r.code, attempts: r.attempts, cost_micros: r.record?.cost_micros });
          // After the reply's last byte (the gateway resolves only then): nothing of this is on the reply's path.
          await served.after?.(r).catch((err: unknown) => logger.error('after-reply work failed', { error: err as Error, requestId }));
          return r;
        })
        .catch((err: unknown) => {
          // A fault of ours. Before the head: a plain 500. After it: end the stream. An open hold expires through the sweeper.
          logger.error('inference request failed', { error: err as Error, requestId });
          if (!sink.isStarted) sink.reply(500, { 'x-compux-provider': 'none' }, openAiError(openAiInternalError()));
          else sink.end();
        });
      sink.work = work;
      // The invocation ends when this settles (requestEnd below), after the reply's last byte: the lease flush runs inside it.
      pendingWork.set(context, { work, sink });
      const head = await sink.head;
      countRequest(route, head.status);
      // A plain reply (written whole) may be compressed here; a stream (no bodyBytes) never is.
      const reply = { statusCode: head.status, headers: { 'content-type': 'application/json', ...head.headers, 'x-request-id': requestId }, body: sink.readable };
      return shapeStreamedReply(route, headers, reply, head.bodyBytes);
    } catch (err) {
      const r = errorResult(err, requestId, route);
      countRequest(route, r.statusCode);
      const reply = { statusCode: r.statusCode, headers: { ...(r.headers as Record<string, string>), 'x-compux-provider': 'none' }, body: r.body };
      return shapeStreamedReply(route, headers, reply, Buffer.byteLength(r.body));
    }
  };
  return middy(core, {
    executionMode: executionModeStreamifyResponse,
    // middy awaits this after piping the reply: Lambda keeps the invocation (and the container) until the
    // gateway's run, including the lease flush that bills this request, has finished.
    requestEnd: async (request: { context: Context }) => {
      const pending = pendingWork.get(request.context);
      pendingWork.delete(request.context);
      // The reply has been piped out: only now does the gateway start its after-reply writes (the lease flush).
      pending?.sink.delivered();
      await pending?.work;
    },
  }).use(injectLambdaContext(logger)).use(logMetrics(metrics));
}

export const chat = inferenceRoute('functions/inference.chat', ChatBody, direct('chat'));
export const completions = inferenceRoute('functions/inference.completions', CompletionBody, direct('completion'));
export const embeddings = inferenceRoute('functions/inference.embeddings', EmbeddingBody, direct('embedding'));
/** The Responses API: translated to a chat completion and served by the same gateway (functions/lib/responses.ts). */
export const responses = inferenceRoute('functions/inference.responses', ResponsesBody, serveResponse);

/** `created` of a model object: fixed, so the list is stable (OpenAI's is the model's release time). */
const MODEL_CREATED_S = 1_735_689_600; // 2025-01-01T00:00:00Z

function modelJson(m: ReturnType<typeof listedModels>[number]) {
  return { id: m.id, object: 'model' as const, created: MODEL_CREATED_S, owned_by: 'compux', kind: m.kind, context_length: m.context_length, accelerators: m.accelerators, providers: m.providers };
}

export const listModels = apiRoute('functions/inference.listModels', async () => {
  const models = listedModels(await deps().routingCatalog.load());
  return { status: 200, body: { object: 'list', data: models.map(modelJson) }, headers: { 'x-compux-provider': 'none' } };
});

export const getModel = apiRoute('functions/inference.getModel', async (req) => {
  const id = decodeURIComponent(req.params.id ?? '');
  const m = listedModels(await deps().routingCatalog.load()).find((x) => x.id === id);
  if (!m) throw httpErrorOf(modelNotFound(id));
  return { status: 200, body: modelJson(m), headers: { 'x-compux-provider': 'none' } };
});

const DAY_MS = 86_400_000;

export const usage = apiRoute<undefined, z.infer<typeof UsageQuery>>('functions/inference.usage', async (req) => {
  const startupId = startupIdOf(req);
  const now = clockNow();
  const toDay = req.query.to ? usageDay(req.query.to, 'to') : now.toISOString().slice(0, 10);
  const fromDay = req.query.from ? usageDay(req.query.from, 'from') : new Date(Date.parse(toDay) - 29 * DAY_MS).toISOString().slice(0, 10);
  if (fromDay > toDay) throw badRequest('from must not be after to.', 'from');
  if ((Date.parse(toDay) - Date.parse(fromDay)) / DAY_MS + 1 > MAX_USAGE_RANGE_DAYS) throw badRequest(`A usage query covers at most ${MAX_USAGE_RANGE_DAYS} days.`, 'from');
  let buckets;
  try {
    buckets = await deps().store.listUsage(startupId, fromDay, toDay);
  } catch (err) {
    if (err instanceof UsageTooLargeError) throw badRequest(err.message, 'from', 'range_too_large');
    throw err;
  }
  const { groups, total } = groupUsage(buckets, req.query.group_by);
  const figures = <T extends { gpu_microseconds: number }>({ gpu_microseconds, ...rest }: T) => ({ ...rest, gpu_seconds: gpu_microseconds / 1_000_000 });
  return {
    status: 200,
    body: { object: 'usage', from: fromDay, to: toDay, group_by: req.query.group_by, data: groups.map(figures), total: figures(total) },
  };
});


