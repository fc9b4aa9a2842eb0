/**
 * A planned choice in OpenAI's wire shapes: whole (chat.completion / text_completion choices) and as the
 * stream's deltas, exactly as OpenAI streams them:
 *   chat: a role delta; content deltas of `tokensPerFrame` tokens (with their logprobs when asked); or, for
 *   each tool call, a first delta with index, id, type, function.name and arguments "" and then argument
 *   fragments carrying only the call's index; last, an empty delta with the finish_reason.
 *   completions: text pieces (legacy logprobs when asked), then an empty text with the finish_reason.
 */
import { choiceTokens, type ChoicePlan } from './choices.js';
import type { GenerationPlan } from './plan.js';
import { legacyLogprobs, type TokenLogprob } from './logprobs.js';
import { countTokens } from './tokenizer.js';

export type Kind = 'chat' | 'completion';

/** A chat choice's logprobs object ({ content, refusal }), or null when not asked. */
function chatLogprobsOf(entries: TokenLogprob[] | null): Record<string, unknown> | null {
  return entries === null ? null : { content: entries, refusal: null };
}

/** The whole choice, as a non-streamed reply carries it. */
export function plainChoice(kind: Kind, c: ChoicePlan): Record<string, unknown> {
  const text = c.tokens.join('');
  if (kind === 'completion') {
    return { index: c.index, text, logprobs: c.logprobs === null ? null : legacyLogprobs(c.logprobs, 0), finish_reason: c.finishReason };
  }
  const message: Record<string, unknown> = { role: 'assistant', content: c.toolCalls.length > 0 ? null : text, refusal: null, annotations: [] };
  if (c.toolCalls.length > 0) {
    message.tool_calls = c.toolCalls.map((t) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.argPieces.join('') } }));
  }
  return { index: c.index, message, logprobs: chatLogprobsOf(c.logprobs), finish_reason: c.finishReason };
}

/** One streamed delta of a choice and the completion tokens it carries. */
export interface Unit {
  choice: Record<string, unknown>;
  tokens: number;
}

function slices<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

function chatUnits(c: ChoicePlan, perFrame: number): Unit[] {
  const delta = (d: Record<string, unknown>, tokens: number, logprobs: TokenLogprob[] | null = null): Unit => ({
    choice: { index: c.index, delta: d, logprobs: chatLogprobsOf(logprobs), finish_reason: null },
    tokens,
  });
  const calling = c.toolCalls.length > 0;
  const units: Unit[] = [delta({ role: 'assistant', content: calling ? null : '', refusal: null }, 0)];
  slices(c.tokens.map((t, i) => i), perFrame).forEach((at) => {
    const text = at.map((i) => c.tokens[i]).join('');
    units.push(delta({ content: text }, at.length, c.logprobs === null ? null : at.map((i) => c.logprobs![i]!)));
  });
  c.toolCalls.forEach((t, index) => {
    const head = { index, id: t.id, type: 'function', function: { name: t.name, arguments: '' } };
    units.push(delta({ tool_calls: [head] }, countTokens(t.name)));
    for (const piece of slices(t.argPieces, perFrame)) units.push(delta({ tool_calls: [{ index, function: { arguments: piece.join('') } }] }, piece.length));
  });
  units.push({ choice: { index: c.index, delta: {}, logprobs: null, finish_reason: c.finishReason }, tokens: 0 });
  return units;
}

function completionUnits(c: ChoicePlan, perFrame: number): Unit[] {
  const units: Unit[] = [];
  let offset = 0;
  slices(c.tokens.map((t, i) => i), perFrame).forEach((at) => {
    const text = at.map((i) => c.tokens[i]).join('');
    const logprobs = c.logprobs === null ? null : legacyLogprobs(at.map((i) => c.logprobs![i]!), offset);
    units.push({ choice: { index: c.index, text, logprobs, finish_reason: null }, tokens: at.length });
    offset += text.length;
  });
  units.push({ choice: { index: c.index, text: '', logprobs: null, finish_reason: c.finishReason }, tokens: 0 });
  return units;
}

/** The choice's stream deltas, in order. */
export function streamUnits(kind: Kind, c: ChoicePlan, perFrame: number): Unit[] {
  return kind === 'chat' ? chatUnits(c, perFrame) : completionUnits(c, perFrame);
}

export function usageOf(p: GenerationPlan): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  const completion = p.choices.reduce((n, c) => n + choiceTokens(c), 0);
  return { prompt_tokens: p.promptTokens, completion_tokens: completion, total_tokens: p.promptTokens + completion };
}

/** The whole reply (chat.completion or text_completion). */
export function plainBody(p: GenerationPlan): Record<string, unknown> {
  return {
    id: p.id,
    object: p.kind === 'chat' ? 'chat.completion' : 'text_completion',
    created: p.created,
    model: p.model,
    choices: p.choices.map((c) => plainChoice(p.kind, c)),
    usage: usageOf(p),
    system_fingerprint: 'fp_compux_sim',
  };
}

/** A streamed frame: its payload, the completion tokens it carries, and the per-choice index of its last token (pacing). */
export interface Frame {
  data: Record<string, unknown>;
  tokens: number;
  at: number;
}

/** Every frame of the stream: each choice's deltas round-robin across choices, then the usage frame when `withUsage`. */
export function streamFrames(p: GenerationPlan, perFrame: number, withUsage: boolean): Frame[] {
  const base = { id: p.id, object: p.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion', created: p.created, model: p.model };
  const extra = p.kind === 'chat' ? { system_fingerprint: 'fp_compux_sim' } : {};
  // With include_usage every chunk carries usage: null, as OpenAI's do.
  const usageNull = p.includeUsage ? { usage: null } : {};
  const perChoice = p.choices.map((c) => streamUnits(p.kind, c, perFrame));
  const list: Frame[] = [];
  const counted = p.choices.map(() => 0);
  const rounds = Math.max(0, ...perChoice.map((u) => u.length));
  for (let r = 0; r < rounds; r++) {
    perChoice.forEach((units, ci) => {
      const u = units[r];
      if (!u) return;
      counted[ci]! += u.tokens;
      list.push({ data: { ...base, ...extra, choices: [u.choice], ...usageNull }, tokens: u.tokens, at: Math.max(0, counted[ci]! - 1) });
    });
  }
  const longest = Math.max(0, ...counted);
  if (withUsage) list.push({ data: { ...base, ...extra, choices: [], usage: usageOf(p) }, tokens: 0, at: Math.max(0, longest - 1) });
  return list;
}
