/**
 * The Vercel AI SDK's default `openai(model)`, which speaks the Responses API, through the gateway (only baseURL and
 * apiKey set): generateText / streamText with zod tools run the whole tool loop (parallel function_calls, their
 * results sent back as function_call_output, the answer), tool_choice and parallelToolCalls reach the model,
 * structured output (Output.object, generateObject) arrives as text.format json_schema and parses against its zod
 * schema, and what the SDK reports as usage is what the startup is billed.
 */
import { createOpenAI, type OpenAIResponsesProviderOptions } from '@ai-sdk/openai';
import { generateObject, generateText, isStepCount, Output, streamText } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { billed, LLAMA, Recipe, Recorder, TimeArgs, WeatherArgs } from './clients-kit.js';
import { streamToolLoop, TOOL_QUESTION, vercelTools } from './client-tools.js';

let rt: TestRuntime;
let recorder: Recorder;
/** The request bodies the SDK sent, in order. */
const sent: Record<string, unknown>[] = [];
let model: ReturnType<ReturnType<typeof createOpenAI>>;

beforeAll(async () => {
  rt = await startTestRuntime('responses-vercel', { demo: {} });
  recorder = new Recorder();
  const keepBody: typeof fetch = async (input, init) => {
    if (typeof init?.body === 'string') sent.push(JSON.parse(init.body) as Record<string, unknown>);
    return recorder.fetch(input, init);
  };
  model = createOpenAI({ baseURL: `${rt.baseUrl}/v1`, apiKey: rt.world!.startupKey, fetch: keepBody })(LLAMA);
});
afterAll(async () => rt?.stop());

const prompt = TOOL_QUESTION;

/** The function_call_output items of a sent body's input, by call id. */
const outputsSent = (body: Record<string, unknown>) =>
  (body.input as { type?: string; call_id?: string }[]).filter((i) => i.type === 'function_call_output').map((i) => i.call_id);

describe('tools', () => {
  it('generateText runs the tool loop: parallel calls executed, their outputs sent back, then the final text; usage is what was billed', async () => {
    // Prepare
    const t = vercelTools();
    // Act
    const { value: r, bill } = await billed(rt, recorder, () => generateText({ model, prompt, tools: t.set, stopWhen: isStepCount(3), maxRetries: 0 }));
    // Assess
    expect(r.steps).toHaveLength(2);
    expect(r.steps[0]!.finishReason).toBe('tool-calls');
    expect(r.steps[0]!.toolCalls.map((c) => c.toolName)).toEqual(['get_weather', 'get_time']);
    expect(t.ran.sort()).toEqual(['get_time', 'get_weather']);
    expect(outputsSent(sent.at(-1)!)).toEqual(r.steps[0]!.toolCalls.map((c) => c.toolCallId));
    expect(r.finishReason).toBe('stop');
    expect(r.text.length).toBeGreaterThan(0);
    expect(bill.requests).toBe(2);
    expect([r.totalUsage.inputTokens, r.totalUsage.outputTokens]).toEqual([bill.prompt_tokens, bill.completion_tokens]);
  });

  it('streamText runs the same loop over streamed function-call argument deltas', async () => {
    // Prepare
    const t = vercelTools();
    // Act
    const { value, bill } = await billed(rt, recorder, () => streamToolLoop(model, t.set));
    // Assess
    expect(sent.at(-1)!.stream).toBe(true);
    expect(value.steps.map((s) => s.finishReason)).toEqual(['tool-calls', 'stop']);
    expect(value.steps[0]!.toolCalls.map((c) => WeatherArgs.or(TimeArgs).parse(c.input))).toHaveLength(2);
    expect(value.deltas.length).toBeGreaterThan(4);
    expect(t.ran.sort()).toEqual(['get_time', 'get_weather']);
    expect(outputsSent(sent.at(-1)!)).toEqual(value.steps[0]!.toolCalls.map((c) => c.toolCallId));
    expect(value.text.length).toBeGreaterThan(0);
    expect([value.usage.inputTokens, value.usage.outputTokens]).toEqual([bill.prompt_tokens, bill.completion_tokens]);
  });

  it('parallelToolCalls false makes one call; toolChoice naming a tool makes exactly that call', async () => {
    // Prepare
    const one = vercelTools();
    const named = vercelTools();
    const providerOptions = { openai: { parallelToolCalls: false } satisfies OpenAIResponsesProviderOptions };
    // Act
    const { value } = await billed(rt, recorder, async () => ({
      one: await generateText({ model, prompt, tools: one.set, providerOptions, maxRetries: 0 }),
      named: await generateText({ model, prompt, tools: named.set, toolChoice: { type: 'tool', toolName: 'get_time' }, maxRetries: 0 }),
    }));
    // Assess
    expect(value.one.toolCalls.map((c) => c.toolName)).toEqual(['get_weather']);
    expect(one.ran).toEqual(['get_weather']);
    expect(value.named.toolCalls.map((c) => c.toolName)).toEqual(['get_time']);
    expect(named.ran).toEqual(['get_time']);
  });
});

describe('structured output', () => {
  it('Output.object with generateText and streamText: text.format json_schema, an object that parses against the schema', async () => {
    // Prepare
    const from = sent.length;
    // Act
    const { value, bill } = await billed(rt, recorder, async () => {
      const whole = await generateText({ model, prompt: 'A soup recipe.', output: Output.object({ schema: Recipe }), maxRetries: 0 });
      const streamed = streamText({ model, prompt: 'A salad recipe.', output: Output.object({ schema: Recipe }), maxRetries: 0 });
      return { whole: whole.output, wholeUsage: whole.totalUsage, streamed: await streamed.output, streamedUsage: await streamed.totalUsage };
    });
    // Assess
    expect(sent.slice(from).map((b) => (b.text as { format?: { type?: string } } | undefined)?.format?.type)).toEqual(['json_schema', 'json_schema']);
    expect(Recipe.parse(value.whole)).toEqual(value.whole);
    expect(Recipe.parse(value.streamed)).toEqual(value.streamed);
    expect(value.wholeUsage.inputTokens! + value.streamedUsage.inputTokens!).toBe(bill.prompt_tokens);
    expect(value.wholeUsage.outputTokens! + value.streamedUsage.outputTokens!).toBe(bill.completion_tokens);
  });

  it('generateObject: the object parses against the schema, its usage billed', async () => {
    // Act
    const { value: r, bill } = await billed(rt, recorder, () => generateObject({ model, schema: Recipe, prompt: 'A bread recipe.', maxRetries: 0 }));
    // Assess
    expect(Recipe.parse(r.object)).toEqual(r.object);
    expect([r.usage.inputTokens, r.usage.outputTokens]).toEqual([bill.prompt_tokens, bill.completion_tokens]);
  });
});
