/**
 * LangChain JS's ChatOpenAI with `useResponsesApi: true` through the gateway (only the base URL and key set):
 * bindTools with zod tools, a tool round trip invoked and streamed (LangChain sends its AIMessage's calls back as
 * function_call items and each ToolMessage as a function_call_output), parallel calls, withStructuredOutput
 * (text.format json_schema and function calling) parsed against its zod schema, and usage_metadata equal to what
 * the startup is billed.
 */
import { AIMessage, HumanMessage, ToolMessage, type BaseMessage } from '@langchain/core/messages';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { billed, langchainChat, Recipe, Recorder, WeatherArgs } from './clients-kit.js';
import { getTime, getWeather, langchainQuestion, runTools, streamedRoundTrip, tokensOf } from './client-tools.js';

let rt: TestRuntime;
let recorder: Recorder;
/** The request bodies LangChain sent, in order. */
const sent: Record<string, unknown>[] = [];
const keepBody: typeof fetch = async (input, init) => {
  if (typeof init?.body === 'string') sent.push(JSON.parse(init.body) as Record<string, unknown>);
  return recorder.fetch(input, init);
};

beforeAll(async () => {
  rt = await startTestRuntime('responses-langchain', { demo: {} });
  recorder = new Recorder();
});
afterAll(async () => rt?.stop());

/** ChatOpenAI on the Responses API, recording what it sent. */
const chat = () => langchainChat(rt, recorder, { useResponsesApi: true, configuration: { baseURL: `${rt.baseUrl}/v1`, fetch: keepBody } });

const question = langchainQuestion();
/** The items of one type in a sent body's input. */
const itemsSent = (body: Record<string, unknown>, type: string) => (body.input as { type?: string; call_id?: string }[]).filter((i) => i.type === type);

describe('tools', () => {
  it('bindTools + invoke: parallel calls, their results sent as function_call_output, then the final answer; usage_metadata is what was billed', async () => {
    // Prepare
    const model = chat().bindTools([getWeather, getTime]);
    // Act
    const { value, bill } = await billed(rt, recorder, async () => {
      const first = await model.invoke(question);
      const results = await runTools(first);
      const final = await model.invoke([...question, first, ...results] as BaseMessage[]);
      return { first, results, final };
    });
    // Assess
    expect(value.first.tool_calls!.map((c) => c.name)).toEqual(['get_weather', 'get_time']);
    expect(itemsSent(sent.at(-1)!, 'function_call_output').map((i) => i.call_id)).toEqual(value.first.tool_calls!.map((c) => c.id));
    expect(typeof value.final.text === 'string' && value.final.text.length > 0).toBe(true);
    expect(value.final.tool_calls ?? []).toEqual([]);
    expect(tokensOf(value.first, value.final)).toEqual([bill.prompt_tokens, bill.completion_tokens]);
  });

  it('streamed: the chunks concatenate into a valid tool call, and the streamed answer follows', async () => {
    // Prepare
    const model = chat().bindTools([getWeather, getTime], { parallel_tool_calls: false });
    // Act
    const { value, bill } = await billed(rt, recorder, () => streamedRoundTrip(model));
    // Assess
    expect(sent.at(-1)!.stream).toBe(true);
    expect(value.first.tool_calls!.map((c) => c.name)).toEqual(['get_weather']);
    expect(WeatherArgs.parse(value.first.tool_calls![0]!.args)).toBeTruthy();
    expect(value.first.invalid_tool_calls ?? []).toEqual([]);
    expect(itemsSent(sent.at(-1)!, 'function_call_output').map((i) => i.call_id)).toEqual([value.first.tool_calls![0]!.id]);
    expect(typeof value.final.text === 'string' && value.final.text.length > 0).toBe(true);
    expect(tokensOf(value.first, value.final)).toEqual([bill.prompt_tokens, bill.completion_tokens]);
  });
});

describe('structured output', () => {
  it.each(['jsonSchema', 'functionCalling'] as const)('withStructuredOutput (%s): the object parses against the schema, billed', async (method) => {
    // Prepare
    const model = chat().withStructuredOutput(Recipe, { method, name: 'recipe', includeRaw: true });
    // Act
    const { value, bill } = await billed(rt, recorder, () => model.invoke([new HumanMessage('A soup recipe, as JSON.')]));
    // Assess
    expect(sent.at(-1)!).toHaveProperty(method === 'jsonSchema' ? 'text.format.type' : 'tool_choice', method === 'jsonSchema' ? 'json_schema' : expect.anything());
    expect(Recipe.parse(value.parsed)).toEqual(value.parsed);
    expect(tokensOf(value.raw as AIMessage)).toEqual([bill.prompt_tokens, bill.completion_tokens]);
  });

  it('withStructuredOutput streamed (jsonSchema): the last chunk is the whole object', async () => {
    // Prepare
    const model = chat().withStructuredOutput(Recipe, { method: 'jsonSchema', name: 'recipe' });
    // Act
    const { value: chunks } = await billed(rt, recorder, async () => {
      const out: unknown[] = [];
      for await (const chunk of await model.stream([new HumanMessage('A salad recipe, as JSON.')])) out.push(chunk);
      return out;
    });
    // Assess
    expect(sent.at(-1)!.stream).toBe(true);
    expect(Recipe.parse(chunks.at(-1))).toEqual(chunks.at(-1));
  });
});
