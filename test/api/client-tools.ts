/**
 * The two tools every client suite gives its model (get_weather, get_time), as each library declares them, with the
 * question that makes a model call both: the chat-completions suites (clients-*.test.ts) and the Responses-API suites
 * (responses-*.test.ts) ask the same, so the two APIs are held to the same round trips.
 */
import { tool as langchainTool } from '@langchain/core/tools';
import { HumanMessage, type AIMessage, type AIMessageChunk, type BaseMessage, type ToolMessage } from '@langchain/core/messages';
import { isStepCount, streamText, tool as vercelTool, type LanguageModel } from 'ai';
import { TimeArgs, timeOf, WeatherArgs, weatherOf } from './clients-kit.js';

export const TOOL_QUESTION = 'What is the weather and the time in Lisbon?';

/** The Vercel AI SDK's tools, their executions counted, so a test sees which ran. */
export function vercelTools() {
  const ran: string[] = [];
  const set = {
    get_weather: vercelTool({ description: 'Forecast for a city', inputSchema: WeatherArgs, execute: async (a) => (ran.push('get_weather'), weatherOf(a)) }),
    get_time: vercelTool({ description: 'Local time in a zone', inputSchema: TimeArgs, execute: async (a) => (ran.push('get_time'), timeOf(a)) }),
  };
  return { set, ran };
}

/** streamText's whole tool loop (up to 3 steps) on TOOL_QUESTION: its steps, text, usage and the tool-input deltas it streamed. */
export async function streamToolLoop(model: LanguageModel, tools: ReturnType<typeof vercelTools>['set']) {
  const s = streamText({ model, prompt: TOOL_QUESTION, tools, stopWhen: isStepCount(3), maxRetries: 0 });
  const deltas: string[] = [];
  for await (const part of s.fullStream) if (part.type === 'tool-input-delta') deltas.push(part.delta);
  return { steps: await s.steps, text: await s.text, usage: await s.totalUsage, deltas };
}

export const getWeather = langchainTool(async (a) => JSON.stringify(weatherOf(a)), { name: 'get_weather', description: 'Forecast for a city', schema: WeatherArgs });
export const getTime = langchainTool(async (a) => JSON.stringify(timeOf(a)), { name: 'get_time', description: 'Local time in a zone', schema: TimeArgs });

/** Runs each LangChain tool call of `ai` (its args checked by the tool's own zod schema): the tool messages. */
export async function runTools(ai: AIMessage): Promise<ToolMessage[]> {
  const out: ToolMessage[] = [];
  for (const call of ai.tool_calls ?? []) {
    // A tool given the whole call answers with a ToolMessage bound to the call's id.
    const message = call.name === 'get_weather' ? await getWeather.invoke(call) : await getTime.invoke(call);
    out.push(message as ToolMessage);
  }
  return out;
}

export const langchainQuestion = () => [new HumanMessage(TOOL_QUESTION)];

/** A LangChain model with tools bound, as far as a streamed round trip uses it. */
interface StreamingModel {
  stream(messages: BaseMessage[]): Promise<AsyncIterable<AIMessageChunk>>;
}

/** A streamed tool round trip: the question's chunks concatenated into the calls, their results, the streamed answer. */
export async function streamedRoundTrip(model: StreamingModel) {
  const collect = async (messages: BaseMessage[]): Promise<AIMessageChunk> => {
    let all: AIMessageChunk | undefined;
    for await (const chunk of await model.stream(messages)) all = all ? all.concat(chunk) : chunk;
    return all!;
  };
  const question = langchainQuestion();
  const first = await collect(question);
  const results = await runTools(first);
  const final = await collect([...question, first, ...results] as BaseMessage[]);
  return { first, results, final };
}

/** Input and output tokens over LangChain replies, as usage_metadata reports them. */
export const tokensOf = (...messages: AIMessage[]) => [
  messages.reduce((n, m) => n + (m.usage_metadata?.input_tokens ?? 0), 0),
  messages.reduce((n, m) => n + (m.usage_metadata?.output_tokens ?? 0), 0),
];
