/**
 * Streaming routes (SSE). Same auth and parsing as apiRoute, run in middy's streamifyResponse mode:
 * deployed, API Gateway REST response streaming invokes it; locally the awslambda shim writes to the
 * Node ServerResponse. A client that goes away destroys the body stream, which ends the producer.
 */
import middy from '@middy/core';
import { executionModeStreamifyResponse } from '@middy/core/StreamifyResponse';
import { Readable } from 'node:stream';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { type ApiRequest, countRequest, errorResult, lowerHeaders, prepareRequest, requestIdOf, routeFor } from './api.js';
import { badRequest } from './errors.js';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { logger, metrics } from './powertools.js';
import { shapeStreamedReply } from './reply.js';

export interface StreamReply {
  statusCode: number;
  headers: Record<string, string>;
  body: Readable | string;
}

export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export function streamRoute(handlerId: string, fn: (req: ApiRequest<undefined, Record<string, never>>) => AsyncGenerator<string>) {
  const route = routeFor(handlerId);
  const core = async (event: APIGatewayProxyEvent, context: Context): Promise<StreamReply> => {
    const requestId = requestIdOf(event, context);
    try {
      const req = await prepareRequest(route, event, context);
      const unexpected = Object.keys(event.queryStringParameters ?? {});
      if (unexpected.length > 0) throw badRequest(`This route takes no query parameters (got ${unexpected.slice(0, 5).join(', ')}).`, unexpected[0] ?? null, 'unexpected_query');
      // Pull the first frame before answering 200, so a missing facility is a plain 404, not a broken stream.
      const gen = fn(req);
      const first = await gen.next();
      async function* all() {
        if (!first.done) yield first.value;
        yield* gen;
      }
      countRequest(route, 200);
      const events = {
        statusCode: 200,
        headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-request-id': requestId, connection: 'keep-alive' },
        body: Readable.from(all(), { objectMode: false }),
      };
      return shapeStreamedReply(route, lowerHeaders(event.headers), events, undefined);
    } catch (err) {
      const r = errorResult(err, requestId, route);
      countRequest(route, r.statusCode);
      return shapeStreamedReply(route, lowerHeaders(event.headers), { statusCode: r.statusCode, headers: r.headers as Record<string, string>, body: r.body }, Buffer.byteLength(r.body));
    }
  };
  return middy(core, { executionMode: executionModeStreamifyResponse }).use(injectLambdaContext(logger)).use(logMetrics(metrics));
}
