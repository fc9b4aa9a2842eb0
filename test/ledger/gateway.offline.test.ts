/** The request path's pure parts: call figures, the provider SSE reader, catalog offers, usage grouping, rate windows. */
import { describe, expect, it } from 'vitest';
import {
  MAX_EVENT_BYTES, chatExtrasText, chatPromptUpperBound, countChatPromptTokens, countTokens, describeCall, groupUsage, listedModels, offersFor, retryAfterS, sseData, windowStartS,
  type Catalog, type RoutingProvider, type UsageBucket,
} from '../../packages/core/src/index.js';

async function* bytes(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield new TextEncoder().encode(p);
}

async function all(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('describeCall', () => {
  it('chat: the prompt bound covers the estimate; completion is max_tokens × n (max_completion_tokens wins)', () => {
    // Prepare
    const messages = [{ role: 'system', content: 'Be brief. ünïcödé 🚀' }, { role: 'user', content: 'Hello, world!' }];
    // Act
    const c = describeCall('chat', { model: 'm', messages, max_tokens: 100, max_completion_tokens: 50, n: 3, stream: true, stream_options: { include_usage: true } });
    const open = describeCall('chat', { model: 'm', messages });
    // Assess
    expect(c.prompt_tokens_estimate).toBe(countChatPromptTokens(messages));
    expect(c.prompt_tokens_max).toBe(chatPromptUpperBound(messages));
    expect(c.prompt_tokens_max).toBeGreaterThanOrEqual(c.prompt_tokens_estimate);
    expect(c.completion_tokens_max).toBe(150);
    expect(c.sequences).toBe(3);
    expect(c).toMatchObject({ stream: true, include_usage: true });
    expect(open.completion_tokens_max).toBeNull(); // up to the model's context
  });

  it("chat: tools, functions and a JSON response_format are prompt in the bound and the estimate; 'text' adds nothing", () => {
    // Prepare
    const messages = [{ role: 'user', content: 'Weather in Paris?' }];
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const response_format = { type: 'json_schema', json_schema: { name: 'w', schema: { type: 'object' } } };
    // Act
    const bare = describeCall('chat', { model: 'm', messages });
    const full = describeCall('chat', { model: 'm', messages, tools, response_format });
    const text = describeCall('chat', { model: 'm', messages, response_format: { type: 'text' } });
    // Assess
    const extras = `${JSON.stringify(tools)}\n${JSON.stringify(response_format)}`;
    expect(chatExtrasText({ tools, response_format })).toBe(extras);
    expect(full.prompt_tokens_max - bare.prompt_tokens_max).toBe(Buffer.byteLength(extras));
    expect(full.prompt_tokens_estimate - bare.prompt_tokens_estimate).toBe(countTokens(extras));
    expect([text.prompt_tokens_max, text.prompt_tokens_estimate]).toEqual([bare.prompt_tokens_max, bare.prompt_tokens_estimate]);
  });

  it("completions: OpenAI's default of 16 tokens, best_of, echo and several prompts", () => {
    // Act
    const received = { model: 'm', prompt: 'abc' };
    const plain = describeCall('completion', received);
    const many = describeCall('completion', { model: 'm', prompt: ['ab', 'cd'], max_tokens: 10, n: 2, best_of: 3, echo: true });
    const ids = describeCall('completion', { model: 'm', prompt: [1, 2, 3], max_tokens: 5 });
    // Assess
    expect(plain.completion_tokens_max).toBe(16);
    expect(plain.body.max_tokens).toBe(16); // forwarded upstream, so the provider's work matches the hold
    expect(many.completion_tokens_max).toBe((10 * 3 + 4) * 2);
    expect(many.sequences).toBe(3 * 2);
    expect(ids).toMatchObject({ prompt_tokens_max: 3, prompt_tokens_estimate: 3, completion_tokens_max: 5 });
    expect(ids.body.max_tokens).toBe(5);
    expect(received).not.toHaveProperty('max_tokens'); // the request as received (its hash) is untouched
  });

  it('embeddings: no completion, never streamed', () => {
    const e = describeCall('embedding', { model: 'm', input: ['hello world', 'x'], stream: true });
    expect(e).toMatchObject({ stream: false, completion_tokens_max: 0, prompt_tokens_max: 12 });
  });
});

describe('sseData', () => {
  it('reassembles events split across chunks, any line ending, skips comments and other fields', async () => {
    const out = await all(sseData(bytes('data: {"a"', ':1}\n\n: comment\n\nevent: x\r\ndata: two\r\ndata: lines\r\n\r\n', 'data: [DONE]')));
    expect(out).toEqual(['{"a":1}', 'two\nlines', '[DONE]']);
  });

  it('refuses an event that never ends', async () => {
    await expect(all(sseData(bytes('data: ' + 'x'.repeat(MAX_EVENT_BYTES + 10))))).rejects.toThrow(/exceeded/);
  });
});

function provider(id: string, over: Partial<RoutingProvider> = {}): RoutingProvider {
  return {
    id, name: id, status: 'live', sla_tier: 'standard', sla_meeting: true, recent_error_ppm: 0, listed_gpu_hours_month: 1_000,
    endpoints: [{ id: `${id}_e`, url: 'http://x/v1', region: 'r', availability_zone: 'r-a', capacity_type: 'shared', accelerators: ['H100'] }],
    models: [{ model: 'm', kind: 'chat', architecture: 'llama', context_length: 8_000, accelerator: 'H100', prompt_tokens_per_gpu_second: 10, completion_tokens_per_gpu_second: 1 }],
    capacity: [{ accelerator: 'H100', region: 'r', availability_zone: 'r-a', available_gpu_hours: 7 }],
    maintenance: [], updated_at: '2026-01-01T00:00:00Z',
    ...over,
  };
}

describe('catalog', () => {
  it('offers: the model on endpoints carrying its accelerator, with the capacity of that region and zone; none without a spot price', () => {
    // Prepare
    const a100 = provider('b', { models: [{ ...provider('x').models[0]!, accelerator: 'A100' }] });
    const catalog: Catalog = { providers: [provider('a'), a100, provider('c', { status: 'pending_review' })], spot_micros_per_gpu_hour: { H100: 2_000_000 } };
    // Act
    const offers = offersFor(catalog, 'm', 'chat');
    const embeddings = offersFor(catalog, 'm', 'embedding');
    // Assess
    expect(offers.map((o) => [o.provider_id, o.available_gpu_hours, o.spot_micros_per_gpu_hour])).toEqual([['a', 7, 2_000_000], ['c', 7, 2_000_000]]);
    expect(embeddings).toEqual([]);
  });

  it('lists models of live providers only, with the smallest context and every accelerator', () => {
    const catalog: Catalog = {
      providers: [provider('a'), provider('b', { models: [{ ...provider('x').models[0]!, context_length: 4_000, accelerator: 'H200' }] }), provider('c', { status: 'suspended', models: [{ ...provider('x').models[0]!, model: 'hidden' }] })],
      spot_micros_per_gpu_hour: { H100: 1, H200: 1 },
    };
    expect(listedModels(catalog)).toEqual([{ id: 'm', kind: 'chat', context_length: 4_000, accelerators: ['H100', 'H200'], providers: 2 }]);
  });
});

describe('usage and rate windows', () => {
  it('groups buckets and totals them', () => {
    const b = (day: string, model: string, cost: number): UsageBucket => ({
      day, key_id: 'k', provider_id: 'p', model, requests: 1, errors: 0, estimated: 0, prompt_tokens: 1, completion_tokens: 2, gpu_microseconds: 3, cost_micros: cost,
    });
    const { groups, total } = groupUsage([b('2026-01-02', 'x', 5), b('2026-01-01', 'y', 7), b('2026-01-01', 'x', 1)], 'day');
    expect(groups.map((g) => [g.group, g.cost_micros, g.requests])).toEqual([['2026-01-01', 8, 2], ['2026-01-02', 5, 1]]);
    expect(total).toMatchObject({ cost_micros: 13, requests: 3, completion_tokens: 6 });
    expect(groupUsage([b('d', 'x', 5), b('d', 'y', 7)], 'model').groups.map((g) => g.group)).toEqual(['y', 'x']);
  });

  it('windows are whole minutes and Retry-After counts to the next one', () => {
    expect(windowStartS(new Date('2026-01-01T00:00:59.500Z'))).toBe(Date.parse('2026-01-01T00:00:00Z') / 1000);
    expect(retryAfterS(new Date('2026-01-01T00:00:59.500Z'))).toBe(1);
    expect(retryAfterS(new Date('2026-01-01T00:00:00.000Z'))).toBe(60);
    expect(retryAfterS(new Date('2026-01-01T00:00:30.001Z'))).toBe(30);
  });
});
