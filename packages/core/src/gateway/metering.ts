/**
 * Metering (SPEC §4): tokens come from the provider's usage report; without one, they are counted from
 * what the provider sent and the request is flagged estimated.
 */
import { MAX_TOKENS_PER_REQUEST } from '../pricing.js';
import { countTokens } from '../tokens.js';

export interface Metered {
  prompt_tokens: number;
  completion_tokens: number;
  estimated: boolean;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}

/** A provider's usage report, if it is one we can bill on (whole, in range); else null. */
export function usageOf(v: unknown): Usage | null {
  if (!v || typeof v !== 'object') return null;
  const u = v as { prompt_tokens?: unknown; completion_tokens?: unknown };
  const ok = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 && n <= MAX_TOKENS_PER_REQUEST;
  if (!ok(u.prompt_tokens)) return null;
  // Embeddings report no completion tokens.
  const completion = u.completion_tokens === undefined ? 0 : u.completion_tokens;
  if (!ok(completion)) return null;
  return { prompt_tokens: u.prompt_tokens as number, completion_tokens: completion as number };
}

/** Text a streamed or whole choice carries: what we count when the provider reports no usage. */
export function choiceText(choice: unknown): string {
  if (!choice || typeof choice !== 'object') return '';
  const c = choice as { delta?: Record<string, unknown>; message?: Record<string, unknown>; text?: unknown };
  if (typeof c.text === 'string') return c.text;
  const m = c.delta ?? c.message;
  if (!m) return '';
  let out = typeof m.content === 'string' ? m.content : '';
  if (typeof m.refusal === 'string') out += m.refusal;
  if (Array.isArray(m.tool_calls)) {
    for (const t of m.tool_calls as { function?: { name?: unknown; arguments?: unknown } }[]) {
      if (typeof t?.function?.name === 'string') out += t.function.name;
      if (typeof t?.function?.arguments === 'string') out += t.function.arguments;
    }
  }
  return out;
}

/** Completion tokens one streamed chunk carries, over all its choices (each frame carries whole tokens). */
export function frameTokens(chunk: Record<string, unknown>): number {
  const choices = Array.isArray(chunk.choices) ? (chunk.choices as unknown[]) : [];
  return choices.reduce<number>((n, c) => n + countTokens(choiceText(c)), 0);
}
