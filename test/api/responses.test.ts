/**
 * The Responses API end to end through the official `openai` client (only baseURL changed), against the local
 * runtime and the demo world's simulated providers: the Response object and its event stream, usage, billing to
 * the micro (the same gateway as chat), storage (previous_response_id, retrieve, delete, store: false, another
 * startup), the request translation (instructions, function call items), and OpenAI's refusals.
 */
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';
import { DEMO_PROVIDERS, DEMO_SPOT } from '../../local/demo.js';
import { chatExtrasText, countChatPromptTokens, countTokens, requestEconomics, type ChatMessageLike } from '../../packages/core/src/index.js';

process.env.COMPUX_UPSTREAM_FIRST_BYTE_TIMEOUT_MS = '1500';

const LLAMA = 'llama-3.1-70b-instruct';
const CIRRUS = 'prv_demoCirrus01';

let rt: TestRuntime;
let call: ReturnType<typeof client>;
let ai: OpenAI;

beforeAll(async () => {
  rt = await startTestRuntime('responses', { demo: {} });
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

function expectedCost(providerId: string, prompt: number, completion: number): number {
  const p = DEMO_PROVIDERS.find((x) => x.id === providerId)!;
  const m = p.models.find((x) => x.model === LLAMA)!;
  return requestEconomics(prompt, completion, m, DEMO_SPOT[p.accelerator]).cost_micros;
}

async function credits(key = rt.world!.startupKey) {
  return (await call('GET', '/v1/credits', { key })).body as { available_micros: number; reserved_micros: number; spent_micros: number };
}

async function settled(key = rt.world!.startupKey) {
  for (let i = 0; i < 100; i++) {
    const c = await credits(key);
    if (c.reserved_micros === 0) return c;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('a hold stayed open');
}

/** A stored response is written just after the reply: retrieve until it is there (bounded). */
async function retrieved(id: string, client = ai) {
  for (let i = 0; ; i++) {
    try {
      return await client.responses.retrieve(id);
    } catch (err) {
      if (!(err instanceof OpenAI.NotFoundError) || i >= 40) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

const textOf = (r: OpenAI.Responses.Response) => r.output.flatMap((i) => (i.type === 'message' ? i.content : [])).map((c) => (c.type === 'output_text' ? c.text : '')).join('');

/** Reads a Responses stream: every event in order, and the error if it broke. */
async function events(stream: AsyncIterable<OpenAI.Responses.ResponseStreamEvent>) {
  const seen: OpenAI.Responses.ResponseStreamEvent[] = [];
  try {
    for await (const e of stream) seen.push(e);
    return { seen, err: null as unknown };
  } catch (err) {
    return { seen, err };
  }
}

describe('POST /v1/responses, whole', () => {
  it('answers a Response with an assistant message and usage, and credits fall by exactly the billed cost', async () => {
    // Prepare
    const before = await settled();
    // Act
    const { data, response } = await ai.responses.create({ model: LLAMA, input: 'Tell me about GPU markets.', max_output_tokens: 40 }).withResponse();
    const after = await credits();
    // Assess
    expect(data).toMatchObject({ object: 'response', status: 'completed', model: LLAMA, error: null, incomplete_details: null, store: true, max_output_tokens: 40 });
    expect(data.id).toMatch(/^resp_/);
    expect(data.output).toHaveLength(1);
    expect(data.output[0]).toMatchObject({ type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', annotations: [] }] });
    expect(data.output_text.length).toBeGreaterThan(0);
    expect(data.usage).toEqual({
      input_tokens: countChatPromptTokens([{ role: 'user', content: 'Tell me about GPU markets.' }]), input_tokens_details: { cached_tokens: 0 },
      output_tokens: countTokens(data.output_text), output_tokens_details: { reasoning_tokens: 0 }, total_tokens: data.usage!.input_tokens + data.usage!.output_tokens,
    });
    const cost = expectedCost(response.headers.get('x-compux-provider')!, data.usage!.input_tokens, data.usage!.output_tokens);
    expect(cost).toBeGreaterThan(0);
    expect(Number(response.headers.get('x-compux-cost-micros'))).toBe(cost);
    expect(after.spent_micros - before.spent_micros).toBe(cost);
    expect(after.reserved_micros).toBe(0);
  });

  it('instructions reach the provider as a system message (the billed prompt counts them)', async () => {
    // Prepare
    const instructions = 'You answer in one short sentence about compute.';
    // Act
    const r = await ai.responses.create({ model: LLAMA, instructions, input: 'What is a GPU-hour?', max_output_tokens: 16 });
    // Assess
    expect(r.instructions).toBe(instructions);
    expect(r.usage!.input_tokens).toBe(countChatPromptTokens([{ role: 'system', content: instructions }, { role: 'user', content: 'What is a GPU-hour?' }]));
  });

  it('a length cut is status "incomplete" with incomplete_details.reason max_output_tokens', async () => {
    // Prepare
    for (const s of rt.world!.simulators.values()) s.setOptions({ completionTokens: 64 });
    // Act
    const r = await ai.responses.create({ model: LLAMA, input: 'Write at length.', max_output_tokens: 16 });
    // Assess
    expect(r.status).toBe('incomplete');
    expect(r.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(r.usage!.output_tokens).toBe(16);
    expect(r.output[0]).toMatchObject({ type: 'message', status: 'incomplete' });
  });

  it('input items: function_call and function_call_output reach the provider as the assistant tool call and the tool message', async () => {
    // Prepare
    const input: OpenAI.Responses.ResponseInputItem[] = [
      { role: 'user', content: [{ type: 'input_text', text: 'What is the H100 spot price?' }] },
      { type: 'function_call', call_id: 'call_spot1', name: 'spot_price', arguments: '{"accelerator":"H100"}' },
      { type: 'function_call_output', call_id: 'call_spot1', output: '{"usd_per_hour":2.1}' },
    ];
    const asChat: ChatMessageLike[] = [
      { role: 'user', content: 'What is the H100 spot price?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_spot1', type: 'function', function: { name: 'spot_price', arguments: '{"accelerator":"H100"}' } }] },
      { role: 'tool', content: '{"usd_per_hour":2.1}' },
    ];
    const parameters = { type: 'object', properties: { accelerator: { type: 'string' } } };
    // The tool as chat carries it: its definition is prompt text too (the provider counts it, as OpenAI does).
    const chatTools = [{ type: 'function', function: { name: 'spot_price', parameters, strict: false } }];
    // Act
    const r = await ai.responses.create({ model: LLAMA, input, max_output_tokens: 16, tools: [{ type: 'function', name: 'spot_price', parameters, strict: false }] });
    // Assess
    expect(r.status).toBe('completed');
    expect(r.usage!.input_tokens).toBe(countChatPromptTokens(asChat) + countTokens(chatExtrasText({ tools: chatTools })));
    expect(r.tools).toMatchObject([{ type: 'function', name: 'spot_price', strict: false }]);
  });
});

describe('POST /v1/responses, streamed', () => {
  it("emits OpenAI's events in order with sequence numbers, the text in deltas, usage in response.completed, billed exactly", async () => {
    // Prepare
    const before = await settled();
    // Act
    const { seen, err } = await events(await ai.responses.create({ model: LLAMA, input: 'Stream me a line about GPUs.', max_output_tokens: 30, stream: true }));
    const after = await settled();
    // Assess
    expect(err).toBeNull();
    const deltas = seen.filter((e) => e.type === 'response.output_text.delta');
    const types = [...new Set(seen.map((e) => e.type))];
    expect(types).toEqual([
      'response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added', 'response.output_text.delta',
      'response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed',
    ]);
    expect(seen.map((e) => e.sequence_number)).toEqual(seen.map((_, i) => i));
    const text = deltas.map((e) => e.delta).join('');
    const done = seen.find((e) => e.type === 'response.output_text.done')!;
    const completed = seen.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    expect(done).toMatchObject({ text, output_index: 0, content_index: 0 });
    expect(completed.response).toMatchObject({ status: 'completed', output: [{ type: 'message', content: [{ type: 'output_text', text }] }] });
    expect(completed.response.usage!.output_tokens).toBe(countTokens(text));
    expect(after.spent_micros - before.spent_micros).toBe(expectedCost(CIRRUS, completed.response.usage!.input_tokens, completed.response.usage!.output_tokens));
  });

  it('every event of one item names the same item id, the one response.output_item.added gave', async () => {
    // Act
    const { seen } = await events(await ai.responses.create({ model: LLAMA, input: 'Hello.', max_output_tokens: 20, stream: true }));
    // Assess
    const added = seen.find((e) => e.type === 'response.output_item.added') as OpenAI.Responses.ResponseOutputItemAddedEvent;
    const ids = seen.filter((e) => 'item_id' in e).map((e) => (e as { item_id: string }).item_id);
    expect(ids.length).toBeGreaterThan(3);
    expect(new Set(ids)).toEqual(new Set([added.item.id]));
    expect(seen.find((e) => e.type === 'response.created')).toMatchObject({ response: { id: expect.stringMatching(/^resp_/), status: 'in_progress', output: [] } });
  });

  it('a length cut ends with response.incomplete (reason max_output_tokens)', async () => {
    // Prepare
    for (const s of rt.world!.simulators.values()) s.setOptions({ completionTokens: 64 });
    // Act
    const { seen, err } = await events(await ai.responses.create({ model: LLAMA, input: 'Write at length.', max_output_tokens: 16, stream: true }));
    // Assess
    expect(err).toBeNull();
    expect(seen.at(-1)).toMatchObject({ type: 'response.incomplete', response: { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, usage: { output_tokens: 16 } } });
  });

  it('a provider failing after the first byte ends the stream with response.failed, billed for what was produced', async () => {
    // Prepare
    for (const s of rt.world!.simulators.values()) s.setOptions({ fault: 'reset_after_frames:4', completionTokens: 50 });
    const before = await settled();
    const input = 'Tell me a long story.';
    // Act
    const { seen, err } = await events(await ai.responses.create({ model: LLAMA, input, max_output_tokens: 50, stream: true }));
    const after = await settled();
    // Assess
    expect(err).toBeNull();
    const failed = seen.at(-1) as OpenAI.Responses.ResponseFailedEvent;
    expect(failed).toMatchObject({ type: 'response.failed', response: { status: 'failed', error: { code: 'server_error', message: expect.stringMatching(/mid-stream/) } } });
    const text = seen.filter((e) => e.type === 'response.output_text.delta').map((e) => (e as OpenAI.Responses.ResponseTextDeltaEvent).delta).join('');
    expect(countTokens(text)).toBeGreaterThan(0);
    expect(after.spent_micros - before.spent_micros).toBe(expectedCost(CIRRUS, countChatPromptTokens([{ role: 'user', content: input }]), countTokens(text)));
  });
});

describe('stored responses', () => {
  it('retrieve answers the stored Response, the same as created', async () => {
    // Prepare
    const created = await ai.responses.create({ model: LLAMA, input: 'Remember this.', max_output_tokens: 16, metadata: { ticket: 'T-1' } });
    // Act
    const got = await retrieved(created.id);
    // Assess
    expect(got).toMatchObject({ id: created.id, status: 'completed', output: created.output, usage: created.usage, metadata: { ticket: 'T-1' } });
  });

  it('a streamed response is stored too', async () => {
    // Prepare
    const { seen } = await events(await ai.responses.create({ model: LLAMA, input: 'Stream and store.', max_output_tokens: 16, stream: true }));
    const completed = seen.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    // Act
    const got = await retrieved(completed.response.id);
    // Assess
    expect(got).toMatchObject({ id: completed.response.id, output: completed.response.output, usage: completed.response.usage });
  });

  it('previous_response_id prepends the stored conversation: its input and its output', async () => {
    // Prepare
    const first = await ai.responses.create({ model: LLAMA, input: 'My name is Ada.', max_output_tokens: 16 });
    await retrieved(first.id);
    // Act
    const second = await ai.responses.create({ model: LLAMA, input: 'What is my name?', previous_response_id: first.id, max_output_tokens: 16 });
    // Assess
    expect(second.previous_response_id).toBe(first.id);
    expect(second.usage!.input_tokens).toBe(countChatPromptTokens([
      { role: 'user', content: 'My name is Ada.' }, { role: 'assistant', content: first.output_text }, { role: 'user', content: 'What is my name?' },
    ]));
  });

  it('a chain of three carries the whole conversation', async () => {
    // Prepare
    const a = await ai.responses.create({ model: LLAMA, input: 'One.', max_output_tokens: 16 });
    await retrieved(a.id);
    const b = await ai.responses.create({ model: LLAMA, input: 'Two.', previous_response_id: a.id, max_output_tokens: 16 });
    await retrieved(b.id);
    // Act
    const c = await ai.responses.create({ model: LLAMA, input: 'Three.', previous_response_id: b.id, max_output_tokens: 16 });
    // Assess
    expect(c.usage!.input_tokens).toBe(countChatPromptTokens([
      { role: 'user', content: 'One.' }, { role: 'assistant', content: a.output_text }, { role: 'user', content: 'Two.' }, { role: 'assistant', content: b.output_text }, { role: 'user', content: 'Three.' },
    ]));
  });

  it('an item_reference to a stored output item stands for that item', async () => {
    // Prepare
    const first = await ai.responses.create({ model: LLAMA, input: 'Say something.', max_output_tokens: 16 });
    await retrieved(first.id);
    // Act
    const r = await ai.responses.create({ model: LLAMA, input: [{ type: 'item_reference', id: first.output[0]!.id! }, { role: 'user', content: 'Again.' }], max_output_tokens: 16 });
    // Assess
    expect(r.usage!.input_tokens).toBe(countChatPromptTokens([{ role: 'assistant', content: first.output_text }, { role: 'user', content: 'Again.' }]));
  });

  it('store: false is not stored: retrieve answers 404 and previous_response_id is refused', async () => {
    // Prepare
    const r = await ai.responses.create({ model: LLAMA, input: 'Forget this.', max_output_tokens: 16, store: false });
    await new Promise((res) => setTimeout(res, 200));
    // Act
    const got = await ai.responses.retrieve(r.id).catch((e: unknown) => e);
    const next = await ai.responses.create({ model: LLAMA, input: 'And?', previous_response_id: r.id, max_output_tokens: 16 }).catch((e: unknown) => e);
    // Assess
    // OpenAI echoes `store` on the Response (the client's type does not declare it).
    expect((r as unknown as { store: boolean }).store).toBe(false);
    expect(got).toBeInstanceOf(OpenAI.NotFoundError);
    expect((got as InstanceType<typeof OpenAI.NotFoundError>).error).toMatchObject({ type: 'invalid_request_error', code: 'response_not_found' });
    expect(next).toBeInstanceOf(OpenAI.BadRequestError);
    expect((next as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({ code: 'previous_response_not_found', param: 'previous_response_id' });
  });

  it("another startup cannot read, continue or delete a startup's response (404 / 400, as if it did not exist)", async () => {
    // Prepare
    const mine = await ai.responses.create({ model: LLAMA, input: 'Private.', max_output_tokens: 16 });
    await retrieved(mine.id);
    const other = openai(await otherStartupKey());
    // Act
    const got = await other.responses.retrieve(mine.id).catch((e: unknown) => e);
    const del = await other.responses.delete(mine.id).catch((e: unknown) => e);
    const next = await other.responses.create({ model: LLAMA, input: 'Mine now?', previous_response_id: mine.id, max_output_tokens: 16 }).catch((e: unknown) => e);
    // Assess
    expect(got).toBeInstanceOf(OpenAI.NotFoundError);
    expect(del).toBeInstanceOf(OpenAI.NotFoundError);
    expect((next as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({ code: 'previous_response_not_found' });
    expect((await ai.responses.retrieve(mine.id)).id).toBe(mine.id);
  });

  it('delete removes it: retrieve then answers 404, a second delete too', async () => {
    // Prepare
    const r = await ai.responses.create({ model: LLAMA, input: 'Delete me.', max_output_tokens: 16 });
    await retrieved(r.id);
    // Act
    const first = await call('DELETE', `/v1/responses/${r.id}`, { key: rt.world!.startupKey });
    const second = await call('DELETE', `/v1/responses/${r.id}`, { key: rt.world!.startupKey });
    const got = await ai.responses.retrieve(r.id).catch((e: unknown) => e);
    // Assess
    expect(first).toMatchObject({ status: 200, body: { id: r.id, object: 'response', deleted: true } });
    expect(second.status).toBe(404);
    expect(got).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('the stored item expires 30 days after creation (its DynamoDB TTL)', async () => {
    // Prepare
    const r = await ai.responses.create({ model: LLAMA, input: 'TTL.', max_output_tokens: 16 });
    await retrieved(r.id);
    // Act
    const { GetCommand } = await import('@aws-sdk/lib-dynamodb');
    const item = (await rt.doc.send(new GetCommand({ TableName: rt.tableName, Key: { pk: `RESP#${rt.world!.startupId}#${r.id}`, sk: 'RESP' } }))).Item!;
    // Assess
    expect(item.ttl).toBe(r.created_at + 30 * 86_400);
  });
});

async function otherStartupKey(): Promise<string> {
  const s = (await call('POST', '/v1/admin/startups', { key: rt.adminKey, body: { name: 'Other Co', segment: 'seed' } })).body.id as string;
  const lender = (await call('POST', '/v1/admin/lenders', { key: rt.adminKey, body: { name: 'Other lender' } })).body;
  const f = await call('POST', '/v1/facilities', { key: lender.key, body: { startup_id: s, principal_micros: 100_000_000, multiplier: 1.25, term_months: 12, origination_fee_bps: 200, servicing_fee_bps: 75 } });
  expect(f.status).toBe(201);
  return (await call('POST', `/v1/admin/startups/${s}/keys`, { key: rt.adminKey, body: { name: 'other' } })).body.key as string;
}

describe("refusals, in OpenAI's shape", () => {
  it.each([
    ['a hosted tool', 'invalid_value', 'tools[0].type', { tools: [{ type: 'web_search' }] }],
    ['an unknown parameter', 'unknown_parameter', 'frobnicate', { frobnicate: true }],
    ['background mode', 'unsupported_parameter', 'background', { background: true }],
    ['max_output_tokens under 16', 'integer_below_min_value', 'max_output_tokens', { max_output_tokens: 8 }],
    ['temperature over 2', 'decimal_above_max_value', 'temperature', { temperature: 5 }],
    ['an input item of an unserved type', 'invalid_value', 'input[0].type', { input: [{ type: 'computer_call_output', call_id: 'c' }] }],
    ['no input', 'missing_required_parameter', 'input', { input: undefined }],
  ] as const)('%s: 400 %s naming %s, nothing billed', async (_what, code, param, extra) => {
    // Prepare
    const before = await settled();
    // Act
    const r = await call('POST', '/v1/responses', { key: rt.world!.startupKey, body: { model: LLAMA, input: 'hi', ...extra } });
    const after = await settled();
    // Assess
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', code, param });
    expect(after.spent_micros).toBe(before.spent_micros);
  });

  it('a conversation too large to store is refused before anything is held (send store: false)', async () => {
    // Prepare
    const before = await settled();
    const input = 'gpu '.repeat(70_000); // 280,000 bytes: over the 256 KB a stored conversation may hold
    // Act
    const r = await call('POST', '/v1/responses', { key: rt.world!.startupKey, body: { model: LLAMA, input, max_output_tokens: 16 } });
    const after = await settled();
    // Assess
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_value', param: 'input', message: expect.stringMatching(/store": false/) });
    expect(after.spent_micros).toBe(before.spent_micros);
  });

  it('an unknown model is the one model not-found (404 model_not_found)', async () => {
    // Act
    const err = await ai.responses.create({ model: 'no-such-model', input: 'hi' }).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).error).toMatchObject({ code: 'model_not_found', param: 'model' });
  });

  it('a malformed or unknown response id: 404 response_not_found', async () => {
    // Act
    const unknown = await call('GET', '/v1/responses/resp_QQQQQQQQQQQQQQQQQQQQ', { key: rt.world!.startupKey });
    const malformed = await call('GET', '/v1/responses/nope', { key: rt.world!.startupKey });
    // Assess
    expect(unknown).toMatchObject({ status: 404, body: { error: { type: 'invalid_request_error', code: 'response_not_found' } } });
    expect(malformed).toMatchObject({ status: 404, body: { error: { type: 'invalid_request_error', code: 'response_not_found' } } });
  });
});
