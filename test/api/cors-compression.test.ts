/**
 * CORS and compression (issue 15 point 3) against the local runtime and the demo world: a browser's preflight and
 * real requests on the OpenAI-compatible routes, none on a management route; the inference routes' plain replies
 * compressed by the handler (gzip, br) when asked, never a stream; buffered routes compressed as API Gateway does.
 * Raw requests through node:http: fetch would decompress and hide what came over the wire.
 */
import { request } from 'node:http';
import zlib from 'node:zlib';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { CORS_MAX_AGE_SECONDS } from '../../infra/cors.js';
import { MIN_COMPRESSION_BYTES } from '../../infra/compression.js';

const LLAMA = 'llama-3.1-70b-instruct';
const EMBEDDING_MODEL = 'text-embedding-3-small';
/** A page on another origin. */
const ORIGIN = 'https://app.example.com';

let rt: TestRuntime;
let key: string;

beforeAll(async () => {
  rt = await startTestRuntime('cors', { demo: {} });
  key = rt.world!.startupKey;
});
afterAll(async () => rt?.stop());

interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as it came over the wire (still encoded). */
  raw: Buffer;
}

/** One request, the reply's bytes untouched (no decompression). */
function send(method: string, path: string, opts: { headers?: Record<string, string>; body?: unknown } = {}): Promise<RawReply> {
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const headers = { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers };
  return new Promise((resolve, reject) => {
    const req = request(`${rt.baseUrl}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, raw: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const auth = () => ({ authorization: `Bearer ${key}` });
const list = (value: string | string[] | undefined) => String(value ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);

/** Four float embeddings: about 130 KB of JSON, as the issue measured. */
const EMBEDDINGS = { model: EMBEDDING_MODEL, input: ['one input', 'another input', 'a third', 'and a fourth'], encoding_format: 'float' };

describe('CORS on the OpenAI-compatible routes', () => {
  it('answers a preflight on /v1/chat/completions with 204, any origin, POST, our headers and a max age', async () => {
    // Act
    const res = await send('OPTIONS', '/v1/chat/completions', {
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,idempotency-key' },
    });
    // Assess
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(list(res.headers['access-control-allow-methods'])).toEqual(['post']);
    expect(list(res.headers['access-control-allow-headers'])).toEqual(expect.arrayContaining(['authorization', 'content-type', 'idempotency-key']));
    expect(res.headers['access-control-max-age']).toBe(String(CORS_MAX_AGE_SECONDS));
    expect(res.raw.length).toBe(0);
  });

  it('answers a preflight on /v1/models and on one model with GET', async () => {
    // Act
    const replies = await Promise.all(
      ['/v1/models', `/v1/models/${LLAMA}`].map((path) => send('OPTIONS', path, { headers: { origin: ORIGIN, 'access-control-request-method': 'GET' } })),
    );
    // Assess
    for (const res of replies) {
      expect(res.status).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe('*');
      expect(list(res.headers['access-control-allow-methods'])).toEqual(['get']);
    }
  });

  it('allows every header the official openai client sends from a browser', async () => {
    // Prepare: the header names of a real chat call through the client (its own fetch, recorded).
    let sent: string[] = [];
    const ai = new OpenAI({
      apiKey: key,
      baseURL: `${rt.baseUrl}/v1`,
      maxRetries: 0,
      fetch: (url, init) => {
        sent = [...new Headers(init?.headers).keys()];
        return fetch(url, init);
      },
    });
    await ai.chat.completions.create({ model: LLAMA, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4 });
    // A browser needs no permission for Accept (CORS-safelisted), and the client sends no User-Agent from one.
    const needPermission = sent.filter((name) => name !== 'accept' && name !== 'user-agent');
    // Act
    const res = await send('OPTIONS', '/v1/chat/completions', {
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': needPermission.join(',') },
    });
    // Assess
    expect(needPermission).toEqual(expect.arrayContaining(['authorization', 'content-type', 'x-stainless-lang']));
    expect(list(res.headers['access-control-allow-headers'])).toEqual(expect.arrayContaining(needPermission));
  });

  it('lets a real chat completion be read from another origin, with x-request-id and every x-compux-* header exposed', async () => {
    // Act
    const res = await send('POST', '/v1/chat/completions', {
      headers: { ...auth(), origin: ORIGIN },
      body: { model: LLAMA, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4 },
    });
    // Assess
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    const ours = Object.keys(res.headers).filter((name) => name === 'x-request-id' || name.startsWith('x-compux-'));
    expect(ours).toEqual(expect.arrayContaining(['x-request-id', 'x-compux-provider', 'x-compux-cost-micros']));
    expect(list(res.headers['access-control-expose-headers'])).toEqual(expect.arrayContaining(ours));
  });

  it('lets a refusal of a cors route (401, no key) be read from another origin too', async () => {
    // Act
    const res = await send('POST', '/v1/embeddings', { headers: { origin: ORIGIN }, body: EMBEDDINGS });
    // Assess
    expect(res.status).toBe(401);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(list(res.headers['access-control-expose-headers'])).toContain('x-request-id');
  });

  it('sends no CORS header on a management route without the cors flag', async () => {
    // Act
    const res = await send('GET', '/v1/credits', { headers: { ...auth(), origin: ORIGIN } });
    // Assess
    expect(res.status).toBe(200);
    expect(Object.keys(res.headers).filter((name) => name.startsWith('access-control-'))).toEqual([]);
  });

  it('refuses a preflight on a management route without the cors flag', async () => {
    // Act
    const res = await send('OPTIONS', '/v1/credits', { headers: { origin: ORIGIN, 'access-control-request-method': 'GET' } });
    // Assess: not a 2xx and no Allow-Methods/-Headers, so the browser never sends the request.
    expect(res.status).toBe(405);
    expect(res.headers['access-control-allow-methods']).toBeUndefined();
    expect(res.headers['access-control-allow-headers']).toBeUndefined();
  });
});

describe('compression of the inference routes (by the handler)', () => {
  it('gzips embeddings when asked: the body decompresses to the same JSON, much smaller', async () => {
    // Prepare
    const plain = await send('POST', '/v1/embeddings', { headers: auth(), body: EMBEDDINGS });
    // Act
    const res = await send('POST', '/v1/embeddings', { headers: { ...auth(), 'accept-encoding': 'gzip' }, body: EMBEDDINGS });
    // Assess
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(list(res.headers.vary)).toContain('accept-encoding');
    expect(JSON.parse(zlib.gunzipSync(res.raw).toString('utf8'))).toEqual(JSON.parse(plain.raw.toString('utf8')));
    expect(plain.raw.length).toBeGreaterThan(100_000);
    expect(res.raw.length).toBeLessThan(plain.raw.length * 0.6);
  });

  it('brotli-compresses embeddings when asked: the body decompresses to the same JSON, much smaller', async () => {
    // Prepare
    const plain = await send('POST', '/v1/embeddings', { headers: auth(), body: EMBEDDINGS });
    // Act
    const res = await send('POST', '/v1/embeddings', { headers: { ...auth(), 'accept-encoding': 'br' }, body: EMBEDDINGS });
    // Assess
    expect(res.headers['content-encoding']).toBe('br');
    expect(JSON.parse(zlib.brotliDecompressSync(res.raw).toString('utf8'))).toEqual(JSON.parse(plain.raw.toString('utf8')));
    expect(res.raw.length).toBeLessThan(plain.raw.length * 0.6);
  });

  it("follows the caller's q-values (gzip over br when weighed higher), and br on a tie", async () => {
    // Act
    const weighed = await send('POST', '/v1/embeddings', { headers: { ...auth(), 'accept-encoding': 'br;q=0.5, gzip' }, body: EMBEDDINGS });
    const tie = await send('POST', '/v1/embeddings', { headers: { ...auth(), 'accept-encoding': 'gzip, deflate, br' }, body: EMBEDDINGS });
    // Assess
    expect(weighed.headers['content-encoding']).toBe('gzip');
    expect(tie.headers['content-encoding']).toBe('br');
  });

  it('never compresses a stream', async () => {
    // Act
    const res = await send('POST', '/v1/chat/completions', {
      headers: { ...auth(), 'accept-encoding': 'gzip, br' },
      body: { model: LLAMA, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 200, stream: true },
    });
    // Assess
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.raw.length).toBeGreaterThan(MIN_COMPRESSION_BYTES);
    expect(res.raw.toString('utf8')).toContain('data: [DONE]');
  });

  it('sends identity when the request has no Accept-Encoding', async () => {
    // Act
    const res = await send('POST', '/v1/embeddings', { headers: auth(), body: EMBEDDINGS });
    // Assess
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(res.raw.toString('utf8')).data).toHaveLength(EMBEDDINGS.input.length);
  });

  it(`does not compress a reply under ${MIN_COMPRESSION_BYTES} bytes`, async () => {
    // Act: a short chat reply
    const res = await send('POST', '/v1/chat/completions', {
      headers: { ...auth(), 'accept-encoding': 'gzip, br' },
      body: { model: LLAMA, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 },
    });
    // Assess
    expect(res.status).toBe(200);
    expect(res.raw.length).toBeLessThan(MIN_COMPRESSION_BYTES);
    expect(res.headers['content-encoding']).toBeUndefined();
  });
});

describe('compression of buffered routes (API Gateway, played by the local server)', () => {
  it('gzips a large buffered reply when gzip is asked for', async () => {
    // Act
    const res = await send('GET', '/openapi.json', { headers: { 'accept-encoding': 'gzip' } });
    // Assess
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(zlib.gunzipSync(res.raw).toString('utf8'))).toMatchObject({ openapi: expect.any(String) });
  });

  it('sends a buffered reply as is when br is the only coding asked for (API Gateway has no br)', async () => {
    // Act
    const res = await send('GET', '/openapi.json', { headers: { 'accept-encoding': 'br' } });
    // Assess
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(res.raw.toString('utf8'))).toMatchObject({ openapi: expect.any(String) });
  });
});
