/**
 * The OpenAI-compatible API end to end, through the official `openai` client (only baseURL changed),
 * against the local runtime and the demo world's three simulated providers: shapes, streaming, billing to
 * the micro, every simulator fault, key policy, and the request records.
 */
import OpenAI from 'openai';
import { requestRecord } from '../setup/records.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';
import { DEMO_PROVIDERS, DEMO_SPOT } from '../../local/demo.js';
import { countChatPromptTokens, countTokens, nowIso, requestEconomics } from '../../packages/core/src/index.js';

/** The UTC day (CompuX clock) this file began spending in. */
const STARTED_DAY = nowIso().slice(0, 10);

// Short enough that a held provider is given up on quickly, long enough for a loaded machine's first byte.
process.env.COMPUX_UPSTREAM_FIRST_BYTE_TIMEOUT_MS = '1500';

const LLAMA = 'llama-3.1-70b-instruct';
const [AURORA, CIRRUS] = ['prv_demoAurora01', 'prv_demoCirrus01'];

let rt: TestRuntime;
let call: ReturnType<typeof client>;
let ai: OpenAI;

beforeAll(async () => {
  rt = await startTestRuntime('inference', { demo: {} });
  call = client(rt.baseUrl);
  ai = openai(rt.world!.startupKey);
});
afterAll(async () => rt?.stop());
afterEach(() => {
  for (const s of rt.world!.simulators.values()) s.setOptions({ fault: null, ttftMs: 0, tokensPerSecond: Infinity, completionTokens: 16 });
});

function openai(key: string) {
  return new OpenAI({ apiKey: key, baseURL: `${rt.baseUrl}/v1`, maxRetries: 0, timeout: 30_000 });
}

function sim(providerId: string) {
  return rt.world!.simulators.get(providerId)!;
}

/** What the API must bill: SPEC §7 economics at the serving provider's declared rates and its accelerator's spot. */
function expectedCost(providerId: string, model: string, prompt: number, completion: number): number {
  const p = DEMO_PROVIDERS.find((x) => x.id === providerId)!;
  const m = p.models.find((x) => x.model === model)!;
  return requestEconomics(prompt, completion, m, DEMO_SPOT[p.accelerator]).cost_micros;
}

async function credits(key = rt.world!.startupKey) {
  return (await call('GET', '/v1/credits', { key })).body as { available_micros: number; reserved_micros: number; spent_micros: number; granted_micros: number };
}

/** Waits until no hold is open (a stream's settlement completes as the response ends). */
async function settled(key = rt.world!.startupKey) {
  for (let i = 0; i < 100; i++) {
    const c = await credits(key);
    if (c.reserved_micros === 0) return c;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('a hold stayed open');
}

const usageRecord = (requestId: string) => requestRecord(rt.doc, rt.tableName, rt.world!.startupId, requestId);

const messages = [{ role: 'user' as const, content: 'Tell me about GPU markets, briefly.' }];

/** Reads a chat stream to its end or its error: the text received, and the error if it broke. */
async function drain(stream: AsyncIterable<OpenAI.ChatCompletionChunk>): Promise<{ text: string; err: unknown }> {
  let text = '';
  try {
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    return { text, err: null };
  } catch (err) {
    return { text, err };
  }
}

describe('chat completions', () => {
  it('plain: OpenAI shape, the CompuX headers, and credits move by exactly the billed cost', async () => {
    // Prepare
    const before = await settled();
    // Act
    const { data, response } = await ai.chat.completions.create({ model: LLAMA, messages, max_tokens: 40 }).withResponse();
    const after = await credits();
    // Assess
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0]!.message.content!.length).toBeGreaterThan(0);
    const provider = response.headers.get('x-compux-provider')!;
    expect(provider).toBe(CIRRUS); // the cheapest per request for this model (H200: 3.59 USD/h at 90 tokens/s)
    expect(response.headers.get('x-request-id')).toBeTruthy();
    const cost = expectedCost(provider, LLAMA, data.usage!.prompt_tokens, data.usage!.completion_tokens);
    expect(cost).toBeGreaterThan(0);
    expect(Number(response.headers.get('x-compux-cost-micros'))).toBe(cost);
    expect(after.spent_micros - before.spent_micros).toBe(cost);
    expect(before.available_micros - after.available_micros).toBe(cost);
    expect(after.reserved_micros).toBe(0);
  });

  it('records the request: provider, model, tokens, GPU-seconds, cost, facility, latency, time to first token, outcome', async () => {
    // Act
    const { data, response } = await ai.chat.completions.create({ model: LLAMA, messages, max_tokens: 12 }).withResponse();
    const rec = await usageRecord(response.headers.get('x-request-id')!);
    // Assess
    expect(rec).toMatchObject({
      provider_id: CIRRUS, model: LLAMA, workload: 'chat', outcome: 'ok', status_code: 200, estimated: false, stream: false,
      prompt_tokens: data.usage!.prompt_tokens, completion_tokens: data.usage!.completion_tokens, accelerator: 'H200',
      facilities: [{ facility_id: rt.world!.facilityId, amount_micros: rec!.cost_micros }],
    });
    const econ = requestEconomics(data.usage!.prompt_tokens, data.usage!.completion_tokens, DEMO_PROVIDERS[2]!.models[0]!, DEMO_SPOT.H200);
    expect(rec).toMatchObject({ gpu_microseconds: econ.gpu_microseconds, cost_micros: econ.cost_micros, provider_micros: econ.provider_micros, margin_micros: econ.margin_micros });
    expect(rec!.latency_ms).toBeGreaterThanOrEqual(0);
    expect(rec!.ttft_ms).toBeGreaterThanOrEqual(0);
  });

  it('streamed with include_usage: chunks end with a usage chunk, and exactly that usage is billed', async () => {
    // Prepare
    const before = await settled();
    // Act
    const stream = await ai.chat.completions.create({ model: LLAMA, messages, max_tokens: 30, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    const after = await settled();
    // Assess
    expect(usage).toBeTruthy();
    expect(usage!.completion_tokens).toBe(countTokens(text));
    expect(after.spent_micros - before.spent_micros).toBe(expectedCost(CIRRUS, LLAMA, usage!.prompt_tokens, usage!.completion_tokens));
  });

  it('streamed without include_usage: no usage reaches the client, and the request is still billed exactly', async () => {
    // Prepare
    const before = await settled();
    // Act
    const stream = await ai.chat.completions.create({ model: LLAMA, messages, max_tokens: 25, stream: true });
    let text = '';
    let sawUsage = false;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if ('usage' in chunk && chunk.usage) sawUsage = true;
    }
    const after = await settled();
    // Assess
    expect(sawUsage).toBe(false);
    expect(after.spent_micros - before.spent_micros).toBe(expectedCost(CIRRUS, LLAMA, countChatPromptTokens(messages), countTokens(text)));
  });

  it('the raw stream is server-sent events ending in data: [DONE]', async () => {
    // Act
    const res = await fetch(`${rt.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${rt.world!.startupKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: LLAMA, messages, max_tokens: 5, stream: true }),
    });
    const body = await res.text();
    // Assess
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('x-compux-provider')).toBe(CIRRUS);
    expect(body.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(body).toMatch(/^: compux \{"cost_micros":\d+/m);
  });
});

describe('completions, embeddings, models', () => {
  it("streams one after another reuse the provider's connection (its end after [DONE] is read, not cut)", async () => {
    // Prepare: one stream opens (or reuses) a connection to the serving provider.
    const stream = () => ai.chat.completions.create({ model: LLAMA, messages: [{ role: 'user', content: 'again' }], max_tokens: 4, stream: true });
    for await (const _ of await stream());
    const before = sim(CIRRUS).stats();
    // Act
    for (let i = 0; i < 5; i++) for await (const _ of await stream());
    // Assess
    const after = sim(CIRRUS).stats();
    expect(after.streams.completed - before.streams.completed).toBe(5);
    expect(after.connections - before.connections).toBe(0);
  });

  it("plain replies without max_tokens (streamed from the provider inside) reuse the provider's connection too", async () => {
    // Prepare
    const ask = () => ai.chat.completions.create({ model: LLAMA, messages: [{ role: 'user', content: 'no max_tokens' }] });
    await ask();
    const before = sim(CIRRUS).stats();
    // Act
    for (let i = 0; i < 5; i++) await ask();
    // Assess
    const after = sim(CIRRUS).stats();
    expect(after.streams.completed - before.streams.completed).toBe(5);
    expect(after.connections - before.connections).toBe(0);
  });

  it('completions, plain and streamed, are billed like chat', async () => {
    // Prepare
    const before = await settled();
    // Act
    const plain = await ai.completions.create({ model: LLAMA, prompt: 'Once upon a time', max_tokens: 10 });
    const stream = await ai.completions.create({ model: LLAMA, prompt: 'Once upon a time', max_tokens: 10, stream: true, stream_options: { include_usage: true } });
    let usage: OpenAI.CompletionUsage | undefined;
    let text = '';
    for await (const c of stream) {
      text += c.choices[0]?.text ?? '';
      if (c.usage) usage = c.usage;
    }
    const after = await settled();
    // Assess
    expect(plain.object).toBe('text_completion');
    expect(text).toBe(plain.choices[0]!.text);
    const cost = expectedCost(CIRRUS, LLAMA, plain.usage!.prompt_tokens, plain.usage!.completion_tokens);
    expect(usage).toMatchObject({ prompt_tokens: plain.usage!.prompt_tokens, completion_tokens: plain.usage!.completion_tokens });
    expect(after.spent_micros - before.spent_micros).toBe(2 * cost);
  });

  it("a legacy completion without max_tokens is sent upstream with OpenAI's default of 16 and billed for the reply", async () => {
    // Prepare: replies run to 74 tokens unless the request says fewer.
    for (const s of rt.world!.simulators.values()) s.setOptions({ completionTokens: 74 });
    const before = await settled();
    const producedBefore = sim(CIRRUS).stats().tokens.completion;
    // Act
    const { data, response } = await ai.completions.create({ model: LLAMA, prompt: 'Once upon a time' }).withResponse();
    const after = await settled();
    // Assess
    expect(response.headers.get('x-compux-provider')).toBe(CIRRUS);
    expect(sim(CIRRUS).stats().tokens.completion - producedBefore).toBe(16); // the provider was asked for 16
    expect(data.usage!.completion_tokens).toBe(16);
    expect(data.choices[0]!.finish_reason).toBe('length');
    const cost = expectedCost(CIRRUS, LLAMA, data.usage!.prompt_tokens, 16);
    expect(response.headers.get('x-compux-cost-micros')).toBe(String(cost));
    expect(after.spent_micros - before.spent_micros).toBe(cost);
  });

  it('embeddings (base64, as the client asks by default) are billed for their input tokens', async () => {
    // Prepare
    const before = await settled();
    // Act
    const { data, response } = await ai.embeddings.create({ model: 'text-embedding-3-small', input: ['hello world', 'GPU credit'] }).withResponse();
    const after = await credits();
    // Assess
    expect(data.data).toHaveLength(2);
    expect(data.data[0]!.embedding).toHaveLength(1536);
    expect(response.headers.get('x-compux-provider')).toBe(AURORA);
    expect(after.spent_micros - before.spent_micros).toBe(expectedCost(AURORA, 'text-embedding-3-small', data.usage.prompt_tokens, 0));
  });

  it('lists the models live providers serve, retrieves one, and 404s an unknown one', async () => {
    // Act
    const list = await ai.models.list();
    const one = await ai.models.retrieve(LLAMA);
    const missing = await ai.models.retrieve('no-such-model').catch((e: unknown) => e);
    const chatMissing = await ai.chat.completions.create({ model: 'no-such-model', messages }).catch((e: unknown) => e);
    const wrongKind = await ai.embeddings.create({ model: LLAMA, input: 'x' }).catch((e: unknown) => e);
    // Assess
    expect(list.data.map((m) => m.id)).toEqual(['llama-3.1-405b-instruct', LLAMA, 'llama-3.1-8b-instruct', 'text-embedding-3-small']);
    expect(one).toMatchObject({ id: LLAMA, object: 'model', owned_by: 'compux' });
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect(chatMissing).toBeInstanceOf(OpenAI.NotFoundError);
    expect((chatMissing as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
    expect(wrongKind).toBeInstanceOf(OpenAI.NotFoundError);
  });
});

describe('errors in OpenAI shape', () => {
  it('401 for a bad key, 400 naming the field for a bad body, and nothing is held', async () => {
    // Prepare
    const before = await settled();
    // Act
    const badKey = await openai('cx_startup_nope').chat.completions.create({ model: LLAMA, messages }).catch((e: unknown) => e);
    const noMessages = await ai.chat.completions.create({ model: LLAMA, messages: [] }).catch((e: unknown) => e);
    const badMax = await ai.chat.completions.create({ model: LLAMA, messages, max_tokens: -1 }).catch((e: unknown) => e);
    const notJson = await call('POST', '/v1/chat/completions', { key: rt.world!.startupKey, raw: '{"model":' });
    const after = await credits();
    // Assess
    expect(badKey).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(noMessages).toBeInstanceOf(OpenAI.BadRequestError);
    expect((noMessages as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('messages');
    expect((badMax as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('max_tokens');
    expect(notJson.status).toBe(400);
    expect(notJson.body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_json' });
    expect(notJson.headers.get('x-request-id')).toBeTruthy();
    expect(after).toEqual(before);
  });

  it('a reused Idempotency-Key is refused, never billed twice', async () => {
    // Prepare
    const headers = { 'Idempotency-Key': `idem-${Date.now()}` };
    const first = await ai.chat.completions.create({ model: LLAMA, messages, max_tokens: 5 }, { headers });
    const before = await settled();
    // Act
    const second = await ai.chat.completions.create({ model: LLAMA, messages, max_tokens: 5 }, { headers }).catch((e: unknown) => e);
    // Assess
    expect(first.object).toBe('chat.completion');
    expect(second).toBeInstanceOf(OpenAI.ConflictError);
    expect(await credits()).toEqual(before);
  });
});

describe('provider faults', () => {
  it('5xx before the first byte falls over to the next provider and bills only that one', async () => {
    // Prepare
    sim(CIRRUS).setOptions({ fault: 'http_503' });
    const before = await settled();
    // Act
    const { data, response } = await ai.chat.completions.create({ model: LLAMA, messages, max_tokens: 10 }).withResponse();
    const after = await credits();
    // Assess
    expect(response.headers.get('x-compux-provider')).toBe(AURORA);
    expect(response.headers.get('x-compux-attempts')).toBe('2');
    expect(after.spent_micros - before.spent_micros).toBe(expectedCost(AURORA, LLAMA, data.usage!.prompt_tokens, data.usage!.completion_tokens));
  });

  it.each([
    ['http_500', 502, OpenAI.InternalServerError, 'upstream_error'],
    ['rate_limit;retry_after=7', 503, OpenAI.InternalServerError, 'upstream_rate_limited'],
    ['timeout_before_headers', 504, OpenAI.InternalServerError, 'upstream_timeout'],
    ['reset_after_frames:0', 502, OpenAI.InternalServerError, 'upstream_error'],
  ])('%s on every provider → %i %s, and nothing billed', async (fault, status, _cls, code) => {
    // Prepare
    for (const s of rt.world!.simulators.values()) s.setOptions({ fault });
    const before = await settled();
    // Act
    const res = await call('POST', '/v1/chat/completions', { key: rt.world!.startupKey, body: { model: LLAMA, messages, max_tokens: 10, stream: fault.startsWith('reset') } });
    const after = await settled();
    // Assess
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    if (code === 'upstream_rate_limited') expect(res.headers.get('retry-after')).toBe('7');
    expect(res.headers.get('x-compux-attempts')).toBe('3');
    expect(after).toEqual(before);
  });

  it('a reset after the first byte ends the stream with an error event and bills what was produced', async () => {
    // Prepare
    for (const s of rt.world!.simulators.values()) s.setOptions({ fault: 'reset_after_frames:4', completionTokens: 50 });
    const before = await settled();
    // Act
    const { text, err } = await drain(await ai.chat.completions.create({ model: LLAMA, messages, max_tokens: 50, stream: true }));
    const after = await settled();
    // Assess
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(String((err as Error).message)).toMatch(/mid-stream/);
    expect(countTokens(text)).toBeGreaterThan(0);
    expect(after.spent_micros - before.spent_micros).toBe(expectedCost(CIRRUS, LLAMA, countChatPromptTokens(messages), countTokens(text)));
  });

  it('a malformed chunk mid-stream is a failure after the first byte: error event, billed for what came', async () => {
    // Prepare
    sim(CIRRUS).setOptions({ fault: 'malformed_chunk:3', completionTokens: 40 });
    const before = await settled();
    // Act
    const { text, err } = await drain(await ai.chat.completions.create({ model: LLAMA, messages, max_tokens: 40, stream: true }));
    const after = await settled();
    // Assess
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(after.spent_micros - before.spent_micros).toBe(expectedCost(CIRRUS, LLAMA, countChatPromptTokens(messages), countTokens(text)));
  });

  it('a stream without a usage report is counted from its content and flagged estimated', async () => {
    // Prepare
    sim(CIRRUS).setOptions({ fault: 'stream_without_usage' });
    const before = await settled();
    // Act
    const res = await ai.chat.completions.create({ model: LLAMA, messages, max_tokens: 20, stream: true, stream_options: { include_usage: true } }).withResponse();
    let text = '';
    for await (const chunk of res.data) text += chunk.choices[0]?.delta?.content ?? '';
    const after = await settled();
    const rec = await usageRecord(res.response.headers.get('x-request-id')!);
    // Assess
    const prompt = countChatPromptTokens(messages);
    expect(after.spent_micros - before.spent_micros).toBe(expectedCost(CIRRUS, LLAMA, prompt, countTokens(text)));
    expect(rec).toMatchObject({ estimated: true, outcome: 'ok', prompt_tokens: prompt, completion_tokens: countTokens(text) });
  });

  it('a stream without [DONE] still ends cleanly for the client and is billed from its usage', async () => {
    // Prepare
    sim(CIRRUS).setOptions({ fault: 'stream_without_done' });
    const before = await settled();
    // Act
    const stream = await ai.chat.completions.create({ model: LLAMA, messages, max_tokens: 15, stream: true, stream_options: { include_usage: true } });
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    const after = await settled();
    // Assess
    expect(usage).toBeTruthy();
    expect(after.spent_micros - before.spent_micros).toBe(expectedCost(CIRRUS, LLAMA, usage!.prompt_tokens, usage!.completion_tokens));
  });

  it('a client that disconnects mid-stream is billed for what the provider produced, and no more', async () => {
    // Prepare: a slow, long reply
    sim(CIRRUS).setOptions({ tokensPerSecond: 40, completionTokens: 400 });
    sim(CIRRUS).resetStats();
    const before = await settled();
    const ac = new AbortController();
    // Act
    const res = await fetch(`${rt.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      signal: ac.signal,
      headers: { authorization: `Bearer ${rt.world!.startupKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: LLAMA, messages, max_tokens: 400, stream: true }),
    });
    const reader = res.body!.getReader();
    let received = '';
    while ((received.match(/"content":"[^"]+"/g) ?? []).length < 6) received += new TextDecoder().decode((await reader.read()).value);
    ac.abort();
    const after = await settled();
    const requestId = res.headers.get('x-request-id')!;
    await new Promise((r) => setTimeout(r, 100));
    const rec = await usageRecord(requestId);
    const produced = sim(CIRRUS).stats().tokens.completion;
    // Assess
    expect(rec).toMatchObject({ outcome: 'client_disconnected', estimated: true });
    expect(rec!.completion_tokens).toBeGreaterThanOrEqual(6);
    expect(rec!.completion_tokens).toBeLessThanOrEqual(produced);
    expect(produced).toBeLessThan(400);
    expect(after.spent_micros - before.spent_micros).toBe(expectedCost(CIRRUS, LLAMA, countChatPromptTokens(messages), rec!.completion_tokens));
    expect(sim(CIRRUS).stats().streams.abortedByClient).toBe(1);
  });
});

describe('key policy and credit limits', () => {
  async function newKey(body: Record<string, unknown>) {
    return (await call('POST', '/v1/keys', { key: rt.world!.startupKey, body: { name: 'policy', ...body } })).body as { id: string; key: string };
  }

  it('a model outside the allow-list is 403 model_not_allowed', async () => {
    // Prepare
    const k = await newKey({ models: ['llama-3.1-8b-instruct'] });
    // Act
    const denied = await openai(k.key).chat.completions.create({ model: LLAMA, messages, max_tokens: 5 }).catch((e: unknown) => e);
    const allowed = await openai(k.key).chat.completions.create({ model: 'llama-3.1-8b-instruct', messages, max_tokens: 5 });
    // Assess
    expect(denied).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((denied as InstanceType<typeof OpenAI.APIError>).code).toBe('model_not_allowed');
    expect(allowed.object).toBe('chat.completion');
  });

  it('RPM: the request over the limit gets 429 with Retry-After; TPM: a request larger than the limit is told so', async () => {
    // Prepare
    const k = await newKey({ rpm: 2 });
    const t = await newKey({ tpm: 100 });
    // Act
    const ok1 = await call('POST', '/v1/chat/completions', { key: k.key, body: { model: LLAMA, messages, max_tokens: 5 } });
    const ok2 = await call('POST', '/v1/chat/completions', { key: k.key, body: { model: LLAMA, messages, max_tokens: 5 } });
    const over = await call('POST', '/v1/chat/completions', { key: k.key, body: { model: LLAMA, messages, max_tokens: 5 } });
    const big = await openai(t.key).chat.completions.create({ model: LLAMA, messages, max_tokens: 500 }).catch((e: unknown) => e);
    // Assess
    // Two requests could straddle a minute boundary; then the third is the first of the next window.
    if (over.status !== 200) {
      expect([ok1.status, ok2.status]).toEqual([200, 200]);
      expect(over.status).toBe(429);
      expect(over.body.error).toMatchObject({ type: 'requests', code: 'rate_limit_exceeded' });
      expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(over.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    }
    expect(big).toBeInstanceOf(OpenAI.RateLimitError);
    expect(big).toMatchObject({ type: 'tokens', code: 'rate_limit_exceeded' });
    expect((big as InstanceType<typeof OpenAI.APIError>).message).toContain('Request too large');
  });

  it("a key's budget bounds its spend: 402 key_budget_exceeded once the hold would pass it; the unspent part comes back", async () => {
    // Prepare: the hold of one 100-token request on this model, and a budget for one of them but not two at once
    const k = await newKey({ budget_micros: 3_000 });
    // Act
    const first = await openai(k.key).chat.completions.create({ model: LLAMA, messages, max_tokens: 100 }).withResponse();
    const big = await openai(k.key).chat.completions.create({ model: LLAMA, messages, max_tokens: 5_000 }).catch((e: unknown) => e);
    const listed = (await call('GET', '/v1/keys', { key: rt.world!.startupKey })).body.data.find((x: { id: string }) => x.id === k.id);
    // Assess
    expect(first.response.status).toBe(200);
    expect(big).toBeInstanceOf(OpenAI.APIError);
    expect((big as InstanceType<typeof OpenAI.APIError>).status).toBe(402);
    expect((big as InstanceType<typeof OpenAI.APIError>).code).toBe('key_budget_exceeded');
    expect(listed.budget_left_micros).toBe(3_000 - Number(first.response.headers.get('x-compux-cost-micros')));
  });

  it('403 credits_frozen while the lender has frozen the facility; works again after unfreeze', async () => {
    // Prepare
    const lenderKey = rt.world!.lenderKey!;
    await call('POST', `/v1/facilities/${rt.world!.facilityId}/freeze`, { key: lenderKey, body: { reason: 'covenant breach' } });
    // Act
    const frozen = await ai.chat.completions.create({ model: LLAMA, messages, max_tokens: 5 }).catch((e: unknown) => e);
    await call('POST', `/v1/facilities/${rt.world!.facilityId}/unfreeze`, { key: lenderKey });
    const thawed = await ai.chat.completions.create({ model: LLAMA, messages, max_tokens: 5 });
    // Assess
    expect(frozen).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((frozen as InstanceType<typeof OpenAI.APIError>).code).toBe('credits_frozen');
    expect(thawed.object).toBe('chat.completion');
  });
});

describe('usage', () => {
  it('GET /v1/usage groups the same spend by model, provider, day and key, and its total equals credits spent', async () => {
    // Act
    const spent = (await settled()).spent_micros;
    const by = Object.fromEntries(
      await Promise.all((['model', 'provider', 'day', 'key'] as const).map(async (g) => [g, (await call('GET', `/v1/usage?group_by=${g}`, { key: rt.world!.startupKey })).body])),
    );
    const bad = await call('GET', '/v1/usage?group_by=color', { key: rt.world!.startupKey });
    // Assess
    for (const g of ['model', 'provider', 'day', 'key']) {
      expect(by[g].total.cost_micros).toBe(spent);
      expect(by[g].data.reduce((s: number, x: { cost_micros: number }) => s + x.cost_micros, 0)).toBe(spent);
    }
    expect(by.provider.data.map((x: { group: string }) => x.group)).toEqual(expect.arrayContaining([CIRRUS, AURORA]));
    // The spend fell on the day this file started or, past midnight, on the day after: never a day named by hand.
    const days = by.day.data.map((x: { group: string }) => x.group);
    expect(days.length).toBeGreaterThan(0);
    for (const d of days) expect([STARTED_DAY, nowIso().slice(0, 10)]).toContain(d);
    expect(by.model.total.errors).toBeGreaterThan(0);
    expect(bad.status).toBe(400);
  });
});



// Last in the file: it leaves Cirrus's circuit open for its 30 s.
describe('circuit breaker', () => {
  it('after 5 failures in a row an endpoint is skipped without an attempt, and traffic goes to the next provider', async () => {
    // Prepare
    sim(CIRRUS).setOptions({ fault: 'http_502' });
    sim(CIRRUS).resetStats();
    // Act
    const replies = [];
    for (let i = 0; i < 7; i++) replies.push(await ai.chat.completions.create({ model: LLAMA, messages, max_tokens: 5 }).withResponse());
    // Assess
    expect(replies.map((r) => r.response.headers.get('x-compux-provider'))).toEqual(Array(7).fill(AURORA));
    expect(replies.map((r) => r.response.headers.get('x-compux-attempts'))).toEqual(['2', '2', '2', '2', '2', '1', '1']);
    expect(sim(CIRRUS).stats().byRoute['POST /v1/chat/completions']).toBe(5);
  });
});
