/**
 * A generation plan: everything a chat or legacy completions reply will carry, decided from the request
 * before a byte is sent (so a plain and a streamed request get the same reply, and a fault can strike at
 * any frame). Reads and checks stream / stream_options / n / max_tokens / seed / stop / logprobs /
 * top_logprobs, and for chat tools / tool_choice / parallel_tool_calls / response_format (400s in OpenAI's words).
 */
import { randomBytes } from 'node:crypto';
import { planChoice, type ChoicePlan } from './choices.js';
import { bad, isObject } from './errors.js';
import { rng, seedFrom } from './generate.js';
import { parseResponseFormat, parseStop, type ContentFormat } from './output.js';
import { planTools, toolCalls, type ToolPlan } from './tools.js';
import type { Kind } from './frames.js';

const MAX_TOP_LOGPROBS = 20;
const MAX_COMPLETION_LOGPROBS = 5;

export interface GenerationPlan {
  kind: Kind;
  id: string;
  created: number;
  model: string;
  promptTokens: number;
  choices: ChoicePlan[];
  stream: boolean;
  includeUsage: boolean;
}

/** What the plan needs of the model, the prompts and the simulator's settings. */
export interface PlanInput {
  kind: Kind;
  body: Record<string, unknown>;
  model: { id: string; context_length?: number };
  prompts: Array<{ text: string; tokens: number }>;
  promptTokens: number;
  /** Natural reply length (a range picked per prompt). */
  completionTokens: { min: number; max: number };
  maxTokensPerReply: number;
  /** Chat: the last message's role (a tool result is answered in text under 'auto'). */
  lastRole?: unknown;
}

export function randomId(prefix: string): string {
  return prefix + randomBytes(15).toString('base64url').replace(/[-_]/g, 'x');
}

export function optionalPositiveInt(body: Record<string, unknown>, key: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw bad(`Invalid '${key}': expected an integer between 1 and ${max}, got ${JSON.stringify(v)}.`, key, 'invalid_value');
  }
  return v;
}

function streamFlags(body: Record<string, unknown>): { stream: boolean; includeUsage: boolean } {
  const stream = body.stream === true;
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') {
    throw bad("Invalid 'stream': expected a boolean.", 'stream', 'invalid_type');
  }
  const so = body.stream_options;
  if (so !== undefined && so !== null) {
    if (!stream) throw bad("The 'stream_options' parameter is only allowed when 'stream' is enabled.", 'stream_options', 'invalid_value');
    if (!isObject(so)) throw bad("Invalid 'stream_options': expected an object.", 'stream_options', 'invalid_type');
  }
  return { stream, includeUsage: stream && isObject(so) && so.include_usage === true };
}

/** top_logprobs count for each token when logprobs are asked (chat: logprobs + top_logprobs; completions: logprobs n); null when not. */
function logprobsAsked(kind: Kind, body: Record<string, unknown>): number | null {
  const lp = body.logprobs;
  if (kind === 'completion') {
    if (lp === undefined || lp === null) return null;
    if (typeof lp !== 'number' || !Number.isInteger(lp) || lp < 0 || lp > MAX_COMPLETION_LOGPROBS) {
      throw bad(`Invalid 'logprobs': expected an integer between 0 and ${MAX_COMPLETION_LOGPROBS}.`, 'logprobs', 'invalid_value');
    }
    return lp;
  }
  if (lp !== undefined && lp !== null && typeof lp !== 'boolean') throw bad("Invalid type for 'logprobs': expected a boolean.", 'logprobs', 'invalid_type');
  const top = body.top_logprobs;
  if (top === undefined || top === null) return lp === true ? 0 : null;
  if (typeof top !== 'number' || !Number.isInteger(top) || top < 0 || top > MAX_TOP_LOGPROBS) {
    throw bad(`Invalid 'top_logprobs': expected an integer between 0 and ${MAX_TOP_LOGPROBS}.`, 'top_logprobs', 'invalid_value');
  }
  if (lp !== true) throw bad("Invalid value for 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is used.", 'top_logprobs', 'invalid_value');
  return top;
}

/** The most tokens a reply may have, checked against the model's context (400 context_length_exceeded). */
function tokenLimit(input: PlanInput): { maxTokens: number | undefined; context: number } {
  const { kind, body, model, prompts, promptTokens } = input;
  const maxCompletion = optionalPositiveInt(body, 'max_completion_tokens');
  const maxTokens = maxCompletion ?? optionalPositiveInt(body, 'max_tokens');
  const maxParam = maxCompletion !== undefined ? 'max_completion_tokens' : 'max_tokens';
  const promptParam = kind === 'chat' ? 'messages' : 'prompt';
  const context = model.context_length ?? 8192;
  const perPrompt = prompts.length > 0 ? Math.max(...prompts.map((p) => p.tokens)) : 0;
  const checkedPrompt = kind === 'chat' ? promptTokens : perPrompt;
  if (checkedPrompt + (maxTokens ?? 0) > context) {
    throw bad(
      `This model's maximum context length is ${context} tokens. However, you requested ${checkedPrompt + (maxTokens ?? 0)} tokens ` +
        `(${checkedPrompt} in the ${promptParam}, ${maxTokens ?? 0} in the completion). Please reduce the length of the ${promptParam} or completion.`,
      maxTokens !== undefined && checkedPrompt <= context ? maxParam : promptParam,
      'context_length_exceeded',
    );
  }
  return { maxTokens, context };
}

export function plan(input: PlanInput): GenerationPlan {
  const { kind, body, model, prompts, promptTokens } = input;
  const { stream, includeUsage } = streamFlags(body);
  const n = optionalPositiveInt(body, 'n', 16) ?? 1;
  if (prompts.length * n > 64) throw bad('Too many choices requested (prompts × n must be at most 64).', 'n', 'invalid_value');
  const { maxTokens, context } = tokenLimit(input);
  const seedParam = body.seed;
  if (seedParam !== undefined && seedParam !== null && (typeof seedParam !== 'number' || !Number.isInteger(seedParam))) {
    throw bad("Invalid 'seed': expected an integer.", 'seed', 'invalid_type');
  }
  const stops = parseStop(body.stop);
  const topLogprobs = logprobsAsked(kind, body);
  const tools: ToolPlan = kind === 'chat' ? planTools(body, input.lastRole) : { call: [] };
  const format: ContentFormat = kind === 'chat' ? parseResponseFormat(body.response_format) : { kind: 'text' };
  const choices: ChoicePlan[] = [];
  prompts.forEach((p, pi) => {
    const room = context - (kind === 'chat' ? promptTokens : p.tokens);
    for (let i = 0; i < n; i++) {
      const seed = seedFrom(kind, model.id, p.text, String(seedParam ?? ''), String(i));
      const { min, max } = input.completionTokens;
      const natural = Math.min(input.maxTokensPerReply, min === max ? min : min + Math.floor(rng(seed ^ 0x5bd1e995)() * (max - min + 1)));
      const limit = Math.min(maxTokens ?? Infinity, room, input.maxTokensPerReply);
      choices.push(planChoice({ index: pi * n + i, seed, prompt: p.text, natural, limit, calls: toolCalls(tools, seed), format, stops, topLogprobs }));
    }
  });
  return {
    kind,
    id: randomId(kind === 'chat' ? 'chatcmpl-' : 'cmpl-'),
    created: Math.floor(Date.now() / 1000),
    model: model.id,
    promptTokens,
    choices,
    stream,
    includeUsage,
  };
}
