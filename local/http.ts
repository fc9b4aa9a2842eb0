/**
 * The API, locally: a Node http server serving every row of infra/routes.ts through its handler, as API
 * Gateway (REST API, Lambda proxy integration, payload v1) does when deployed (stacks/Api.ts).
 *
 * - Matching: method + path template ("/v1/facilities/{id}", "{name+}" greedy); a literal segment beats a
 *   parameter. Unknown path: 404; known path, other method: 405 (with Allow). A trailing slash is ignored.
 * - Event: APIGatewayProxyEvent v1 — resource (the template), path, httpMethod, headers and
 *   multiValueHeaders with names as the client sent them (API Gateway passes them through; Node's rawHeaders
 *   keep the case), queryStringParameters / multiValueQueryStringParameters / pathParameters (null when
 *   none; values URL-decoded), body (UTF-8 text as is; anything else base64 with isBase64Encoded), and
 *   requestContext (requestId, stage "local", identity.sourceIp, requestTimeEpoch, ...).
 * - Context: awsRequestId (= requestContext.requestId), functionName, getRemainingTimeInMillis from the
 *   row's timeoutSeconds (default 29 s, API Gateway's cap for a buffered integration).
 * - Result: statusCode, headers + multiValueHeaders, body (base64-decoded when isBase64Encoded); no
 *   Content-Type means application/json (API Gateway's default). A malformed result is a 502.
 * - Limits: request body 1 MiB (413). A handler that throws gives a plain 500 with no stack (the error is
 *   logged); one that outlives its timeout gives 504.
 * - CORS (local/cors.ts): preflights on the paths of `cors` rows, answered as the stack's OPTIONS mocks; the
 *   server's own error replies carry what API Gateway's own 4XX/5XX replies carry.
 * - Compression (local/compress.ts): a buffered result is gzipped or deflated as API Gateway's
 *   minimumCompressionSize does; a streamed one is written as its handler encoded it.
 * - Streaming rows: a handler wrapped in awslambda.streamifyResponse gets a LocalResponseStream over the
 *   ServerResponse (see local/awslambda-shim.ts for the status/headers prelude and client disconnects).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { routeTimeouts, type RouteDef } from '../infra/routes.js';
import { BodyTooLarge, LOCAL_HOST, readBody } from './aws.js';
import { buildProxyEvent } from './event.js';
import { now as clockNow } from '../packages/core/src/clock.js';
import { LocalResponseStream, installAwslambdaShim, isStreamingHandler } from './awslambda-shim.js';
import { LambdaTimeoutError, createLambdaContext, functionNameFor, invokeHandler, logInvokeError, type HandlerResolver } from './lambda.js';
import { withGrant, type LocalGrants, type ResolvedGrant } from './grants.js';
import { PREFLIGHT_STATUS, localCors } from './cors.js';
import { gatewayCompress } from './compress.js';
import { serveStatic } from './static.js';

/** Largest request body accepted. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Headers and request line must arrive within this (slowloris guard); does not limit streamed responses. */
const HEADERS_TIMEOUT_MS = 10_000;
/** Whole request (headers + body) must arrive within this. */
const REQUEST_TIMEOUT_MS = 30_000;

export type HttpRoute = Pick<RouteDef, 'method' | 'path' | 'handler' | 'streaming' | 'timeoutSeconds'> & Partial<Pick<RouteDef, 'access' | 'sends' | 'starts' | 'relayKey' | 'cors'>>;

export interface HttpServerOptions {
  routes: readonly HttpRoute[];
  resolveHandler: HandlerResolver;
  /** Default: $PORT, else 3000. 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  stage?: string;
  bodyLimitBytes?: number;
  /**
   * The dashboards' built files (web/dist), served at the same origin for GET/HEAD paths no route claims
   * (as CloudFront serves the static site beside the API when deployed, stacks/Web.ts). Omitted: API only.
   */
  staticDir?: string;
  /** Enforce each row's grant (its access, sends and starts) on the handler's SDK calls (local/grants.ts). */
  grants?: LocalGrants;
}

export interface LocalHttpServer {
  server: Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

type ErrorType = 'invalid_request_error' | 'api_error';
/** OpenAI's shape with all four keys, as the handlers answer (functions/lib/errors.ts). */
function errorBody(message: string, type: ErrorType, code: string): string {
  return JSON.stringify({ error: { message, type, param: null, code } });
}

// ---------------------------------------------------------------------------------------------
// Route matching

interface CompiledRoute {
  route: HttpRoute;
  segments: Array<{ literal: string } | { param: string; greedy: boolean }>;
}

function compile(route: HttpRoute): CompiledRoute {
  if (!route.path.startsWith('/')) throw new Error(`route path must start with "/": ${route.path}`);
  const parts = route.path.split('/').filter(Boolean);
  const segments = parts.map((p, i) => {
    const m = /^\{([A-Za-z0-9_]+)(\+)?\}$/.exec(p);
    if (!m) {
      if (/[{}]/.test(p)) throw new Error(`bad path segment "${p}" in ${route.path}`);
      return { literal: p };
    }
    if (m[2] && i !== parts.length - 1) throw new Error(`greedy parameter must be last: ${route.path}`);
    return { param: m[1] as string, greedy: Boolean(m[2]) };
  });
  return { route, segments };
}

/** Matches decoded segments against a template; returns params, or null. */
function matchSegments(c: CompiledRoute, segs: readonly string[]): Record<string, string> | null {
  const params: Record<string, string> = {};
  for (let i = 0; i < c.segments.length; i++) {
    const s = c.segments[i]!;
    if ('literal' in s) {
      if (segs[i] !== s.literal) return null;
    } else if (s.greedy) {
      if (i >= segs.length) return null;
      params[s.param] = segs.slice(i).join('/');
      return params;
    } else {
      if (i >= segs.length || segs[i] === '') return null;
      params[s.param] = segs[i] as string;
    }
  }
  return segs.length === c.segments.length ? params : null;
}

/** Specificity: more literal segments first, then fewer greedy ones (API Gateway prefers the most specific resource). */
function specificity(c: CompiledRoute): number {
  return c.segments.reduce((n, s) => n + ('literal' in s ? 100 : s.greedy ? 0 : 1), 0);
}

export function createRouter(routes: readonly HttpRoute[]) {
  const compiled = routes.map(compile).sort((a, b) => specificity(b) - specificity(a));
  const seen = new Set<string>();
  for (const r of routes) {
    const key = `${r.method} ${r.path}`;
    if (seen.has(key)) throw new Error(`duplicate route ${key}`);
    seen.add(key);
  }
  return (method: string, segs: readonly string[]) => {
    // The most specific template the path matches: API Gateway's resource for it (where a preflight lives).
    let template: string | undefined;
    const allowed = new Set<string>();
    for (const c of compiled) {
      const params = matchSegments(c, segs);
      if (!params) continue;
      template ??= c.route.path;
      allowed.add(c.route.method);
      if (c.route.method === method) return { kind: 'ok' as const, route: c.route, params };
    }
    return template !== undefined ? { kind: 'method' as const, allowed: [...allowed].sort(), template } : { kind: 'none' as const };
  };
}

// ---------------------------------------------------------------------------------------------
// Server

/** What the server's own replies carry on each response, as API Gateway's own replies do (set per request). */
const GATEWAY_RESPONSE_HEADERS = new WeakMap<ServerResponse, Readonly<Record<string, string>>>();

/** One of the server's own replies (API Gateway's, when deployed): an error in the API's shape. */
function sendJson(res: ServerResponse, status: number, body: string, extra: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', ...GATEWAY_RESPONSE_HEADERS.get(res), ...extra });
  res.end(body);
}

export async function startHttpServer(opts: HttpServerOptions): Promise<LocalHttpServer> {
  installAwslambdaShim();
  const route = createRouter(opts.routes);
  const cors = localCors(opts.routes);
  const stage = opts.stage ?? 'local';
  const limit = opts.bodyLimitBytes ?? MAX_BODY_BYTES;
  const host = opts.host ?? LOCAL_HOST;
  const port = opts.port ?? (process.env.PORT ? Number(process.env.PORT) : 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port ${String(port)}`);

  const server = createServer((req, res) => {
    GATEWAY_RESPONSE_HEADERS.set(res, cors.gatewayResponseHeaders);
    handle(req, res).catch((err: unknown) => {
      logInvokeError('http', err);
      if (!res.headersSent) sendJson(res, 500, errorBody('Internal server error', 'api_error', 'internal_error'));
      else res.destroy();
    });
  });
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const now = clockNow();
    const requestId = randomUUID();
    res.setHeader('x-amzn-RequestId', requestId);
    // SPEC §4: every response carries x-request-id, the runtime's own 404/405/413 included.
    res.setHeader('x-request-id', requestId);
    // A write to a socket the client closed must not crash the process.
    res.on('error', () => {});

    const url = new URL(req.url ?? '/', 'http://local');
    let segs: string[];
    try {
      segs = url.pathname.split('/').filter((s, idx, all) => !(s === '' && (idx === 0 || idx === all.length - 1))).map(decodeURIComponent);
    } catch {
      return sendJson(res, 400, errorBody('Malformed percent-encoding in the path', 'invalid_request_error', 'bad_request'));
    }
    const path = `/${segs.join('/')}`;
    const m = route(req.method ?? 'GET', segs);
    if (m.kind === 'none' && opts.staticDir && (req.method === 'GET' || req.method === 'HEAD') && !path.startsWith('/v1/')) {
      if (await serveStatic(opts.staticDir, path, req.method === 'HEAD', res)) return;
    }
    if (m.kind === 'none') {
      return sendJson(res, 404, errorBody(`No route for ${req.method} ${path}`, 'invalid_request_error', 'not_found'));
    }
    if (m.kind === 'method' && req.method === 'OPTIONS') {
      const preflight = cors.preflight(m.template);
      if (preflight) {
        res.writeHead(PREFLIGHT_STATUS, preflight);
        res.end();
        return;
      }
    }
    if (m.kind === 'method') {
      return sendJson(res, 405, errorBody(`Method ${req.method} is not allowed on ${path}`, 'invalid_request_error', 'method_not_allowed'), {
        allow: m.allowed.join(', '),
      });
    }

    let body: Buffer;
    try {
      body = await readBody(req, limit);
    } catch (err) {
      if (err instanceof BodyTooLarge) {
        // Close after answering: the rest of the oversized body is not read.
        // The handlers' own code and wording for the same refusal (functions/lib/api.ts rawBodyOf), so a 1 MiB+ body
        // reads alike whether this server or, deployed, the handler refuses it.
        sendJson(res, 413, errorBody(`Request body over ${limit} bytes.`, 'invalid_request_error', 'body_too_large'), { connection: 'close' });
        res.once('finish', () => req.destroy());
        return;
      }
      throw err;
    }

    const event = buildProxyEvent({ req, route: m.route, path, params: m.params, search: url.searchParams, body, requestId, stage, now });
    // The function's own timeout, as the stack deploys it (a buffered route's Lambda stops before API Gateway's 29 s).
    const timeoutMs = routeTimeouts(m.route).functionSeconds * 1000;
    const context = createLambdaContext({ functionName: functionNameFor(m.route.handler), timeoutMs, requestId });
    const handler = await opts.resolveHandler(m.route.handler);
    const grant = opts.grants?.for({ handler: m.route.handler, access: m.route.access ?? [], sends: m.route.sends ?? [], starts: m.route.starts ?? [], ...(m.route.relayKey ? { relayKey: m.route.relayKey } : {}) });

    if (isStreamingHandler(handler)) return streamResponse(handler, event, context, timeoutMs, res, grant);
    if (m.route.streaming) console.warn(`[http] ${m.route.method} ${m.route.path} is a streaming row but its handler is not wrapped in awslambda.streamifyResponse; answering buffered`);

    let result: unknown;
    try {
      result = await invokeHandler(handler, event, context, timeoutMs, grant);
    } catch (err) {
      logInvokeError(`http ${m.route.method} ${m.route.path}`, err);
      if (err instanceof LambdaTimeoutError) return sendJson(res, 504, errorBody('Endpoint request timed out', 'api_error', 'timeout'));
      return sendJson(res, 500, errorBody('Internal server error', 'api_error', 'internal_error'));
    }
    await writeProxyResult(res, result, `${m.route.method} ${m.route.path}`, req.headers['accept-encoding']);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    server,
    port: actual,
    url: `http://${host}:${actual}`,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Open streams and keep-alive sockets would hold close() forever; their handlers see 'close'.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** Writes an APIGatewayProxyResult as API Gateway would (compressed as it would, local/compress.ts); 502 for a malformed one. */
export async function writeProxyResult(res: ServerResponse, result: unknown, where: string, acceptEncoding?: string): Promise<void> {
  const r = result as Partial<APIGatewayProxyResult> | null | undefined;
  const status = r && typeof r === 'object' ? r.statusCode : undefined;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599 || (r?.body !== undefined && typeof r.body !== 'string')) {
    console.error(`[http] ${where}: malformed Lambda proxy response (needs an integer statusCode and a string body): ${JSON.stringify(result)?.slice(0, 500)}`);
    return sendJson(res, 502, errorBody('Internal server error', 'api_error', 'bad_gateway'));
  }
  const headers: Record<string, string[]> = {};
  const canonical = new Map<string, string>();
  const add = (name: string, value: unknown) => {
    const key = canonical.get(name.toLowerCase()) ?? name;
    canonical.set(name.toLowerCase(), key);
    (headers[key] ??= []).push(String(value));
  };
  for (const [k, v] of Object.entries(r?.headers ?? {})) add(k, v);
  for (const [k, vs] of Object.entries(r?.multiValueHeaders ?? {})) for (const v of vs ?? []) add(k, v);
  if (!canonical.has('content-type')) headers['Content-Type'] = ['application/json'];
  const raw = r?.body === undefined ? Buffer.alloc(0) : r.isBase64Encoded ? Buffer.from(r.body, 'base64') : Buffer.from(r.body, 'utf8');
  const { body, contentEncoding } = await gatewayCompress(raw, canonical.has('content-encoding'), acceptEncoding);
  if (contentEncoding) headers['Content-Encoding'] = [contentEncoding];
  if (res.destroyed) return;
  res.writeHead(status, Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.length === 1 ? (v[0] as string) : v])));
  res.end(body);
}

/** Runs a streamify handler against the ServerResponse, bounded by the row's timeout. */
async function streamResponse(
  handler: (...args: never[]) => unknown,
  event: APIGatewayProxyEvent,
  context: ReturnType<typeof createLambdaContext>,
  timeoutMs: number,
  res: ServerResponse,
  grant?: ResolvedGrant,
): Promise<void> {
  const stream = new LocalResponseStream(res);
  const where = `${event.httpMethod} ${event.resource}`;
  // A client that leaves makes stream writes fail (e.g. pipeline's "Premature close"); that is not a handler bug.
  let clientGone = false;
  res.once('close', () => {
    if (!res.writableFinished) clientGone = true;
  });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
    timer.unref();
  });
  try {
    const run = Promise.resolve().then(() => withGrant(grant, () => (handler as (e: unknown, s: unknown, c: unknown) => unknown)(event, stream, context)));
    const outcome = await Promise.race([run, timedOut]);
    if (outcome === 'timeout') {
      logInvokeError(`http ${where}`, new LambdaTimeoutError(timeoutMs / 1000));
      if (!stream.headersSent && !res.headersSent) {
        stream.abandon();
        sendJson(res, 504, errorBody('Endpoint request timed out', 'api_error', 'timeout'));
      } else stream.destroy(); // cut the response, as Lambda does at its timeout
      return;
    }
    // The handler's promise settled: end the body if the handler did not (so the connection is not left open).
    if (!stream.writableEnded && !stream.destroyed) stream.end();
  } catch (err) {
    if (clientGone) {
      console.log(`[http] ${where}: client disconnected (${(err as Error)?.message ?? String(err)})`);
      return;
    }
    logInvokeError(`http ${where}`, err);
    if (!stream.headersSent && !res.headersSent) {
      // The stream must not write anything more to this response; we answer on it ourselves.
      stream.abandon();
      sendJson(res, 500, errorBody('Internal server error', 'api_error', 'internal_error'));
    } else stream.destroy(); // mid-body: cut the response so the client sees it incomplete
  } finally {
    clearTimeout(timer);
  }
}
