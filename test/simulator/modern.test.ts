/**
 * The simulator plays a modern model, seen through the official `openai` client: tool calls (tool_choice,
 * parallel_tool_calls, arguments that fit each tool's schema, streamed as OpenAI streams them), a round trip
 * ending in text, response_format (json_object, json_schema), stop sequences and logprobs (chat and legacy),
 * with usage that counts tool-call and JSON tokens by the shared rule.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI, { type APIError } from 'openai';
import { z } from 'zod';
import { chatExtrasText, countChatPromptTokens, countTokens, startSimulator, type Simulator } from '../../packages/simulator/src/index.js';
import { valueForSchema } from '../../packages/simulator/src/json-schema-values.js';

const CHAT = 'llama-3.1-70b-instruct';

let sim: Simulator;
let ai: OpenAI;
beforeAll(async () => {
  sim = await startSimulator({ completionTokens: 24 });
  ai = new OpenAI({ apiKey: 'sk-test', baseURL: sim.url + '/v1', maxRetries: 0, timeout: 10_000, logLevel: 'off' });
});
afterAll(async () => sim?.stop());

const Weather = z.object({
  city: z.string().min(2),
  unit: z.enum(['celsius', 'fahrenheit']),
  days: z.int().min(1).max(7),
  detail: z.object({ hourly: z.boolean(), fields: z.array(z.enum(['wind', 'rain', 'sun'])).min(1) }),
});
const Time = z.object({ zone: z.string(), offset_minutes: z.number().min(-720).max(840) });
const tools: OpenAI.ChatCompletionFunctionTool[] = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather in a city', parameters: z.toJSONSchema(Weather) as Record<string, unknown> } },
  { type: 'function', function: { name: 'get_time', parameters: z.toJSONSchema(Time) as Record<string, unknown> } },
];
const ask: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather and time in Paris?' }];

type Call = { id: string; name: string; arguments: string };
const callsOf = (m: OpenAI.ChatCompletionMessage): Call[] =>
  (m.tool_calls ?? []).map((t) => ({ id: t.id, name: (t as OpenAI.ChatCompletionMessageFunctionToolCall).function.name, arguments: (t as OpenAI.ChatCompletionMessageFunctionToolCall).function.arguments }));

describe('tools', () => {
  it('calls every tool once (parallel by default) with arguments that fit each schema, and bills their tokens', async () => {
    // Act
    const r = await ai.chat.completions.create({ model: CHAT, messages: ask, tools });
    // Assess
    const [choice] = r.choices;
    expect(choice!.finish_reason).toBe('tool_calls');
    expect(choice!.message.content).toBeNull();
    const calls = callsOf(choice!.message);
    expect(calls.map((c) => c.name)).toEqual(['get_weather', 'get_time']);
    expect(Weather.parse(JSON.parse(calls[0]!.arguments))).toBeTruthy();
    expect(Time.parse(JSON.parse(calls[1]!.arguments))).toBeTruthy();
    for (const c of calls) expect(c.id).toMatch(/^call_[A-Za-z0-9]{24}$/);
    const written = calls.reduce((n, c) => n + countTokens(c.name) + countTokens(c.arguments), 0);
    expect(r.usage!.completion_tokens).toBe(written);
    expect(r.usage!.prompt_tokens).toBe(countChatPromptTokens(ask) + countTokens(chatExtrasText({ tools })));
  });

  it('makes one call when parallel_tool_calls is false, the named one under a named tool_choice, none under "none"', async () => {
    // Act
    const single = await ai.chat.completions.create({ model: CHAT, messages: ask, tools, parallel_tool_calls: false });
    const named = await ai.chat.completions.create({ model: CHAT, messages: ask, tools, tool_choice: { type: 'function', function: { name: 'get_time' } } });
    const none = await ai.chat.completions.create({ model: CHAT, messages: ask, tools, tool_choice: 'none' });
    // Assess
    expect(callsOf(single.choices[0]!.message).map((c) => c.name)).toEqual(['get_weather']);
    expect(callsOf(named.choices[0]!.message).map((c) => c.name)).toEqual(['get_time']);
    expect([none.choices[0]!.finish_reason, none.choices[0]!.message.tool_calls, typeof none.choices[0]!.message.content]).toEqual(['stop', undefined, 'string']);
  });

  it('answers a tool result in text under "auto", and still calls under "required"', async () => {
    // Prepare
    const first = await ai.chat.completions.create({ model: CHAT, messages: ask, tools, parallel_tool_calls: false });
    const call = first.choices[0]!.message.tool_calls![0]!;
    const after: OpenAI.ChatCompletionMessageParam[] = [...ask, first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: '{"temp":21}' }];
    // Act
    const auto = await ai.chat.completions.create({ model: CHAT, messages: after, tools });
    const required = await ai.chat.completions.create({ model: CHAT, messages: after, tools, tool_choice: 'required' });
    // Assess
    expect(auto.choices[0]!.finish_reason).toBe('stop');
    expect(auto.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(required.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('streams tool calls as OpenAI does: a head delta per call (index, id, type, name, ""), then argument fragments by index', async () => {
    // Prepare
    const plain = await ai.chat.completions.create({ model: CHAT, messages: ask, tools });
    // Act
    const stream = await ai.chat.completions.create({ model: CHAT, messages: ask, tools, stream: true, stream_options: { include_usage: true } });
    const deltas: OpenAI.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        deltas.push(...(c.delta.tool_calls ?? []));
        finish = c.finish_reason ?? finish;
      }
      usage = chunk.usage ?? usage;
    }
    // Assess
    const heads = deltas.filter((d) => d.id !== undefined);
    expect(heads.map((d) => [d.index, d.type, d.function?.name, d.function?.arguments])).toEqual([[0, 'function', 'get_weather', ''], [1, 'function', 'get_time', '']]);
    const fragments = deltas.filter((d) => d.id === undefined);
    expect(fragments.length).toBeGreaterThan(4);
    expect(fragments.every((d) => d.type === undefined && d.function?.name === undefined)).toBe(true);
    const joined = [0, 1].map((i) => fragments.filter((d) => d.index === i).map((d) => d.function!.arguments).join(''));
    expect(joined).toEqual(callsOf(plain.choices[0]!.message).map((c) => c.arguments));
    expect(finish).toBe('tool_calls');
    expect(usage).toEqual(plain.usage);
  });

  it('refuses a tool_choice without tools and a named function that is not there, as OpenAI does', async () => {
    // Act
    const without = (await ai.chat.completions.create({ model: CHAT, messages: ask, tool_choice: 'auto' }).catch((e: unknown) => e)) as APIError;
    const unknown = (await ai.chat.completions.create({ model: CHAT, messages: ask, tools, tool_choice: { type: 'function', function: { name: 'nope' } } }).catch((e: unknown) => e)) as APIError;
    // Assess
    expect([without.status, without.param, without.code]).toEqual([400, 'tool_choice', 'invalid_value']);
    expect([unknown.status, unknown.param, unknown.code]).toEqual([400, 'tool_choice', 'invalid_value']);
  });
});

describe('structured output', () => {
  it('json_schema: the content is JSON that the schema accepts; json_object: a JSON object; both counted as completion tokens', async () => {
    // Prepare
    const Plan = z.object({ title: z.string(), steps: z.array(z.object({ n: z.int().min(1), text: z.string() })).min(2), ok: z.boolean(), note: z.string().nullable() });
    const schema = z.toJSONSchema(Plan) as Record<string, unknown>;
    // Act
    const structured = await ai.chat.completions.create({ model: CHAT, messages: ask, response_format: { type: 'json_schema', json_schema: { name: 'plan', schema, strict: true } } });
    const object = await ai.chat.completions.create({ model: CHAT, messages: ask, response_format: { type: 'json_object' } });
    // Assess
    const text = structured.choices[0]!.message.content!;
    expect(Plan.parse(JSON.parse(text))).toBeTruthy();
    expect(structured.usage!.completion_tokens).toBe(countTokens(text));
    const parsed = JSON.parse(object.choices[0]!.message.content!) as unknown;
    expect(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)).toBe(true);
  });

  it('writes values that fit $ref, allOf, anyOf, formats, bounds and multipleOf', () => {
    // Prepare
    const schema = {
      type: 'object',
      $defs: { pt: { type: 'object', properties: { x: { type: 'integer', minimum: 3, maximum: 7 }, y: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 } }, required: ['x', 'y'], additionalProperties: false } },
      properties: {
        city: { type: 'string', minLength: 20, maxLength: 30 },
        when: { type: 'string', format: 'date-time' },
        id: { type: 'string', format: 'uuid' },
        maybe: { anyOf: [{ type: 'string' }, { type: 'null' }] },
        both: { allOf: [{ type: 'object', properties: { a: { type: 'boolean' } }, required: ['a'] }, { type: 'object', properties: { b: { const: 5 } }, required: ['b'] }] },
        pts: { type: 'array', items: { $ref: '#/$defs/pt' }, minItems: 3, maxItems: 5 },
        price: { type: 'number', multipleOf: 0.01, minimum: 1, maximum: 2 },
        tags: { type: ['array', 'null'], items: { type: 'string' } },
      },
      required: ['city', 'when', 'id', 'maybe', 'both', 'pts', 'price', 'tags'],
      additionalProperties: false,
    };
    const validator = z.fromJSONSchema(schema as never);
    // Act
    const values = [1, 2, 3, 4, 5].map((seed) => valueForSchema(schema, seed));
    // Assess
    for (const v of values) expect(validator.safeParse(v).error?.issues ?? []).toEqual([]);
    expect(valueForSchema(schema, 7)).toEqual(valueForSchema(schema, 7));
  });
});

describe('stop and logprobs', () => {
  it('cuts the content before the first stop sequence, finish_reason "stop" (chat and completions)', async () => {
    // Prepare: a word from the middle of the reply the same request gets without stop.
    const full = (await ai.chat.completions.create({ model: CHAT, messages: ask, max_tokens: 20 })).choices[0]!.message.content!;
    const word = full.split(' ')[4]!;
    const legacyFull = (await ai.completions.create({ model: CHAT, prompt: 'Once upon a time', max_tokens: 20 })).choices[0]!.text;
    const legacyWord = legacyFull.split(' ')[4]!;
    // Act
    const cut = await ai.chat.completions.create({ model: CHAT, messages: ask, max_tokens: 20, stop: ['zzz-not-there', ` ${word}`] });
    const legacy = await ai.completions.create({ model: CHAT, prompt: 'Once upon a time', max_tokens: 20, stop: ` ${legacyWord}` });
    // Assess
    expect(cut.choices[0]!.message.content).toBe(full.slice(0, full.indexOf(` ${word}`)));
    expect([cut.choices[0]!.finish_reason, cut.usage!.completion_tokens]).toEqual(['stop', countTokens(cut.choices[0]!.message.content!)]);
    expect(legacy.choices[0]!.text).toBe(legacyFull.slice(0, legacyFull.indexOf(` ${legacyWord}`)));
    expect(legacy.choices[0]!.finish_reason).toBe('stop');
  });

  it('gives each content token its logprob, bytes and top_logprobs, whole and per streamed delta', async () => {
    // Act
    const r = await ai.chat.completions.create({ model: CHAT, messages: ask, logprobs: true, top_logprobs: 3 });
    const stream = await ai.chat.completions.create({ model: CHAT, messages: ask, logprobs: true, top_logprobs: 3, stream: true });
    const perDelta: Array<{ content: string; tokens: string[] }> = [];
    for await (const chunk of stream) {
      const c = chunk.choices[0];
      if (c?.delta.content) perDelta.push({ content: c.delta.content, tokens: (c.logprobs?.content ?? []).map((t) => t.token) });
    }
    // Assess
    const entries = r.choices[0]!.logprobs!.content!;
    expect(entries.map((e) => e.token).join('')).toBe(r.choices[0]!.message.content);
    for (const e of entries) {
      expect(e.bytes).toEqual([...Buffer.from(e.token)]);
      expect(e.top_logprobs).toHaveLength(3);
      expect(e.top_logprobs[0]!.token).toBe(e.token);
      const lps = e.top_logprobs.map((t) => t.logprob);
      expect(lps).toEqual([...lps].sort((a, b) => b - a));
      expect(lps.reduce((s, lp) => s + Math.exp(lp), 0)).toBeLessThan(1);
    }
    for (const d of perDelta) expect(d.tokens.join('')).toBe(d.content);
    expect(perDelta.flatMap((d) => d.tokens)).toEqual(entries.map((e) => e.token));
  });

  it('gives legacy completions their logprobs shape (tokens, token_logprobs, top_logprobs, text_offset)', async () => {
    // Act
    const r = await ai.completions.create({ model: CHAT, prompt: 'Once upon a time', max_tokens: 8, logprobs: 2 });
    // Assess
    const lp = r.choices[0]!.logprobs!;
    expect(lp.tokens!.join('')).toBe(r.choices[0]!.text);
    expect(lp.token_logprobs).toHaveLength(8);
    expect(lp.top_logprobs!.every((t) => Object.keys(t).length === 2)).toBe(true);
    expect(lp.text_offset![1]).toBe(lp.tokens![0]!.length);
  });

  it('refuses top_logprobs without logprobs, and more than 20', async () => {
    // Act
    const without = (await ai.chat.completions.create({ model: CHAT, messages: ask, top_logprobs: 2 }).catch((e: unknown) => e)) as APIError;
    const many = (await ai.chat.completions.create({ model: CHAT, messages: ask, logprobs: true, top_logprobs: 21 }).catch((e: unknown) => e)) as APIError;
    // Assess
    expect([without.status, without.param]).toEqual([400, 'top_logprobs']);
    expect([many.status, many.param]).toEqual([400, 'top_logprobs']);
  });
});
