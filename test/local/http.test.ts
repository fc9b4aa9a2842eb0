/**
 * The local API server with the test's own route table and handlers (independent of functions/*.ts):
 * the REST proxy event v1 it builds, how it writes results, its errors and limits, and streaming through
 * the awslambda shim.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { installAwslambdaShim, HTTP_INTEGRATION_CONTENT_TYPE } from '../../local/awslambda-shim.js';
import { startHttpServer, type HttpRoute, type LocalHttpServer } from '../../local/http.js';
import type { AnyHandler } from '../../local/lambda.js';
import { nowMs } from '../../packages/core/src/clock.js';

// Handler modules call awslambda.streamifyResponse at import time; the runtime installs the shim first.
installAwslambdaShim();

interface Deferred<T = void> {
  promise: Promise<T>;
  resolve: (v: T) => void;
}
function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

let lastEvent: APIGatewayProxyEvent | undefined;
let lastContext: Context | undefined;
const streamGate = deferred();
const streamClosed = deferred<{ writableFinished: boolean; destroyed: boolean; writeError: string | undefined }>();

const handlers: Record<string, AnyHandler> = {
  'fake.echo': async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => {
    lastEvent = event;
    lastContext = context;
    return { statusCode: 200, body: JSON.stringify({ ok: true }) };
  },
  'fake.created': async (): Promise<APIGatewayProxyResult> => ({
    statusCode: 201,
    headers: { 'Content-Type': 'application/octet-stream', 'X-One': 'a' },
    multiValueHeaders: { 'Set-Cookie': ['a=1', 'b=2'] },
    body: Buffer.from([0, 1, 2, 255]).toString('base64'),
    isBase64Encoded: true,
  }),
  'fake.throws': async () => {
    throw new Error('secret detail: table compux-local at /work/main/functions/x.ts');
  },
  'fake.malformed': async () => ({ body: 'no status' }),
  'fake.slow': async () => {
    await new Promise((r) => setTimeout(r, 2_000));
    return { statusCode: 200, body: '{}' };
  },
  'fake.stream': awslambda.streamifyResponse(async (_event, responseStream) => {
    const stream = awslambda.HttpResponseStream.from(responseStream, {
      statusCode: 200,
      headers: { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' },
    });
    stream.write('data: one\n\n');
    await streamGate.promise; // the test has received "one" before "two" is written
    stream.write('data: two\n\n');
    // Keep going until the client leaves; a disconnect shows as 'close' without a finish.
    await new Promise<void>((resolve) => stream.on('close', () => resolve()));
    const writeError = await new Promise<string | undefined>((resolve) => stream.write('data: late\n\n', (err) => resolve(err ? (err as NodeJS.ErrnoException).code : undefined)));
    streamClosed.resolve({ writableFinished: stream.writableFinished, destroyed: stream.destroyed, writeError });
  }),
  'fake.streamPaused': awslambda.streamifyResponse(async (_event, responseStream) => {
    const stream = awslambda.HttpResponseStream.from(responseStream, { statusCode: 200, headers: { 'content-type': 'text/plain' } });
    stream.write('first ');
    await new Promise((r) => setTimeout(r, 20));
    stream.end('second');
  }),
  'fake.streamThrows': awslambda.streamifyResponse(async () => {
    throw new Error('stream secret');
  }),
  'fake.streamWire': awslambda.streamifyResponse(async (_event, responseStream) => {
    // The API Gateway wire format written by hand: metadata JSON, 8 NUL bytes, body.
    responseStream.setContentType(HTTP_INTEGRATION_CONTENT_TYPE);
    responseStream.write(JSON.stringify({ statusCode: 202, headers: { 'content-type': 'text/plain', 'x-wire': 'yes' } }));
    responseStream.write(Buffer.alloc(8, 0));
    responseStream.write('hello ');
    responseStream.end('wire');
  }),
};

const routes: HttpRoute[] = [
  { method: 'GET', path: '/v1/things/{id}', handler: 'fake.echo' },
  { method: 'POST', path: '/v1/things/{id}', handler: 'fake.echo' },
  { method: 'GET', path: '/v1/things/special', handler: 'fake.created' },
  { method: 'POST', path: '/v1/things', handler: 'fake.echo' },
  { method: 'GET', path: '/v1/boom', handler: 'fake.throws' },
  { method: 'GET', path: '/v1/malformed', handler: 'fake.malformed' },
  { method: 'GET', path: '/v1/slow', handler: 'fake.slow', timeoutSeconds: 1 },
  { method: 'GET', path: '/v1/stream', handler: 'fake.stream', streaming: true, timeoutSeconds: 20 },
  { method: 'GET', path: '/v1/stream-throws', handler: 'fake.streamThrows', streaming: true },
  { method: 'GET', path: '/v1/stream-wire', handler: 'fake.streamWire', streaming: true },
  { method: 'GET', path: '/v1/stream-paused', handler: 'fake.streamPaused', streaming: true },
];

let srv: LocalHttpServer;
beforeAll(async () => {
  srv = await startHttpServer({ routes, resolveHandler: async (ref) => handlers[ref]!, port: 0 });
});
afterAll(async () => {
  await srv.close();
});

describe('REST proxy event v1', () => {
  it('carries resource, path, params, query, headers as sent and the request context', async () => {
    // Prepare
    const url = `${srv.url}/v1/things/abc%20def?x=1&x=2&y=hello%20world&empty=`;
    // Act
    const res = await fetch(url, { headers: { 'Idempotency-Key': 'k-1', 'X-Multi': 'one' } });
    // Assess
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const e = lastEvent!;
    expect(e.resource).toBe('/v1/things/{id}');
    expect(e.path).toBe('/v1/things/abc def');
    expect(e.httpMethod).toBe('GET');
    expect(e.pathParameters).toEqual({ id: 'abc def' });
    expect(e.queryStringParameters).toEqual({ x: '2', y: 'hello world', empty: '' });
    expect(e.multiValueQueryStringParameters).toEqual({ x: ['1', '2'], y: ['hello world'], empty: [''] });
    expect(e.body).toBeNull();
    expect(e.isBase64Encoded).toBe(false);
    expect(e.stageVariables).toBeNull();
    // Names are as the client sent them (next test); look them up case-insensitively here.
    const header = (name: string) => Object.entries(e.multiValueHeaders).find(([k]) => k.toLowerCase() === name)?.[1];
    expect(header('idempotency-key')).toEqual(['k-1']);
    expect(header('x-multi')).toEqual(['one']);
    expect(e.headers['X-Forwarded-For']).toBe('127.0.0.1');
    expect(e.requestContext).toMatchObject({
      stage: 'local',
      resourcePath: '/v1/things/{id}',
      httpMethod: 'GET',
      path: '/local/v1/things/abc def',
      accountId: '123456789012',
      identity: { sourceIp: '127.0.0.1' },
    });
    expect(e.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Math.abs(e.requestContext.requestTimeEpoch - nowMs())).toBeLessThan(10_000);
    expect(res.headers.get('x-amzn-requestid')).toBe(e.requestContext.requestId);
    expect(lastContext!.awsRequestId).toBe(e.requestContext.requestId);
    expect(lastContext!.functionName).toBe('compux-local-fake-echo');
    const remaining = lastContext!.getRemainingTimeInMillis();
    expect(remaining).toBeGreaterThan(20_000);
    expect(remaining).toBeLessThanOrEqual(29_000);
  });

  it('keeps header case as sent on the wire (API Gateway passes names through)', async () => {
    // Prepare
    const { request } = await import('node:http');
    // Act
    await new Promise<void>((resolve, reject) => {
      const req = request(`${srv.url}/v1/things/x`, { headers: { 'Idempotency-Key': 'K' } }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('error', reject);
      req.end();
    });
    // Assess
    expect(lastEvent!.headers['Idempotency-Key']).toBe('K');
    expect(lastEvent!.multiValueHeaders['Idempotency-Key']).toEqual(['K']);
  });

  it('has null query and path parameters when there are none; JSON bodies as text', async () => {
    // Prepare
    const body = JSON.stringify({ name: 'Acme', note: 'héllo' });
    // Act
    await fetch(`${srv.url}/v1/things`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    // Assess
    expect(lastEvent!.pathParameters).toBeNull();
    expect(lastEvent!.queryStringParameters).toBeNull();
    expect(lastEvent!.multiValueQueryStringParameters).toBeNull();
    expect(lastEvent!.body).toBe(body);
    expect(lastEvent!.isBase64Encoded).toBe(false);
  });

  it('passes a binary body as base64 with isBase64Encoded', async () => {
    // Prepare
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x80]);
    // Act
    await fetch(`${srv.url}/v1/things/b`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    // Assess
    expect(lastEvent!.isBase64Encoded).toBe(true);
    expect(Buffer.from(lastEvent!.body!, 'base64')).toEqual(bytes);
  });

  it('prefers a literal segment over a parameter', async () => {
    // Prepare / Act
    const res = await fetch(`${srv.url}/v1/things/special`);
    // Assess
    expect(res.status).toBe(201);
  });
});

describe('results', () => {
  it('writes status, headers, multi-value headers and a base64 body', async () => {
    // Prepare / Act
    const res = await fetch(`${srv.url}/v1/things/special`);
    // Assess
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('x-one')).toBe('a');
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(Buffer.from([0, 1, 2, 255]));
  });

  it('answers a malformed result with 502', async () => {
    // Prepare / Act
    const res = await fetch(`${srv.url}/v1/malformed`);
    // Assess
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual({ error: { message: 'Internal server error', type: 'api_error', param: null, code: 'bad_gateway' } });
  });
});

describe('errors and limits', () => {
  it('404 for an unknown path', async () => {
    // Prepare / Act
    const res = await fetch(`${srv.url}/v1/nowhere`);
    // Assess
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: Record<string, string> };
    expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'not_found' });
    expect(body.error.message).toEqual(expect.any(String));
  });

  it('405 with Allow for a known path and another method', async () => {
    // Prepare / Act
    const res = await fetch(`${srv.url}/v1/things/1`, { method: 'DELETE' });
    // Assess
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, POST');
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
  });

  it('413 for a body over 1 MiB', async () => {
    // Prepare
    const big = Buffer.alloc(1024 * 1024 + 1, 0x61);
    // Act
    const res = await fetch(`${srv.url}/v1/things`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: big });
    // Assess
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: Record<string, string | null> }).error).toEqual({ message: 'Request body over 1048576 bytes.', type: 'invalid_request_error', param: null, code: 'body_too_large' });
  });

  it('accepts a body of exactly 1 MiB', async () => {
    // Prepare
    const max = Buffer.alloc(1024 * 1024, 0x61);
    // Act
    const res = await fetch(`${srv.url}/v1/things`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: max });
    // Assess
    expect(res.status).toBe(200);
    expect(lastEvent!.body?.length).toBe(1024 * 1024);
  });

  it('500 with no stack and no detail when a handler throws', async () => {
    // Prepare / Act
    const res = await fetch(`${srv.url}/v1/boom`);
    const text = await res.text();
    // Assess
    expect(res.status).toBe(500);
    expect(JSON.parse(text)).toEqual({ error: { message: 'Internal server error', type: 'api_error', param: null, code: 'internal_error' } });
    expect(text).not.toContain('secret');
    expect(text).not.toContain('.ts');
  });

  it('504 when a handler outlives its timeout', async () => {
    // Prepare / Act
    const res = await fetch(`${srv.url}/v1/slow`);
    // Assess
    expect(res.status).toBe(504);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('timeout');
  });
});

describe('streaming through the awslambda shim', () => {
  it('adds itself to an awslambda object that already exists (the AWS SDK invoke store makes one)', () => {
    // Prepare
    const g = globalThis as { awslambda?: Record<string, unknown> };
    const saved = g.awslambda;
    const store = { marker: true };
    g.awslambda = { InvokeStore: store };
    try {
      // Act
      installAwslambdaShim();
      // Assess
      expect(g.awslambda.InvokeStore).toBe(store);
      expect(typeof g.awslambda.streamifyResponse).toBe('function');
      expect(g.awslambda.HttpResponseStream).toBeDefined();
    } finally {
      g.awslambda = saved;
    }
  });

  it('delivers chunks as they are written and lets the handler see the client disconnect', async () => {
    // Prepare
    const abort = new AbortController();
    const decoder = new TextDecoder();
    // Act
    const res = await fetch(`${srv.url}/v1/stream`, { signal: abort.signal });
    const reader = res.body!.getReader();
    const first = decoder.decode((await reader.read()).value);
    streamGate.resolve(); // only now does the handler write the second chunk
    let second = '';
    while (!second.includes('two')) second += decoder.decode((await reader.read()).value);
    abort.abort();
    const closed = await streamClosed.promise;
    // Assess
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(first).toBe('data: one\n\n');
    expect(second).toBe('data: two\n\n');
    expect(closed).toEqual({ writableFinished: false, destroyed: true, writeError: 'ERR_STREAM_DESTROYED' });
  });

  it('answers 500 when a streaming handler throws before writing', async () => {
    // Prepare / Act
    const res = await fetch(`${srv.url}/v1/stream-throws`);
    const text = await res.text();
    // Assess
    expect(res.status).toBe(500);
    expect(JSON.parse(text)).toEqual({ error: { message: 'Internal server error', type: 'api_error', param: null, code: 'internal_error' } });
  });

  it('parses the API Gateway wire format (metadata, 8 NUL bytes, body) written by hand', async () => {
    // Prepare / Act
    const res = await fetch(`${srv.url}/v1/stream-wire`);
    // Assess
    expect(res.status).toBe(202);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(res.headers.get('x-wire')).toBe('yes');
    expect(await res.text()).toBe('hello wire');
  });

  it('sends a reply written and ended within one turn whole, with a Content-Length, and a slower one in chunks', async () => {
    // Prepare / Act: stream-wire ends in the turn it starts; stream-paused writes, waits 20 ms, then ends.
    const whole = await fetch(`${srv.url}/v1/stream-wire`);
    const chunked = await fetch(`${srv.url}/v1/stream-paused`);
    // Assess
    expect(whole.headers.get('content-length')).toBe(String('hello wire'.length));
    expect(whole.headers.get('transfer-encoding')).toBeNull();
    expect(await whole.text()).toBe('hello wire');
    expect(chunked.headers.get('content-length')).toBeNull();
    expect(chunked.headers.get('transfer-encoding')).toBe('chunked');
    expect(await chunked.text()).toBe('first second');
  });
});
