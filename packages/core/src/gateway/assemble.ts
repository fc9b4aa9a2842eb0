/**
 * A chat.completion rebuilt from a provider's stream of chat.completion.chunk (OpenAI's shapes), for a
 * request without max_tokens that the caller asked for whole but the gateway streamed from the provider
 * so it could cut it where the credit ends (progressive.ts). Content, refusal, tool calls (merged by
 * index, their arguments concatenated), logprobs and finish_reason are kept per choice.
 */

interface ToolCall {
  id?: unknown;
  type?: unknown;
  function: { name: string; arguments: string };
}

interface Choice {
  role: unknown;
  content: string | null;
  refusal: string | null;
  tool_calls: Map<number, ToolCall>;
  logprobs: unknown[] | null;
  finish_reason: string | null;
}

type Delta = { role?: unknown; content?: unknown; refusal?: unknown; tool_calls?: unknown };

export class ChatAssembler {
  private readonly envelope: Record<string, unknown> = {};
  private readonly choices = new Map<number, Choice>();
  /** The provider's usage object as sent (with its details), the last one seen. */
  usage: unknown = null;

  /** Takes one chunk (before the meter, which may strip its usage). */
  add(chunk: Record<string, unknown>): void {
    for (const k of ['id', 'created', 'model', 'system_fingerprint', 'service_tier']) if (chunk[k] !== undefined && chunk[k] !== null) this.envelope[k] = chunk[k];
    if (chunk.usage) this.usage = chunk.usage;
    if (!Array.isArray(chunk.choices)) return;
    for (const raw of chunk.choices as unknown[]) {
      const c = (raw ?? {}) as { index?: unknown; delta?: Delta; logprobs?: { content?: unknown } | null; finish_reason?: unknown };
      const index = typeof c.index === 'number' ? c.index : 0;
      const choice = this.choice(index);
      if (c.delta) addDelta(choice, c.delta);
      if (Array.isArray(c.logprobs?.content)) (choice.logprobs ??= []).push(...(c.logprobs.content as unknown[]));
      if (typeof c.finish_reason === 'string') choice.finish_reason = c.finish_reason;
    }
  }

  private choice(index: number): Choice {
    let c = this.choices.get(index);
    if (!c) {
      c = { role: 'assistant', content: null, refusal: null, tool_calls: new Map(), logprobs: null, finish_reason: null };
      this.choices.set(index, c);
    }
    return c;
  }

  /** Every choice of the n asked that has not finished ends with `reason` (a cut: "length"). */
  finishOpen(n: number, reason: string): void {
    for (let i = 0; i < n; i++) {
      const c = this.choice(i);
      c.finish_reason ??= reason;
    }
  }

  /** The whole reply, with `usage` (the provider's when the stream was whole, else the billed count). */
  completion(usage: unknown): Record<string, unknown> {
    const choices = [...this.choices.entries()].sort(([a], [b]) => a - b).map(([index, c]) => ({
      index,
      message: {
        role: c.role,
        content: c.content,
        refusal: c.refusal,
        ...(c.tool_calls.size > 0 ? { tool_calls: [...c.tool_calls.entries()].sort(([a], [b]) => a - b).map(([, t]) => t) } : {}),
      },
      logprobs: c.logprobs ? { content: c.logprobs } : null,
      finish_reason: c.finish_reason,
    }));
    return { ...this.envelope, object: 'chat.completion', choices, usage };
  }
}

function addDelta(choice: Choice, d: Delta): void {
  if (typeof d.role === 'string') choice.role = d.role;
  if (typeof d.content === 'string') choice.content = (choice.content ?? '') + d.content;
  if (typeof d.refusal === 'string') choice.refusal = (choice.refusal ?? '') + d.refusal;
  if (!Array.isArray(d.tool_calls)) return;
  for (const raw of d.tool_calls as unknown[]) {
    const t = (raw ?? {}) as { index?: unknown; id?: unknown; type?: unknown; function?: { name?: unknown; arguments?: unknown } };
    const i = typeof t.index === 'number' ? t.index : choice.tool_calls.size;
    const call = choice.tool_calls.get(i) ?? { function: { name: '', arguments: '' } };
    if (t.id !== undefined) call.id = t.id;
    if (t.type !== undefined) call.type = t.type;
    if (typeof t.function?.name === 'string') call.function.name += t.function.name;
    if (typeof t.function?.arguments === 'string') call.function.arguments += t.function.arguments;
    choice.tool_calls.set(i, call);
  }
}
