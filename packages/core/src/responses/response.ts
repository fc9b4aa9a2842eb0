/**
 * OpenAI's Response object, built from a chat completion (whole) or from what a translated stream produced: its
 * output items (an assistant `message` with `output_text`, `function_call`s), status, usage and the request's
 * settings echoed back as OpenAI echoes them.
 */
import { outputItemId, type ContentPart, type FunctionCallItem, type MessageItem } from './items.js';

export type ResponseStatus = 'in_progress' | 'completed' | 'incomplete' | 'failed';

export type OutputItem = MessageItem | FunctionCallItem;

/** What a Response carries of its request, fixed before the provider is called. */
export interface ResponseShell {
  id: string;
  created_at: number;
  model: string;
  instructions: string | null;
  max_output_tokens: number | null;
  metadata: Record<string, string>;
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  store: boolean;
  temperature: number | null;
  top_p: number | null;
  text: { format: Record<string, unknown> };
  tool_choice: unknown;
  tools: Record<string, unknown>[];
  user: string | null;
}

export interface ResponseUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export interface ResponseObject extends Omit<ResponseShell, 'store'> {
  object: 'response';
  status: ResponseStatus;
  error: { code: string; message: string } | null;
  incomplete_details: { reason: 'max_output_tokens' | 'content_filter' } | null;
  output: OutputItem[];
  usage: ResponseUsage | null;
  store: boolean;
  background: false;
  reasoning: { effort: null; summary: null };
  service_tier: 'default';
  truncation: 'disabled';
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** Chat usage (prompt/completion tokens and their details) as a Response's usage. */
export function responseUsage(chat: unknown): ResponseUsage | null {
  if (!chat || typeof chat !== 'object') return null;
  const u = chat as { prompt_tokens?: unknown; completion_tokens?: unknown; prompt_tokens_details?: { cached_tokens?: unknown }; completion_tokens_details?: { reasoning_tokens?: unknown } };
  const input = num(u.prompt_tokens);
  const output = num(u.completion_tokens);
  return {
    input_tokens: input, input_tokens_details: { cached_tokens: num(u.prompt_tokens_details?.cached_tokens) },
    output_tokens: output, output_tokens_details: { reasoning_tokens: num(u.completion_tokens_details?.reasoning_tokens) },
    total_tokens: input + output,
  };
}

/** How a chat finish_reason ends a Response: cut by length or a filter → incomplete, with OpenAI's reason. */
export function endingOf(finishReason: string | null): Pick<ResponseObject, 'status' | 'incomplete_details'> {
  if (finishReason === 'length') return { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } };
  if (finishReason === 'content_filter') return { status: 'incomplete', incomplete_details: { reason: 'content_filter' } };
  return { status: 'completed', incomplete_details: null };
}

export function responseObject(shell: ResponseShell, fields: Pick<ResponseObject, 'status' | 'output' | 'usage' | 'error' | 'incomplete_details'>): ResponseObject {
  return {
    ...shell, object: 'response', background: false, reasoning: { effort: null, summary: null }, service_tier: 'default', truncation: 'disabled', ...fields,
  };
}

export function textPart(text: string): ContentPart & { annotations: unknown[]; logprobs: unknown[] } {
  return { type: 'output_text', text, annotations: [], logprobs: [] };
}

interface ChatReplyMessage {
  content?: unknown;
  refusal?: unknown;
  tool_calls?: { id?: unknown; function?: { name?: unknown; arguments?: unknown } }[];
}

/** A chat.completion's first choice as output items: its text (a message), then its tool calls (function calls). */
export function outputOfChat(responseId: string, message: ChatReplyMessage | undefined, status: 'completed' | 'incomplete'): OutputItem[] {
  const out: OutputItem[] = [];
  const content: ContentPart[] = [];
  if (typeof message?.content === 'string' && message.content !== '') content.push(textPart(message.content));
  if (typeof message?.refusal === 'string' && message.refusal !== '') content.push({ type: 'refusal', refusal: message.refusal });
  if (content.length > 0) out.push({ type: 'message', id: outputItemId(responseId, 'msg', out.length), status, role: 'assistant', content });
  for (const call of message?.tool_calls ?? []) {
    const index = out.length;
    out.push({
      type: 'function_call', id: outputItemId(responseId, 'fc', index), call_id: typeof call.id === 'string' ? call.id : `call_${index}`,
      name: String(call.function?.name ?? ''), arguments: typeof call.function?.arguments === 'string' ? call.function.arguments : '', status: 'completed',
    });
  }
  return out;
}

/** The Response a whole chat.completion makes. */
export function responseOfChat(shell: ResponseShell, chat: Record<string, unknown>): ResponseObject {
  const choice = (Array.isArray(chat.choices) ? chat.choices[0] : undefined) as { message?: ChatReplyMessage; finish_reason?: unknown } | undefined;
  const ending = endingOf(typeof choice?.finish_reason === 'string' ? choice.finish_reason : null);
  const output = outputOfChat(shell.id, choice?.message, ending.status === 'completed' ? 'completed' : 'incomplete');
  return responseObject(shell, { ...ending, output, usage: responseUsage(chat.usage), error: null });
}
