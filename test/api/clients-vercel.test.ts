/**
 * The Vercel AI SDK (`ai` with `@ai-sdk/openai`'s `.chat(model)`, i.e. chat completions) through the gateway,
 * only baseURL and apiKey set: generateText / streamText with zod tools run a whole tool loop (call → tool
 * result → answer), parallel calls are executed, structured output (Output.object, generateObject) parses
 * against its zod schema, and what the SDK reports as usage is what the startup is billed.
 * (`openai(model)`, the Responses API, is the Responses suites' to prove, with the same helpers.)
 */
import { generateObject, generateText, isStepCount, Output, streamText } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { billed, LLAMA, Recipe, Recorder, TimeArgs, vercelProvider, WeatherArgs } from './clients-kit.js';
import { streamToolLoop, TOOL_QUESTION, vercelTools } from './client-tools.js';

let rt: TestRuntime;
let recorder: Recorder;
let model: ReturnType<ReturnType<typeof vercelProvider>['chat']>;

beforeAll(async () => {
  rt = await startTestRuntime('clients-vercel', { demo: {} });
  recorder = new Recorder();
  model = vercelProvider(rt, recorder).chat(LLAMA);
});
afterAll(async () => rt?.stop());

const prompt = TOOL_QUESTION;

describe('tools', () => {
  it('generateText runs the tool loop: parallel calls executed, then the final text; usage is what was billed', async () => {
    // Prepare
    const t = vercelTools();
    // Act
    const { value: r, bill } = await billed(rt, recorder, () => generateText({ model, prompt, tools: t.set, stopWhen: isStepCount(3), maxRetries: 0 }));
    // Assess
    expect(r.steps).toHaveLength(2);
    expect(r.steps[0]!.finishReason).toBe('tool-calls');
    expect(r.steps[0]!.toolCalls.map((c) => c.toolName)).toEqual(['get_weather', 'get_time']);
    expect(t.ran.sort()).toEqual(['get_time', 'get_weather']);
    expect(r.finishReason).toBe('stop');
    expect(r.text.length).toBeGreaterThan(0);
    expect(bill.requests).toBe(2);
    expect([r.totalUsage.inputTokens, r.totalUsage.outputTokens]).toEqual([bill.prompt_tokens, bill.completion_tokens]);
  });

  it('streamText runs the same loop over streamed tool-call deltas', async () => {
    // Prepare
    const t = vercelTools();
    // Act
    const { value, bill } = await billed(rt, recorder, () => streamToolLoop(model, t.set));
    // Assess
    expect(value.steps.map((s) => s.finishReason)).toEqual(['tool-calls', 'stop']);
    expect(value.steps[0]!.toolCalls.map((c) => WeatherArgs.or(TimeArgs).parse(c.input))).toHaveLength(2);
    expect(value.deltas.length).toBeGreaterThan(4);
    expect(t.ran.sort()).toEqual(['get_time', 'get_weather']);
    expect(value.text.length).toBeGreaterThan(0);
    expect([value.usage.inputTokens, value.usage.outputTokens]).toEqual([bill.prompt_tokens, bill.completion_tokens]);
  });

  it('toolChoice naming one tool makes exactly that call', async () => {
    // Prepare
    const t = vercelTools();
    // Act
    const { value: r } = await billed(rt, recorder, () => generateText({ model, prompt, tools: t.set, toolChoice: { type: 'tool', toolName: 'get_time' }, maxRetries: 0 }));
    // Assess
    expect(r.toolCalls.map((c) => c.toolName)).toEqual(['get_time']);
    expect(t.ran).toEqual(['get_time']);
  });
});

describe('structured output', () => {
  it('Output.object with generateText and streamText: an object that parses against the schema', async () => {
    // Act
    const { value, bill } = await billed(rt, recorder, async () => {
      const whole = await generateText({ model, prompt: 'A soup recipe.', output: Output.object({ schema: Recipe }), maxRetries: 0 });
      const streamed = streamText({ model, prompt: 'A salad recipe.', output: Output.object({ schema: Recipe }), maxRetries: 0 });
      return { whole: whole.output, wholeUsage: whole.totalUsage, streamed: await streamed.output, streamedUsage: await streamed.totalUsage };
    });
    // Assess
    expect(Recipe.parse(value.whole)).toEqual(value.whole);
    expect(Recipe.parse(value.streamed)).toEqual(value.streamed);
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
