/**
 * LangChain JS (`@langchain/openai`'s ChatOpenAI on chat completions) through the gateway, only the base URL
 * and key set: bindTools with zod tools, a tool round trip invoked and streamed (chunks concatenated by
 * LangChain into tool calls), parallel calls, withStructuredOutput (json_schema and function calling) parsed
 * against its zod schema (json_object mode carries no schema, so it is not one of them), and usage_metadata equal to what the startup is billed.
 */
import { AIMessage, HumanMessage, type BaseMessage } from '@langchain/core/messages';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { billed, langchainChat, Recipe, Recorder, WeatherArgs } from './clients-kit.js';
import { getTime, getWeather, langchainQuestion, runTools, streamedRoundTrip, tokensOf } from './client-tools.js';

let rt: TestRuntime;
let recorder: Recorder;

beforeAll(async () => {
  rt = await startTestRuntime('clients-langchain', { demo: {} });
  recorder = new Recorder();
});
afterAll(async () => rt?.stop());

const question = langchainQuestion();

describe('tools', () => {
  it('bindTools + invoke: parallel calls, their results, then the final answer; usage_metadata is what was billed', async () => {
    // Prepare
    const model = langchainChat(rt, recorder).bindTools([getWeather, getTime]);
    // Act
    const { value, bill } = await billed(rt, recorder, async () => {
      const first = await model.invoke(question);
      const results = await runTools(first);
      const final = await model.invoke([...question, first, ...results] as BaseMessage[]);
      return { first, results, final };
    });
    // Assess
    expect(value.first.tool_calls!.map((c) => c.name)).toEqual(['get_weather', 'get_time']);
    expect(value.results.map((r) => r.status ?? 'success')).toEqual(['success', 'success']);
    expect(typeof value.final.content === 'string' && value.final.content.length > 0).toBe(true);
    expect(value.final.tool_calls ?? []).toEqual([]);
    expect(tokensOf(value.first, value.final)).toEqual([bill.prompt_tokens, bill.completion_tokens]);
  });

  it('streamed: the chunks concatenate into valid tool calls, and the streamed answer follows', async () => {
    // Prepare
    const model = langchainChat(rt, recorder).bindTools([getWeather, getTime], { parallel_tool_calls: false });
    // Act
    const { value, bill } = await billed(rt, recorder, () => streamedRoundTrip(model));
    // Assess
    expect(value.first.tool_calls!.map((c) => c.name)).toEqual(['get_weather']);
    expect(WeatherArgs.parse(value.first.tool_calls![0]!.args)).toBeTruthy();
    expect(value.first.invalid_tool_calls ?? []).toEqual([]);
    expect(typeof value.final.content === 'string' && value.final.content.length > 0).toBe(true);
    expect(tokensOf(value.first, value.final)).toEqual([bill.prompt_tokens, bill.completion_tokens]);
  });
});

describe('structured output', () => {
  it.each(['jsonSchema', 'functionCalling'] as const)('withStructuredOutput (%s): the object parses against the schema, billed', async (method) => {
    // Prepare
    const model = langchainChat(rt, recorder).withStructuredOutput(Recipe, { method, name: 'recipe', includeRaw: true });
    // Act
    const { value, bill } = await billed(rt, recorder, () => model.invoke([new HumanMessage('A soup recipe, as JSON.')]));
    // Assess
    expect(Recipe.parse(value.parsed)).toEqual(value.parsed);
    expect(tokensOf(value.raw as AIMessage)).toEqual([bill.prompt_tokens, bill.completion_tokens]);
  });
});
