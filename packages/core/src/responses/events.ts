/**
 * A chat completion stream (chat.completion.chunk events) retold as OpenAI's Responses stream, in its order:
 * response.created, response.in_progress; per output item output_item.added, then for a message
 * content_part.added, output_text.delta…, output_text.done, content_part.done, and for a function call
 * function_call_arguments.delta…, function_call_arguments.done; output_item.done; then response.completed
 * (or response.incomplete when cut by length, response.failed when the provider failed part-way). Every event
 * carries `sequence_number`, from 0.
 */
import { outputItemId, type FunctionCallItem, type MessageItem } from './items.js';
import { endingOf, responseObject, responseUsage, textPart, type OutputItem, type ResponseObject, type ResponseShell, type ResponseUsage } from './response.js';

export interface ResponseEvent {
  type: string;
  [field: string]: unknown;
}

interface OpenText {
  kind: 'text';
  index: number;
  text: string;
}

interface OpenCall {
  kind: 'call';
  index: number;
  call_id: string;
  name: string;
  arguments: string;
}

type ChunkToolCall = { index?: unknown; id?: unknown; function?: { name?: unknown; arguments?: unknown } };
type ChunkChoice = { index?: unknown; delta?: { content?: unknown; tool_calls?: ChunkToolCall[] }; finish_reason?: unknown };

export class ResponseStreamTranslator {
  private seq = 0;
  /** Output items in order: closed ones whole, open ones as they grow. */
  private readonly items: (OutputItem | OpenText | OpenCall)[] = [];
  private text: OpenText | null = null;
  /** Open function calls by the chat tool call's index. */
  private readonly calls = new Map<number, OpenCall>();
  private finishReason: string | null = null;
  private usage: ResponseUsage | null = null;
  /** The Response the stream ended with (completed, incomplete or failed); null while it runs. */
  final: ResponseObject | null = null;

  constructor(private readonly shell: ResponseShell) {}

  private event(type: string, fields: Record<string, unknown>): ResponseEvent {
    return { type, sequence_number: this.seq++, ...fields };
  }

  private snapshot(fields: Pick<ResponseObject, 'status' | 'usage' | 'error' | 'incomplete_details'>, output: OutputItem[]): ResponseObject {
    return responseObject(this.shell, { ...fields, output });
  }

  /** The two events that open the stream. */
  start(): ResponseEvent[] {
    const r = this.snapshot({ status: 'in_progress', usage: null, error: null, incomplete_details: null }, []);
    return [this.event('response.created', { response: r }), this.event('response.in_progress', { response: r })];
  }

  /** The events one chat chunk makes (only the first choice: a Response has one). */
  chunk(chunk: Record<string, unknown>): ResponseEvent[] {
    const out: ResponseEvent[] = [];
    if (chunk.usage) this.usage = responseUsage(chunk.usage);
    const choice = (Array.isArray(chunk.choices) ? chunk.choices.find((c: ChunkChoice) => (c?.index ?? 0) === 0) : undefined) as ChunkChoice | undefined;
    if (!choice) return out;
    const content = choice.delta?.content;
    if (typeof content === 'string' && content !== '') out.push(...this.textDelta(content));
    for (const call of choice.delta?.tool_calls ?? []) out.push(...this.callDelta(call));
    if (typeof choice.finish_reason === 'string') this.finishReason = choice.finish_reason;
    return out;
  }

  private textDelta(delta: string): ResponseEvent[] {
    const out: ResponseEvent[] = [];
    if (!this.text) {
      this.text = { kind: 'text', index: this.items.length, text: '' };
      this.items.push(this.text);
      const id = outputItemId(this.shell.id, 'msg', this.text.index);
      out.push(this.event('response.output_item.added', { output_index: this.text.index, item: { id, type: 'message', status: 'in_progress', role: 'assistant', content: [] } }));
      out.push(this.event('response.content_part.added', { item_id: id, output_index: this.text.index, content_index: 0, part: textPart('') }));
    }
    this.text.text += delta;
    out.push(this.event('response.output_text.delta', { item_id: outputItemId(this.shell.id, 'msg', this.text.index), output_index: this.text.index, content_index: 0, delta, logprobs: [] }));
    return out;
  }

  private callDelta(call: ChunkToolCall): ResponseEvent[] {
    const out: ResponseEvent[] = [];
    const key = typeof call.index === 'number' ? call.index : 0;
    let open = this.calls.get(key);
    if (!open) {
      // A message before the calls is done once they start, as OpenAI's streams order their items.
      if (this.text) out.push(...this.closeText('completed'));
      open = { kind: 'call', index: this.items.length, call_id: typeof call.id === 'string' ? call.id : `call_${this.items.length}`, name: String(call.function?.name ?? ''), arguments: '' };
      this.calls.set(key, open);
      this.items.push(open);
      out.push(this.event('response.output_item.added', { output_index: open.index, item: { ...this.callItem(open, 'in_progress'), arguments: '' } }));
    }
    const delta = call.function?.arguments;
    if (typeof delta === 'string' && delta !== '') {
      open.arguments += delta;
      out.push(this.event('response.function_call_arguments.delta', { item_id: outputItemId(this.shell.id, 'fc', open.index), output_index: open.index, delta }));
    }
    return out;
  }

  private callItem(c: OpenCall, status: string): FunctionCallItem {
    return { id: outputItemId(this.shell.id, 'fc', c.index), type: 'function_call', status, arguments: c.arguments, call_id: c.call_id, name: c.name };
  }

  private closeText(status: 'completed' | 'incomplete'): ResponseEvent[] {
    const t = this.text;
    if (!t) return [];
    this.text = null;
    const id = outputItemId(this.shell.id, 'msg', t.index);
    const item: MessageItem = { id, type: 'message', status, role: 'assistant', content: [textPart(t.text)] };
    this.items[t.index] = item;
    return [
      this.event('response.output_text.done', { item_id: id, output_index: t.index, content_index: 0, text: t.text, logprobs: [] }),
      this.event('response.content_part.done', { item_id: id, output_index: t.index, content_index: 0, part: textPart(t.text) }),
      this.event('response.output_item.done', { output_index: t.index, item }),
    ];
  }

  private closeAll(status: 'completed' | 'incomplete'): ResponseEvent[] {
    const out = this.closeText(status);
    for (const c of this.calls.values()) {
      const item = this.callItem(c, status);
      this.items[c.index] = item;
      out.push(this.event('response.function_call_arguments.done', { item_id: item.id, output_index: c.index, name: c.name, arguments: c.arguments }));
      out.push(this.event('response.output_item.done', { output_index: c.index, item }));
    }
    this.calls.clear();
    return out;
  }

  private closedOutput(): OutputItem[] {
    return this.items.filter((i): i is OutputItem => !('kind' in i));
  }

  /** The provider's stream ended whole ([DONE]): the items close, and the Response completes (or is incomplete). */
  done(): ResponseEvent[] {
    const ending = endingOf(this.finishReason);
    const out = this.closeAll(ending.status === 'completed' ? 'completed' : 'incomplete');
    this.final = this.snapshot({ ...ending, usage: this.usage, error: null }, this.closedOutput());
    out.push(this.event(ending.status === 'completed' ? 'response.completed' : 'response.incomplete', { response: this.final }));
    return out;
  }

  /** The provider failed part-way: open items close as incomplete, and the Response fails with OpenAI's server_error. */
  failed(message: string): ResponseEvent[] {
    const out = this.closeAll('incomplete');
    this.final = this.snapshot({ status: 'failed', usage: this.usage, error: { code: 'server_error', message }, incomplete_details: null }, this.closedOutput());
    out.push(this.event('response.failed', { response: this.final }));
    return out;
  }
}

/** One Responses event as server-sent event text (OpenAI names each event). */
export function responseEventFrame(e: ResponseEvent): string {
  return `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
}
