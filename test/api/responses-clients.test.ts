/**
 * The Responses API through the client libraries startups use, changed only in their base URL and key: the Vercel AI
 * SDK's default `openai(model)` (which speaks the Responses API) with generateText and streamText, a multi-turn
 * conversation the SDK continues with `item_reference`s to stored items, and LangChain's ChatOpenAI with
 * `useResponsesApi: true`. Each reply's usage is what the credits fall by. Then a first proof of tool calls and JSON on
 * this API; each client's tool round trips and structured output, streamed and not, are in responses-{openai,vercel,langchain}.test.ts.
 */
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, jsonSchema, stepCountIs, streamText, tool, type ModelMessage } from 'ai';
import OpenAI from 'openai';
import { ChatOpenAI } from '@langchain/openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';
import { DEMO_PROVIDERS, DEMO_SPOT } from '../../local/demo.js';
import { countChatPromptTokens, countTokens, requestEconomics } from '../../packages/core/src/index.js';

process.env.COMPUX_UPSTREAM_FIRST_BYTE_TIMEOUT_MS = '1500';

const LLAMA = 'llama-3.1-70b-instruct';
/** The cheapest provider of the model in the demo world: every request here is served there. */
const CIRRUS = 'prv_demoCirrus01';

let rt: TestRuntime;
let call: ReturnType<typeof client>;

beforeAll(async () => {
  rt = await startTestRuntime('responses-clients', { demo: {} });
  call = client(rt.baseUrl);
});
afterAll(async () => rt?.stop());

function expectedCost(prompt: number, completion: number): number {
  const p = DEMO_PROVIDERS.find((x) => x.id === CIRRUS)!;
  const m = p.models.find((x) => x.model === LLAMA)!;
  return requestEconomics(prompt, completion, m, DEMO_SPOT[p.accelerator]).cost_micros;
}

async function settled() {
  for (let i = 0; i < 100; i++) {
    const c = (await call('GET', '/v1/credits', { key: rt.world!.startupKey })).body as { reserved_micros: number; spent_micros: number };
    if (c.reserved_micros === 0) return c;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('a hold stayed open');
}

/** The request bodies the SDK sent, when asked to keep them. */
const sent: Record<string, unknown>[] = [];
const keepBody: typeof fetch = async (url, init) => {
  if (typeof init?.body === 'string') sent.push(JSON.parse(init.body) as Record<string, unknown>);
  return fetch(url, init);
};

const vercel = () => createOpenAI({ baseURL: `${rt.baseUrl}/v1`, apiKey: rt.world!.startupKey, fetch: keepBody });

describe('Vercel AI SDK, default openai(model): the Responses API', () => {
  it('generateText: text, usage, the response id, and the credits fall by the billed cost', async () => {
    // Prepare
    const before = await settled();
    const prompt = 'Tell me about GPU markets.';
    // Act
    const r = await generateText({ model: vercel()(LLAMA), prompt, maxOutputTokens: 30 });
    const after = await settled();
    // Assess
    expect(r.text.length).toBeGreaterThan(0);
    expect(r.finishReason).toBe('stop');
    expect(r.usage.inputTokens).toBe(countChatPromptTokens([{ role: 'user', content: prompt }]));
    expect(r.usage.outputTokens).toBe(countTokens(r.text));
    expect(r.providerMetadata?.openai?.responseId).toMatch(/^resp_/);
    expect(Number(r.response.headers?.['x-compux-cost-micros'])).toBe(expectedCost(r.usage.inputTokens!, r.usage.outputTokens!));
    expect(after.spent_micros - before.spent_micros).toBe(expectedCost(r.usage.inputTokens!, r.usage.outputTokens!));
  });

  it('streamText: the streamed text, usage at the end, billed exactly', async () => {
    // Prepare
    const before = await settled();
    // Act
    const r = streamText({ model: vercel()(LLAMA), prompt: 'Stream a line about GPUs.', maxOutputTokens: 30 });
    let text = '';
    for await (const part of r.textStream) text += part;
    const usage = await r.usage;
    const after = await settled();
    // Assess
    expect(text.length).toBeGreaterThan(0);
    expect(await r.finishReason).toBe('stop');
    expect(usage.outputTokens).toBe(countTokens(text));
    expect(after.spent_micros - before.spent_micros).toBe(expectedCost(usage.inputTokens!, usage.outputTokens!));
  });

  it('a second turn: the SDK refers to its stored reply by item_reference, and the provider gets the whole conversation', async () => {
    // Prepare
    const messages: ModelMessage[] = [{ role: 'user', content: 'My name is Ada.' }];
    const first = await generateText({ model: vercel()(LLAMA), messages, maxOutputTokens: 20 });
    messages.push(...first.response.messages, { role: 'user', content: 'What is my name?' });
    await new Promise((r) => setTimeout(r, 100));
    // Act
    const second = await generateText({ model: vercel()(LLAMA), messages, maxOutputTokens: 20 });
    // Assess
    expect(sent.at(-1)!.input).toEqual([
      { role: 'user', content: [{ type: 'input_text', text: 'My name is Ada.' }] },
      // The first reply's message: output item 0 of its response.
      { type: 'item_reference', id: `msg_${String(first.providerMetadata?.openai?.responseId).slice('resp_'.length)}_0` },
      { role: 'user', content: [{ type: 'input_text', text: 'What is my name?' }] },
    ]);
    expect(second.usage.inputTokens).toBe(countChatPromptTokens([
      { role: 'user', content: 'My name is Ada.' }, { role: 'assistant', content: first.text }, { role: 'user', content: 'What is my name?' },
    ]));
  });

  it('a length cut is finishReason "length"', async () => {
    // Prepare
    for (const s of rt.world!.simulators.values()) s.setOptions({ completionTokens: 64 });
    // Act
    const r = await generateText({ model: vercel()(LLAMA), prompt: 'Write at length.', maxOutputTokens: 16 }).finally(() => {
      for (const s of rt.world!.simulators.values()) s.setOptions({ completionTokens: 16 });
    });
    // Assess
    expect(r.finishReason).toBe('length');
    expect(r.usage.outputTokens).toBe(16);
  });
});

describe('LangChain ChatOpenAI with useResponsesApi', () => {
  const chat = () => new ChatOpenAI({ model: LLAMA, apiKey: rt.world!.startupKey, configuration: { baseURL: `${rt.baseUrl}/v1` }, useResponsesApi: true, maxTokens: 30, maxRetries: 0 });

  it('invoke: the reply and its usage metadata, billed exactly', async () => {
    // Prepare
    const before = await settled();
    // Act
    const m = await chat().invoke('Tell me about GPU markets.');
    const after = await settled();
    // Assess
    expect(typeof m.text).toBe('string');
    expect(m.text.length).toBeGreaterThan(0);
    expect(m.usage_metadata).toMatchObject({ input_tokens: countChatPromptTokens([{ role: 'user', content: 'Tell me about GPU markets.' }]), output_tokens: countTokens(m.text) });
    expect(m.response_metadata?.id ?? m.id).toMatch(/^(resp|msg)_/);
    expect(after.spent_micros - before.spent_micros).toBe(expectedCost(m.usage_metadata!.input_tokens, m.usage_metadata!.output_tokens));
  });

  it('stream: the chunks make the text, and the last carries the usage', async () => {
    // Prepare
    const before = await settled();
    // Act
    let text = '';
    let usage: { input_tokens: number; output_tokens: number } | undefined;
    for await (const chunk of await chat().stream('Stream a line about GPUs.')) {
      text += chunk.text;
      if (chunk.usage_metadata) usage = chunk.usage_metadata;
    }
    const after = await settled();
    // Assess
    expect(text.length).toBeGreaterThan(0);
    expect(usage?.output_tokens).toBe(countTokens(text));
    expect(after.spent_micros - before.spent_micros).toBe(expectedCost(usage!.input_tokens, usage!.output_tokens));
  });
});

const SPOT_PARAMETERS = { type: 'object', properties: { accelerator: { type: 'string' } }, required: ['accelerator'], additionalProperties: false };
const SPOT_TOOL_CHAT = { type: 'function', function: { name: 'spot_price', description: 'The spot price of an accelerator', parameters: SPOT_PARAMETERS } };
const QUOTE_SCHEMA = { type: 'object', properties: { accelerator: { type: 'string' }, usd_per_hour: { type: 'number' } }, required: ['accelerator', 'usd_per_hour'], additionalProperties: false };

describe('tool calls and structured output on the Responses API', () => {
  it('official client, streamed: a forced function call arrives as function_call events, its arguments in deltas, billed exactly', async () => {
    // Prepare
    const ai = new OpenAI({ apiKey: rt.world!.startupKey, baseURL: `${rt.baseUrl}/v1`, maxRetries: 0 });
    const before = await settled();
    // Act
    const stream = await ai.responses.create({ model: LLAMA, input: 'Price of an H100?', stream: true, max_output_tokens: 64, tool_choice: 'required', tools: [{ type: 'function', name: 'spot_price', parameters: SPOT_PARAMETERS, strict: true }] });
    const seen: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const e of stream) seen.push(e);
    const after = await settled();
    // Assess
    const added = seen.find((e) => e.type === 'response.output_item.added' && e.item.type === 'function_call') as OpenAI.Responses.ResponseOutputItemAddedEvent;
    const deltas = seen.filter((e) => e.type === 'response.function_call_arguments.delta').map((e) => (e as OpenAI.Responses.ResponseFunctionCallArgumentsDeltaEvent).delta).join('');
    const done = seen.find((e) => e.type === 'response.function_call_arguments.done') as OpenAI.Responses.ResponseFunctionCallArgumentsDoneEvent;
    const completed = seen.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    expect(added.item).toMatchObject({ type: 'function_call', name: 'spot_price' });
    expect(done.arguments).toBe(deltas);
    expect(JSON.parse(done.arguments)).toHaveProperty('accelerator');
    expect(completed.response.output.find((i) => i.type === 'function_call')).toMatchObject({ call_id: (added.item as { call_id: string }).call_id, arguments: deltas });
    expect(after.spent_micros - before.spent_micros).toBe(expectedCost(completed.response.usage!.input_tokens, completed.response.usage!.output_tokens));
  });

  it('Vercel AI SDK: a tool round trip (the call, its result sent back as function_call_output, the answer)', async () => {
    // Prepare
    const spot = tool({ description: 'The spot price of an accelerator', inputSchema: jsonSchema<{ accelerator: string }>(SPOT_PARAMETERS as never), execute: async () => ({ usd_per_hour: 2.1 }) });
    // Act
    const r = await generateText({ model: vercel()(LLAMA), prompt: 'Price of an H100?', tools: { spot_price: spot }, stopWhen: stepCountIs(2), maxOutputTokens: 64 });
    // Assess
    expect(r.steps.map((s) => s.finishReason)).toEqual(['tool-calls', 'stop']);
    expect(r.steps[0]!.toolCalls.length).toBeGreaterThan(0);
    expect(r.text.length).toBeGreaterThan(0);
    expect(sent.at(-1)!.input).toEqual(expect.arrayContaining([
      expect.objectContaining({ type: 'function_call', name: 'spot_price' }),
      expect.objectContaining({ type: 'function_call_output', call_id: r.steps[0]!.toolCalls[0]!.toolCallId }),
    ]));
  });

  it('official client: text.format json_schema gives JSON that fits the schema', async () => {
    // Act
    const r = await new OpenAI({ apiKey: rt.world!.startupKey, baseURL: `${rt.baseUrl}/v1`, maxRetries: 0 }).responses.create({
      model: LLAMA, input: 'Quote an H100.', max_output_tokens: 64, text: { format: { type: 'json_schema', name: 'quote', schema: QUOTE_SCHEMA, strict: true } },
    });
    // Assess
    const quote = JSON.parse(r.output_text) as Record<string, unknown>;
    expect(typeof quote.accelerator).toBe('string');
    expect(typeof quote.usd_per_hour).toBe('number');
  });
});
