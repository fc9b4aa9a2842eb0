/**
 * One choice of a reply, decided before anything is sent: its content tokens (free text or JSON, cut at a
 * stop sequence or at the token limit) or its tool calls (arguments as token pieces), its logprobs, and why
 * it ended. Every piece is one token under the shared counting rule (tokens.ts), so the usage the simulator
 * reports equals what the marketplace counts from the content, tool-call names and arguments included.
 */
import { generateTokens } from './generate.js';
import { chatLogprobs, type TokenLogprob } from './logprobs.js';
import { cutAtStop, jsonContent, type ContentFormat } from './output.js';
import { countTokens, tokenize } from './tokenizer.js';
import type { ToolCallText } from './tools.js';

export interface ToolCallPlan {
  id: string;
  name: string;
  /** The arguments JSON as token pieces (cut short when the token limit strikes). */
  argPieces: string[];
}

export type FinishReason = 'stop' | 'length' | 'tool_calls';

export interface ChoicePlan {
  index: number;
  /** Content pieces, one token each. */
  tokens: string[];
  toolCalls: ToolCallPlan[];
  finishReason: FinishReason;
  /** Per content piece, when logprobs were asked. */
  logprobs: TokenLogprob[] | null;
}

/** What shapes one choice: its seed and prompt, the lengths, and the request's tools / format / stop / logprobs. */
export interface ChoiceSpec {
  index: number;
  seed: number;
  prompt: string;
  /** The length the model would write unprompted (text replies). */
  natural: number;
  /** The most tokens it may write (max_tokens, the context left, the simulator's cap). */
  limit: number;
  calls: ToolCallText[];
  format: ContentFormat;
  stops: string[];
  /** top_logprobs count when logprobs are asked; null otherwise. */
  topLogprobs: number | null;
}

/** Completion tokens a choice writes: content pieces plus each call's name and argument pieces. */
export function choiceTokens(c: ChoicePlan): number {
  return c.tokens.length + c.toolCalls.reduce((n, t) => n + countTokens(t.name) + t.argPieces.length, 0);
}

function toolChoice(spec: ChoiceSpec): ChoicePlan {
  let budget = spec.limit;
  let cut = false;
  const toolCalls: ToolCallPlan[] = [];
  for (const call of spec.calls) {
    const nameTokens = countTokens(call.name);
    if (budget < nameTokens) {
      cut = true;
      break;
    }
    const pieces = tokenize(call.arguments);
    const room = budget - nameTokens;
    if (pieces.length > room) cut = true;
    toolCalls.push({ id: call.id, name: call.name, argPieces: pieces.slice(0, room) });
    budget -= nameTokens + Math.min(pieces.length, room);
    if (cut) break;
  }
  return { index: spec.index, tokens: [], toolCalls, finishReason: cut ? 'length' : 'tool_calls', logprobs: spec.topLogprobs === null ? null : [] };
}

/** The choice `spec` describes: tool calls when there are any, else text (or JSON) cut at stop / limit. */
export function planChoice(spec: ChoiceSpec): ChoicePlan {
  if (spec.calls.length > 0) return toolChoice(spec);
  const full = spec.format.kind === 'json' ? jsonContent(spec.format, spec.seed) : generateTokens(spec.seed, spec.prompt, spec.natural).join('');
  const { text } = cutAtStop(full, spec.stops);
  const pieces = tokenize(text);
  const tokens = pieces.slice(0, spec.limit);
  return {
    index: spec.index,
    tokens,
    toolCalls: [],
    finishReason: pieces.length > spec.limit ? 'length' : 'stop',
    logprobs: spec.topLogprobs === null ? null : chatLogprobs(spec.seed, tokens, spec.topLogprobs),
  };
}
