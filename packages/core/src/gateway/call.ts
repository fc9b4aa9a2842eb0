/**
 * Stage 1, the figures of the call: what the caller asked, in the numbers the hold and the rate limit
 * need (prompt bounds, the most completion tokens), and the body that goes upstream.
 */
import { assert } from '../money.js';
import { chatExtrasText, chatPromptUpperBound, countChatPromptTokens, countTokens, tokenUpperBound, type ChatMessageLike } from '../tokens.js';
import type { Workload } from '../usage.js';
import { isProgressive } from './progressive.js';

/** Choices one request may ask for (n): OpenAI's own bound, so a request OpenAI takes is not refused here. */
export const MAX_CHOICES = 128;
/** OpenAI's default max_tokens for legacy completions (its API reference): what the provider then generates. */
export const COMPLETION_DEFAULT_MAX_TOKENS = 16;

export interface GatewayCall {
  workload: Workload;
  model: string;
  stream: boolean;
  include_usage: boolean;
  /** Upper bound of prompt tokens for any tokenizer (bytes), for the hold. */
  prompt_tokens_max: number;
  /** Prompt tokens under our counting rule, used when the provider reports no usage. */
  prompt_tokens_estimate: number;
  /** Completion tokens the request may produce (max_tokens × choices); null = up to the model's context. */
  completion_tokens_max: number | null;
  /**
   * Sequences the request generates (chat: n; completions: choices × prompts): each may run to the model's
   * context, so the most completion tokens are context × sequences, not one context (pricing.ts maxCostMicros).
   */
  sequences: number;
  /** The request body as validated, with the defaults the hold assumed made explicit: forwarded upstream. */
  body: Record<string, unknown>;
}

type PromptInput = string | number[] | string[] | number[][];

function promptFigures(input: PromptInput): { max: number; estimate: number } {
  if (typeof input === 'string') return { max: tokenUpperBound(input), estimate: countTokens(input) };
  let max = 0;
  let estimate = 0;
  for (const p of input as (string | number | number[])[]) {
    if (typeof p === 'number') {
      max += 1;
      estimate += 1;
    } else if (typeof p === 'string') {
      max += tokenUpperBound(p);
      estimate += countTokens(p);
    } else {
      max += p.length;
      estimate += p.length;
    }
  }
  return { max, estimate };
}

function describeChat(body: Record<string, unknown>, stream: boolean, include_usage: boolean): GatewayCall {
  const messages = body.messages as ChatMessageLike[];
  const n = (body.n as number | undefined) ?? 1;
  const maxTokens = (body.max_completion_tokens as number | undefined) ?? (body.max_tokens as number | undefined) ?? null;
  const extras = chatExtrasText(body);
  return {
    workload: 'chat', model: body.model as string, stream, include_usage, body,
    // Tool definitions and a JSON response schema are prompt too (providers count them): in the bound the hold is sized on.
    prompt_tokens_max: chatPromptUpperBound(messages) + tokenUpperBound(extras),
    prompt_tokens_estimate: countChatPromptTokens(messages) + countTokens(extras),
    completion_tokens_max: maxTokens === null ? null : maxTokens * n,
    sequences: n,
  };
}

function describeCompletion(received: Record<string, unknown>, stream: boolean, include_usage: boolean): GatewayCall {
  // The hold assumes OpenAI's default of 16 tokens; the provider must be told so too, or it generates to its own
  // default and the reply is billed at the 16-token hold (under-billing the provider's work).
  const body = received.max_tokens === undefined ? { ...received, max_tokens: COMPLETION_DEFAULT_MAX_TOKENS } : received;
  const f = promptFigures(body.prompt as PromptInput);
  const prompts = typeof body.prompt === 'string' || typeof (body.prompt as unknown[])[0] === 'number' ? 1 : (body.prompt as unknown[]).length;
  const choices = Math.max((body.n as number | undefined) ?? 1, (body.best_of as number | undefined) ?? 1);
  const maxTokens = body.max_tokens as number;
  // echo returns the prompt as completion text as well.
  const echo = body.echo === true ? f.max : 0;
  return {
    workload: 'completion', model: body.model as string, stream, include_usage, body,
    prompt_tokens_max: f.max, prompt_tokens_estimate: f.estimate,
    completion_tokens_max: (maxTokens * choices + echo) * prompts,
    sequences: choices * prompts,
  };
}

/** The call's figures from a validated OpenAI request body. */
export function describeCall(workload: Workload, body: Record<string, unknown>): GatewayCall {
  const stream = body.stream === true;
  const include_usage = stream && (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  const call =
    workload === 'chat' ? describeChat(body, stream, include_usage)
    : workload === 'completion' ? describeCompletion(body, stream, include_usage)
    : describeEmbedding(body);
  // Every counted token covers at least one byte, so the byte bound the hold is sized on covers the estimate.
  assert(call.prompt_tokens_estimate <= call.prompt_tokens_max, 'the prompt estimate is within its bound');
  assert(call.completion_tokens_max === null || call.completion_tokens_max >= 0, 'completion bound is not negative');
  return call;
}

function describeEmbedding(body: Record<string, unknown>): GatewayCall {
  const f = promptFigures(body.input as PromptInput);
  return { workload: 'embedding', model: body.model as string, stream: false, include_usage: false, body, prompt_tokens_max: f.max, prompt_tokens_estimate: f.estimate, completion_tokens_max: 0, sequences: 1 };
}

/**
 * The body forwarded upstream: a stream always asks for usage (the bill needs it; the relay hides it when not
 * asked). A chat request without max_tokens is streamed from the provider even when the caller wants one
 * JSON reply, so it can be cut where its credit ends (progressive.ts); the gateway answers it whole. The routing
 * preferences (`provider`, `models`) are not forwarded.
 */
export function upstreamBodyText(call: GatewayCall): string {
  // The routing preferences are CompuX's to read (preferences.ts), not the provider's: they name other providers.
  const { provider: _provider, models: _models, ...upstreamBody } = call.body;
  if (call.stream || isProgressive(call)) {
    upstreamBody.stream = true;
    upstreamBody.stream_options = { ...((call.body.stream_options as object | undefined) ?? {}), include_usage: true };
  }
  return JSON.stringify(upstreamBody);
}
