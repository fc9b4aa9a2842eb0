/**
 * The Responses API through the official `openai` client (only its base URL and key changed): the tool round trip
 * (function_call → function_call_output sent back → the final text), streamed and not, with the conversation
 * replayed as input or continued by previous_response_id; parallel calls; `responses.parse` / `responses.stream`
 * with zodTextFormat and zodResponsesFunction; and each reply's usage equal to what the startup was billed.
 */
import OpenAI from 'openai';
import { zodResponsesFunction, zodTextFormat } from 'openai/helpers/zod';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countTokens } from '../../packages/core/src/index.js';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { billed, LLAMA, officialClient, Recipe, Recorder, TimeArgs, timeOf, WeatherArgs, weatherOf } from './clients-kit.js';

let rt: TestRuntime;
let recorder: Recorder;
let ai: OpenAI;

beforeAll(async () => {
  rt = await startTestRuntime('responses-openai', { demo: {} });
  recorder = new Recorder();
  ai = officialClient(rt, recorder);
});
afterAll(async () => rt?.stop());

const tools: OpenAI.Responses.FunctionTool[] = [
  { type: 'function', name: 'get_weather', description: 'Forecast for a city', parameters: z.toJSONSchema(WeatherArgs) as Record<string, unknown>, strict: true },
  { type: 'function', name: 'get_time', description: 'Local time in a zone', parameters: z.toJSONSchema(TimeArgs) as Record<string, unknown>, strict: true },
];
const question: OpenAI.Responses.ResponseInputItem[] = [{ role: 'user', content: 'What is the weather and the time in Lisbon?' }];

const callsOf = (r: OpenAI.Responses.Response) => r.output.filter((i): i is OpenAI.Responses.ResponseFunctionToolCall => i.type === 'function_call');

/** Runs the function calls of a response, each call's arguments checked by its tool's schema: their outputs. */
function runTools(r: OpenAI.Responses.Response): OpenAI.Responses.ResponseInputItem.FunctionCallOutput[] {
  return callsOf(r).map((call) => {
    const args = JSON.parse(call.arguments) as unknown;
    const result = call.name === 'get_weather' ? weatherOf(WeatherArgs.parse(args)) : timeOf(TimeArgs.parse(args));
    return { type: 'function_call_output', call_id: call.call_id, output: JSON.stringify(result) };
  });
}

/** The tokens the responses report, summed: [input, output]. */
const tokensOf = (...rs: OpenAI.Responses.Response[]) => [rs.reduce((n, r) => n + r.usage!.input_tokens, 0), rs.reduce((n, r) => n + r.usage!.output_tokens, 0)];

describe('tool round trips', () => {
  it('not streamed: one call, its output sent back with the conversation replayed as input, then the final text; billed per request', async () => {
    // Act
    const { value, bill } = await billed(rt, recorder, async () => {
      const first = await ai.responses.create({ model: LLAMA, input: question, tools, parallel_tool_calls: false });
      const outputs = runTools(first);
      const final = await ai.responses.create({ model: LLAMA, input: [...question, ...first.output, ...outputs] as OpenAI.Responses.ResponseInputItem[], tools });
      return { first, outputs, final };
    });
    // Assess
    expect(callsOf(value.first).map((c) => c.name)).toEqual(['get_weather']);
    expect(value.first.status).toBe('completed');
    expect(value.outputs).toHaveLength(1);
    expect(callsOf(value.final)).toEqual([]);
    expect(value.final.output_text.length).toBeGreaterThan(0);
    expect(bill.requests).toBe(2);
    expect(tokensOf(value.first, value.final)).toEqual([bill.prompt_tokens, bill.completion_tokens]);
  });

  it('streamed: parallel calls assembled from the argument deltas, their outputs sent with previous_response_id, the answer streamed', async () => {
    // Act
    const { value, bill } = await billed(rt, recorder, async () => {
      const s1 = ai.responses.stream({ model: LLAMA, input: question, tools });
      const deltas: string[] = [];
      for await (const e of s1) if (e.type === 'response.function_call_arguments.delta') deltas.push(e.delta);
      const first = await s1.finalResponse();
      const outputs = runTools(first);
      const s2 = ai.responses.stream({ model: LLAMA, previous_response_id: first.id, input: outputs, tools });
      let streamedText = '';
      for await (const e of s2) if (e.type === 'response.output_text.delta') streamedText += e.delta;
      return { first, deltas, outputs, final: await s2.finalResponse(), streamedText };
    });
    // Assess
    const calls = callsOf(value.first);
    expect(calls.map((c) => c.name)).toEqual(['get_weather', 'get_time']);
    expect(new Set(calls.map((c) => c.call_id)).size).toBe(2);
    expect(value.deltas.join('')).toBe(calls.map((c) => c.arguments).join(''));
    expect(value.outputs).toHaveLength(2);
    expect(value.final.output_text).toBe(value.streamedText);
    expect(value.streamedText.length).toBeGreaterThan(0);
    expect(tokensOf(value.first, value.final)).toEqual([bill.prompt_tokens, bill.completion_tokens]);
    expect(value.first.usage!.output_tokens).toBe(calls.reduce((n, c) => n + countTokens(c.name) + countTokens(c.arguments), 0));
  });

  it('parallel calls not streamed, and tool_choice naming one function makes exactly that call', async () => {
    // Act
    const { value } = await billed(rt, recorder, async () => ({
      parallel: await ai.responses.create({ model: LLAMA, input: question, tools, max_output_tokens: 400 }),
      named: await ai.responses.create({ model: LLAMA, input: question, tools, tool_choice: { type: 'function', name: 'get_time' }, max_output_tokens: 400 }),
    }));
    // Assess
    expect(callsOf(value.parallel).map((c) => c.name)).toEqual(['get_weather', 'get_time']);
    expect(callsOf(value.named).map((c) => c.name)).toEqual(['get_time']);
  });

  it('responses.parse with zodResponsesFunction tools: each call carries its parsed_arguments', async () => {
    // Prepare
    const parseable = [zodResponsesFunction({ name: 'get_weather', parameters: WeatherArgs }), zodResponsesFunction({ name: 'get_time', parameters: TimeArgs })];
    // Act
    const { value: r, bill } = await billed(rt, recorder, () => ai.responses.parse({ model: LLAMA, input: question, tools: parseable }));
    // Assess
    const calls = r.output.filter((i) => i.type === 'function_call');
    expect(calls.map((c) => c.name)).toEqual(['get_weather', 'get_time']);
    expect(WeatherArgs.parse(calls[0]!.parsed_arguments)).toEqual(calls[0]!.parsed_arguments);
    expect(TimeArgs.parse(calls[1]!.parsed_arguments)).toEqual(calls[1]!.parsed_arguments);
    expect(tokensOf(r)).toEqual([bill.prompt_tokens, bill.completion_tokens]);
  });
});

describe('structured output', () => {
  it('responses.parse with zodTextFormat: output_parsed fits the schema, billed', async () => {
    // Act
    const { value: r, bill } = await billed(rt, recorder, () => ai.responses.parse({ model: LLAMA, input: 'A soup recipe.', text: { format: zodTextFormat(Recipe, 'recipe') } }));
    // Assess
    expect(r.output_parsed).not.toBeNull();
    expect(Recipe.parse(r.output_parsed)).toEqual(r.output_parsed);
    expect(r.text?.format).toMatchObject({ type: 'json_schema', name: 'recipe' });
    expect(bill.completion_tokens).toBe(countTokens(r.output_text));
    expect(tokensOf(r)).toEqual([bill.prompt_tokens, bill.completion_tokens]);
  });

  it('responses.stream with zodTextFormat: the streamed deltas join into JSON the client parses against the schema', async () => {
    // Act
    const { value, bill } = await billed(rt, recorder, async () => {
      const s = ai.responses.stream({ model: LLAMA, input: 'A salad recipe.', text: { format: zodTextFormat(Recipe, 'recipe') } });
      let text = '';
      for await (const e of s) if (e.type === 'response.output_text.delta') text += e.delta;
      return { text, final: await s.finalResponse() };
    });
    // Assess
    expect(Recipe.parse(JSON.parse(value.text))).toEqual(value.final.output_parsed);
    expect(tokensOf(value.final)).toEqual([bill.prompt_tokens, bill.completion_tokens]);
  });

  it('json_object format: the reply is a JSON object', async () => {
    // Act
    const { value: r } = await billed(rt, recorder, () => ai.responses.create({ model: LLAMA, input: 'Reply in JSON.', text: { format: { type: 'json_object' } } }));
    // Assess
    const parsed = JSON.parse(r.output_text) as unknown;
    expect(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)).toBe(true);
  });
});
