/**
 * Tools, structured output, stop and logprobs through the gateway with the official `openai` client (only its
 * base URL changed), against the local runtime's simulated providers: the tool round trip streamed and not,
 * parallel calls, `parse` with a zod response format, the streamed tool-call deltas surviving the relay and its
 * metering (with the provider's usage and, when the provider sends none, counted from the arguments), and
 * OpenAI's 400s for the new parameters' bounds, refused before any provider is called.
 */
import OpenAI, { type APIError } from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { countTokens } from '../../packages/core/src/index.js';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { billed, LLAMA, officialClient, Recipe, Recorder, recordsOf, settledCredits, TimeArgs, timeOf, WeatherArgs, weatherOf } from './clients-kit.js';
import { z } from 'zod';

let rt: TestRuntime;
let recorder: Recorder;
let ai: OpenAI;

beforeAll(async () => {
  rt = await startTestRuntime('clients-openai', { demo: {} });
  recorder = new Recorder();
  ai = officialClient(rt, recorder);
});
afterAll(async () => rt?.stop());
afterEach(() => {
  for (const s of rt.world!.simulators.values()) s.setOptions({ fault: null });
});

const tools: OpenAI.ChatCompletionFunctionTool[] = [
  { type: 'function', function: { name: 'get_weather', description: 'Forecast for a city', parameters: z.toJSONSchema(WeatherArgs) as Record<string, unknown> } },
  { type: 'function', function: { name: 'get_time', description: 'Local time in a zone', parameters: z.toJSONSchema(TimeArgs) as Record<string, unknown> } },
];
const question: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is the weather and the time in Lisbon?' }];

/** Runs the tools a message calls, checking each call's arguments against its schema: the tool messages. */
function runTools(message: OpenAI.ChatCompletionMessage): OpenAI.ChatCompletionToolMessageParam[] {
  return (message.tool_calls ?? []).map((raw) => {
    const call = raw as OpenAI.ChatCompletionMessageFunctionToolCall;
    const args = JSON.parse(call.function.arguments) as unknown;
    const result = call.function.name === 'get_weather' ? weatherOf(WeatherArgs.parse(args)) : timeOf(TimeArgs.parse(args));
    return { role: 'tool', tool_call_id: call.id, content: JSON.stringify(result) };
  });
}

describe('tool round trips', () => {
  it('call → tool result → final text, not streamed, billed per request', async () => {
    // Act
    const { value, bill } = await billed(rt, recorder, async () => {
      const first = await ai.chat.completions.create({ model: LLAMA, messages: question, tools, parallel_tool_calls: false });
      const results = runTools(first.choices[0]!.message);
      const final = await ai.chat.completions.create({ model: LLAMA, messages: [...question, first.choices[0]!.message, ...results], tools });
      return { first, results, final };
    });
    // Assess
    expect(value.first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(value.results).toHaveLength(1);
    expect(value.final.choices[0]!.finish_reason).toBe('stop');
    expect(value.final.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(bill.prompt_tokens).toBe(value.first.usage!.prompt_tokens + value.final.usage!.prompt_tokens);
    expect(bill.completion_tokens).toBe(value.first.usage!.completion_tokens + value.final.usage!.completion_tokens);
  });

  it('streamed: parallel calls assembled by the client from the relayed deltas, then the streamed answer', async () => {
    // Act
    const { value, bill } = await billed(rt, recorder, async () => {
      const first = await ai.chat.completions.stream({ model: LLAMA, messages: question, tools, stream_options: { include_usage: true } }).finalChatCompletion();
      const results = runTools(first.choices[0]!.message);
      const final = await ai.chat.completions.stream({ model: LLAMA, messages: [...question, first.choices[0]!.message, ...results], tools, stream_options: { include_usage: true } }).finalChatCompletion();
      return { first, results, final };
    });
    // Assess
    const calls = value.first.choices[0]!.message.tool_calls as OpenAI.ChatCompletionMessageFunctionToolCall[];
    expect(calls.map((c) => c.function.name)).toEqual(['get_weather', 'get_time']);
    expect(new Set(calls.map((c) => c.id)).size).toBe(2);
    expect(value.first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(value.final.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(bill.completion_tokens).toBe(value.first.usage!.completion_tokens + value.final.usage!.completion_tokens);
    expect(value.first.usage!.completion_tokens).toBe(calls.reduce((n, c) => n + countTokens(c.function.name) + countTokens(c.function.arguments), 0));
  });

  it('parallel calls with max_tokens set (the provider answers whole) and a named tool_choice', async () => {
    // Act
    const { value } = await billed(rt, recorder, async () => ({
      parallel: await ai.chat.completions.create({ model: LLAMA, messages: question, tools, max_completion_tokens: 400 }),
      named: await ai.chat.completions.create({ model: LLAMA, messages: question, tools, tool_choice: { type: 'function', function: { name: 'get_time' } }, max_tokens: 400 }),
    }));
    // Assess
    const names = (r: OpenAI.ChatCompletion) => (r.choices[0]!.message.tool_calls as OpenAI.ChatCompletionMessageFunctionToolCall[]).map((c) => c.function.name);
    expect(names(value.parallel)).toEqual(['get_weather', 'get_time']);
    expect(names(value.named)).toEqual(['get_time']);
  });

  it('a stream without a usage report is billed on its tool-call names and arguments, flagged estimated', async () => {
    // Prepare
    for (const s of rt.world!.simulators.values()) s.setOptions({ fault: 'stream_without_usage' });
    const from = recorder.seen.length;
    const before = await settledCredits(rt);
    // Act
    const first = await ai.chat.completions.stream({ model: LLAMA, messages: question, tools }).finalChatCompletion();
    const after = await settledCredits(rt);
    // Assess
    const [rec] = await recordsOf(rt, recorder.seen.slice(from));
    const calls = first.choices[0]!.message.tool_calls as OpenAI.ChatCompletionMessageFunctionToolCall[];
    expect(rec).toMatchObject({ outcome: 'ok', estimated: true, completion_tokens: calls.reduce((n, c) => n + countTokens(c.function.name) + countTokens(c.function.arguments), 0) });
    expect(before.available_micros - after.available_micros).toBe(rec!.cost_micros);
  });
});

describe('structured output, stop, logprobs', () => {
  it('parse() with a zod json_schema format: the parsed object fits the schema, billed', async () => {
    // Act
    const { value, bill } = await billed(rt, recorder, () => ai.chat.completions.parse({ model: LLAMA, messages: [{ role: 'user', content: 'A soup recipe.' }], response_format: zodResponseFormat(Recipe, 'recipe') }));
    // Assess
    const parsed = value.choices[0]!.message.parsed;
    expect(Recipe.parse(parsed)).toEqual(parsed);
    expect(bill.completion_tokens).toBe(countTokens(value.choices[0]!.message.content!));
  });

  it('json_object mode, streamed: the joined content is a JSON object', async () => {
    // Act
    const { value } = await billed(rt, recorder, () => ai.chat.completions.stream({ model: LLAMA, messages: [{ role: 'user', content: 'Reply in JSON.' }], response_format: { type: 'json_object' } }).finalChatCompletion());
    // Assess
    const parsed = JSON.parse(value.choices[0]!.message.content!) as unknown;
    expect(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)).toBe(true);
  });

  it('stop cuts the reply before the sequence; logprobs reach the client whole and streamed', async () => {
    // Prepare
    const full = (await ai.chat.completions.create({ model: LLAMA, messages: question, max_tokens: 24, seed: 7 })).choices[0]!.message.content!;
    const word = ` ${full.split(' ')[5]!}`;
    // Act
    const cut = await ai.chat.completions.create({ model: LLAMA, messages: question, max_tokens: 24, seed: 7, stop: [word] });
    // Without max_tokens: the provider streams and the gateway assembles the whole reply, logprobs included.
    const lp = await ai.chat.completions.create({ model: LLAMA, messages: question, logprobs: true, top_logprobs: 2 });
    const streamed = await ai.chat.completions.stream({ model: LLAMA, messages: question, max_tokens: 12, logprobs: true, top_logprobs: 2 }).finalChatCompletion();
    // Assess
    expect([cut.choices[0]!.message.content, cut.choices[0]!.finish_reason]).toEqual([full.slice(0, full.indexOf(word)), 'stop']);
    for (const r of [lp, streamed]) {
      const entries = r.choices[0]!.logprobs!.content!;
      expect(entries.map((e) => e.token).join('')).toBe(r.choices[0]!.message.content);
      expect(entries.every((e) => e.top_logprobs.length === 2)).toBe(true);
    }
  });
});

describe('validation at the gateway', () => {
  it.each([
    ['tool_choice without tools', { tool_choice: 'auto' }, 'invalid_value', 'tool_choice'],
    ['five stop sequences', { stop: ['a', 'b', 'c', 'd', 'e'] }, 'array_above_max_length', 'stop'],
    ['top_logprobs 21', { logprobs: true, top_logprobs: 21 }, 'integer_above_max_value', 'top_logprobs'],
    ['top_logprobs without logprobs', { top_logprobs: 2 }, 'invalid_value', 'top_logprobs'],
    ['129 tools', { tools: Array.from({ length: 129 }, (_, i) => ({ type: 'function', function: { name: `t${i}` } })) }, 'array_above_max_length', 'tools'],
    ['a function name with a space', { tools: [{ type: 'function', function: { name: 'get weather' } }] }, 'invalid_value', 'tools[0].function.name'],
    ['json_schema without its schema object', { response_format: { type: 'json_schema' } }, 'missing_required_parameter', 'response_format.json_schema'],
  ])('refuses %s with OpenAI\'s code and param, calling no provider', async (_name, extra, code, param) => {
    // Prepare
    const calls = () => [...rt.world!.simulators.values()].reduce((n, s) => n + s.stats().requests, 0);
    const before = calls();
    // Act
    const err = (await ai.chat.completions.create({ model: LLAMA, messages: question, ...(extra as object) } as OpenAI.ChatCompletionCreateParamsNonStreaming).catch((e: unknown) => e)) as APIError;
    // Assess
    expect([err.status, err.type, err.code, err.param]).toEqual([400, 'invalid_request_error', code, param]);
    expect(calls()).toBe(before);
  });
});
