/**
 * OpenAI's error shapes on every OpenAI-compatible route, through the local runtime and the demo world: each refusal
 * has OpenAI's status class, `type`, `code` and `param` (a JS-style path), all four keys present; the official client
 * reads them as it reads OpenAI's; and the management routes keep their own shape.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';

const LLAMA = 'llama-3.1-70b-instruct';
const EMBED = 'text-embedding-3-small';
const messages = [{ role: 'user', content: 'Hi' }];
/** A key of a startup's shape that was never issued: its last 4 characters are the only part a refusal may show. */
const NEVER_ISSUED = 'cx_startup_neverissued000000000000wxyz';

let rt: TestRuntime;
let call: ReturnType<typeof client>;

beforeAll(async () => {
  rt = await startTestRuntime('openai-errors', { demo: {} });
  call = client(rt.baseUrl);
});
afterAll(async () => rt?.stop());

function openai(key: string) {
  return new OpenAI({ apiKey: key, baseURL: `${rt.baseUrl}/v1`, maxRetries: 0, timeout: 30_000 });
}

async function newKey(body: Record<string, unknown>): Promise<string> {
  return (await call('POST', '/v1/keys', { key: rt.world!.startupKey, body: { name: 'errors', ...body } })).body.key as string;
}

type Expected = { status: number; type: string; code: string | null; param: string | null };
const invalid = (code: string, param: string | null): Expected => ({ status: 400, type: 'invalid_request_error', code, param });

interface Case {
  name: string;
  method?: 'GET' | 'POST';
  path: string;
  /** The startup's key unless set; null sends none. */
  key?: string | null;
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
  expected: Expected;
}

const CHAT = '/v1/chat/completions';
const chat = (extra: Record<string, unknown>) => ({ model: LLAMA, messages, max_tokens: 5, ...extra });

const CASES: Case[] = [
  { name: 'no key', path: CHAT, key: null, body: chat({}), expected: { status: 401, type: 'invalid_request_error', code: 'invalid_api_key', param: null } },
  { name: 'an unknown key', path: CHAT, key: NEVER_ISSUED, body: chat({}), expected: { status: 401, type: 'invalid_request_error', code: 'invalid_api_key', param: null } },
  { name: 'models with an unknown key', method: 'GET', path: '/v1/models', key: NEVER_ISSUED, expected: { status: 401, type: 'invalid_request_error', code: 'invalid_api_key', param: null } },
  { name: 'no model', path: CHAT, body: { messages }, expected: invalid('missing_required_parameter', 'model') },
  { name: 'no messages', path: CHAT, body: { model: LLAMA }, expected: invalid('missing_required_parameter', 'messages') },
  { name: 'no content in a user message', path: CHAT, body: chat({ messages: [{ role: 'user' }] }), expected: invalid('missing_required_parameter', 'messages[0].content') },
  { name: 'an unknown role', path: CHAT, body: chat({ messages: [{ role: 'user', content: 'a' }, { role: 'robot', content: 'b' }] }), expected: invalid('invalid_value', 'messages[1].role') },
  { name: 'empty messages', path: CHAT, body: chat({ messages: [] }), expected: invalid('empty_array', 'messages') },
  { name: 'temperature 5', path: CHAT, body: chat({ temperature: 5 }), expected: invalid('decimal_above_max_value', 'temperature') },
  { name: 'top_p 1.5', path: CHAT, body: chat({ top_p: 1.5 }), expected: invalid('decimal_above_max_value', 'top_p') },
  { name: 'presence_penalty -3', path: CHAT, body: chat({ presence_penalty: -3 }), expected: invalid('decimal_below_min_value', 'presence_penalty') },
  { name: 'n 129', path: CHAT, body: chat({ n: 129 }), expected: invalid('integer_above_max_value', 'n') },
  { name: 'n 1.5', path: CHAT, body: chat({ n: 1.5 }), expected: invalid('invalid_type', 'n') },
  // Each choice may run to max_tokens: the hold must cover them all, and one request is billed at most 10M tokens.
  { name: 'max_tokens × n over 10M', path: CHAT, body: chat({ max_tokens: 6_000_000, n: 2 }), expected: invalid('integer_above_max_value', 'max_tokens') },
  { name: 'max_tokens 0', path: CHAT, body: chat({ max_tokens: 0 }), expected: invalid('integer_below_min_value', 'max_tokens') },
  { name: 'max_tokens a string', path: CHAT, body: chat({ max_tokens: 'ten' }), expected: invalid('invalid_type', 'max_tokens') },
  { name: 'top_logprobs 21', path: CHAT, body: chat({ top_logprobs: 21 }), expected: invalid('integer_above_max_value', 'top_logprobs') },
  { name: 'five stop sequences', path: CHAT, body: chat({ stop: ['a', 'b', 'c', 'd', 'e'] }), expected: invalid('array_above_max_length', 'stop') },
  { name: 'an empty content part type', path: CHAT, body: chat({ messages: [{ role: 'user', content: [{ type: '' }] }] }), expected: invalid('empty_string', 'messages[0].content[0].type') },
  { name: 'stream_options without stream', path: CHAT, body: chat({ stream_options: { include_usage: true } }), expected: invalid('invalid_value', 'stream_options') },
  { name: 'not JSON', path: CHAT, raw: '{"model":', expected: invalid('invalid_json', null) },
  { name: 'no body', path: CHAT, raw: '', expected: invalid('missing_body', null) },
  { name: 'a malformed Idempotency-Key', path: CHAT, body: chat({}), headers: { 'idempotency-key': 'has spaces in it' }, expected: invalid('invalid_idempotency_key', 'Idempotency-Key') },
  { name: 'a completion without prompt', path: '/v1/completions', body: { model: LLAMA }, expected: invalid('missing_required_parameter', 'prompt') },
  { name: 'completion logprobs 6', path: '/v1/completions', body: { model: LLAMA, prompt: 'a', logprobs: 6 }, expected: invalid('integer_above_max_value', 'logprobs') },
  { name: 'a token id out of range', path: '/v1/embeddings', body: { model: EMBED, input: [[1, 2], [20_000_000]] }, expected: invalid('integer_above_max_value', 'input[1][0]') },
  { name: 'an unknown encoding_format', path: '/v1/embeddings', body: { model: EMBED, input: 'a', encoding_format: 'int8' }, expected: invalid('invalid_value', 'encoding_format') },
  { name: 'models with a query', method: 'GET', path: '/v1/models?limit=5', expected: invalid('unexpected_query', 'limit') },
  { name: 'an unknown chat model', path: CHAT, body: chat({ model: 'no-such-model' }), expected: { status: 404, type: 'invalid_request_error', code: 'model_not_found', param: 'model' } },
  { name: 'a model id that cannot be one', path: CHAT, body: chat({ model: 'no such model!' }), expected: { status: 404, type: 'invalid_request_error', code: 'model_not_found', param: 'model' } },
  { name: 'a chat model for embeddings', path: '/v1/embeddings', body: { model: LLAMA, input: 'a' }, expected: { status: 404, type: 'invalid_request_error', code: 'model_not_found', param: 'model' } },
  { name: 'an unknown model by id', method: 'GET', path: '/v1/models/no-such-model', expected: { status: 404, type: 'invalid_request_error', code: 'model_not_found', param: 'model' } },
  { name: 'a body over 1 MiB', path: CHAT, raw: JSON.stringify(chat({ pad: 'x'.repeat(1024 * 1024) })), expected: { status: 413, type: 'invalid_request_error', code: 'body_too_large', param: null } },
  { name: "a provider's own 400 (the simulator serves at most 16 choices)", path: CHAT, body: chat({ n: 17 }), expected: invalid('invalid_value', 'n') },
];

describe('every refusal of an OpenAI-compatible route has OpenAI type, code and param', () => {
  it.each(CASES)('$name', async (c) => {
    // Prepare
    const key = c.key === undefined ? rt.world!.startupKey : c.key;
    // Act
    const r = await call(c.method ?? 'POST', c.path, { ...(key ? { key } : {}), ...(c.raw !== undefined ? { raw: c.raw } : { body: c.body }), ...(c.headers ? { headers: c.headers } : {}) });
    // Assess
    expect({ status: r.status, ...r.body.error, message: typeof r.body.error?.message }).toEqual({ ...c.expected, message: 'string' });
  });
});

describe('wording', () => {
  it('a refused key is quoted by its last 4 characters only', async () => {
    // Act
    const r = await call('POST', CHAT, { key: NEVER_ISSUED, body: chat({}) });
    // Assess
    expect(r.body.error.message).toContain('Incorrect API key provided: ****wxyz.');
    expect(r.body.error.message).not.toContain(NEVER_ISSUED.slice(0, -4));
  });

  it('a bound is stated as OpenAI states it', async () => {
    // Act
    const r = await call('POST', CHAT, { key: rt.world!.startupKey, body: chat({ n: 129 }) });
    // Assess
    expect(r.body.error.message).toBe("Invalid 'n': integer above maximum value. Expected a value <= 128, but got 129 instead.");
  });

  it('every model not-found reads the same, chat or GET /v1/models/{id}', async () => {
    // Act
    const viaChat = await call('POST', CHAT, { key: rt.world!.startupKey, body: chat({ model: 'no-such-model' }) });
    const viaGet = await call('GET', '/v1/models/no-such-model', { key: rt.world!.startupKey });
    // Assess
    expect(viaChat.body).toEqual(viaGet.body);
    expect(viaGet.body.error.message).toBe('The model `no-such-model` does not exist or you do not have access to it.');
  });
});

describe('fields OpenAI does not know', () => {
  it('are passed to the provider, not refused', async () => {
    // Act
    const r = await call('POST', CHAT, { key: rt.world!.startupKey, body: chat({ top_k: 40, repetition_penalty: 1.1 }) });
    // Assess
    expect(r.status).toBe(200);
  });
});

describe('refusals of key policy and credit', () => {
  it('RPM: 429, type requests, code rate_limit_exceeded, with Retry-After', async () => {
    // Prepare: with 1 a minute, one of three in a row is refused even if a window turns between two of them
    const key = await newKey({ rpm: 1 });
    // Act
    const replies = [];
    for (let i = 0; i < 3; i++) replies.push(await call('POST', CHAT, { key, body: chat({}) }));
    // Assess
    const over = replies.find((r) => r.status === 429)!;
    expect(over.body.error).toEqual({ message: expect.stringContaining('requests per min (RPM): Limit 1'), type: 'requests', param: null, code: 'rate_limit_exceeded' });
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('TPM: a request larger than the limit is 429, type tokens, code rate_limit_exceeded', async () => {
    // Prepare
    const key = await newKey({ tpm: 100 });
    // Act
    const r = await call('POST', CHAT, { key, body: chat({ max_tokens: 500 }) });
    // Assess
    expect(r.status).toBe(429);
    expect(r.body.error).toEqual({ message: expect.stringContaining('Request too large'), type: 'tokens', param: null, code: 'rate_limit_exceeded' });
  });

  it('a model outside the allow-list is 403 model_not_allowed, param model', async () => {
    // Prepare
    const key = await newKey({ models: ['llama-3.1-8b-instruct'] });
    // Act
    const r = await call('POST', CHAT, { key, body: chat({}) });
    // Assess
    expect({ status: r.status, ...r.body.error, message: undefined }).toEqual({ status: 403, type: 'invalid_request_error', code: 'model_not_allowed', param: 'model', message: undefined });
  });

  it("a key's exhausted budget is 402, type insufficient_quota, code key_budget_exceeded", async () => {
    // Prepare
    const key = await newKey({ budget_micros: 1 });
    // Act
    const r = await call('POST', CHAT, { key, body: chat({}) });
    // Assess
    expect({ status: r.status, ...r.body.error, message: undefined }).toEqual({ status: 402, type: 'insufficient_quota', code: 'key_budget_exceeded', param: null, message: undefined });
  });

  it('a startup without credit is 402, type insufficient_quota, code exceeds_credit', async () => {
    // Prepare
    const startup = (await call('POST', '/v1/admin/startups', { key: rt.adminKey, body: { name: 'Penniless', segment: 'seed' } })).body.id;
    const key = (await call('POST', `/v1/admin/startups/${startup}/keys`, { key: rt.adminKey, body: { name: 'k' } })).body.key;
    // Act
    const r = await call('POST', CHAT, { key, body: chat({}) });
    // Assess
    expect({ status: r.status, ...r.body.error, message: undefined }).toEqual({ status: 402, type: 'insufficient_quota', code: 'exceeds_credit', param: null, message: undefined });
  });

  it('frozen credit is 403 (SPEC §4), type insufficient_quota, code credits_frozen', async () => {
    // Prepare
    const lenderKey = rt.world!.lenderKey!;
    await call('POST', `/v1/facilities/${rt.world!.facilityId}/freeze`, { key: lenderKey, body: { reason: 'covenant breach' } });
    // Act
    const r = await call('POST', CHAT, { key: rt.world!.startupKey, body: chat({}) }).finally(() => call('POST', `/v1/facilities/${rt.world!.facilityId}/unfreeze`, { key: lenderKey }));
    // Assess
    expect({ status: r.status, ...r.body.error, message: undefined }).toEqual({ status: 403, type: 'insufficient_quota', code: 'credits_frozen', param: null, message: undefined });
  });

  it('a key that is not a startup key is 403 forbidden, type invalid_request_error', async () => {
    // Act
    const r = await call('POST', CHAT, { key: rt.world!.lenderKey!, body: chat({}) });
    // Assess
    expect({ status: r.status, ...r.body.error, message: undefined }).toEqual({ status: 403, type: 'invalid_request_error', code: 'forbidden', param: null, message: undefined });
  });

  it('a reused Idempotency-Key is 409 idempotency_key_reused, type invalid_request_error', async () => {
    // Prepare
    const headers = { 'idempotency-key': `errors-${Date.now()}` };
    await call('POST', CHAT, { key: rt.world!.startupKey, body: chat({}), headers });
    // Act
    const r = await call('POST', CHAT, { key: rt.world!.startupKey, body: chat({}), headers });
    // Assess
    expect({ status: r.status, ...r.body.error, message: undefined }).toEqual({ status: 409, type: 'invalid_request_error', code: 'idempotency_key_reused', param: null, message: undefined });
  });
});

describe('the official openai client', () => {
  it('reads status, type, code and param from an APIError', async () => {
    // Act
    const err = await openai(rt.world!.startupKey).chat.completions.create({ model: LLAMA, messages: [{ role: 'user', content: 'Hi' }], temperature: 5 }).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as InstanceType<typeof OpenAI.APIError>;
    expect({ status: e.status, type: e.type, code: e.code, param: e.param }).toEqual({ status: 400, type: 'invalid_request_error', code: 'decimal_above_max_value', param: 'temperature' });
  });

  it('reads an unknown key as an AuthenticationError with code invalid_api_key', async () => {
    // Act
    const err = await openai(NEVER_ISSUED).models.list().catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('invalid_api_key');
  });
});

describe('management routes keep their own shape', () => {
  it('a bad key on GET /v1/credits is still authentication_error', async () => {
    // Act
    const r = await call('GET', '/v1/credits', { key: NEVER_ISSUED });
    // Assess
    expect(r.body).toEqual({ error: { message: expect.any(String), type: 'authentication_error', param: null, code: 'invalid_api_key' } });
  });

  it('a bad body on POST /v1/keys is still invalid_request with zod wording', async () => {
    // Act
    const r = await call('POST', '/v1/keys', { key: rt.world!.startupKey, body: { name: 5 } });
    // Assess
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request', param: 'name' });
  });
});
