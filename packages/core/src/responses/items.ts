/**
 * The items of a Responses API conversation (OpenAI's input and output item shapes, the subset CompuX serves:
 * messages, function calls and their outputs), their ids, and their translation to chat completion messages,
 * which is what the providers serve.
 */

/** One content part of a message: input_text / output_text / refusal carry `text`; input_image an `image_url`. */
export interface ContentPart {
  type: string;
  text?: string;
  refusal?: string;
  image_url?: string;
  detail?: string;
}

export type MessageRole = 'user' | 'system' | 'developer' | 'assistant';

export interface MessageItem {
  type: 'message';
  role: MessageRole;
  content: string | ContentPart[];
  id?: string;
  status?: string;
}

export interface FunctionCallItem {
  type: 'function_call';
  call_id: string;
  name: string;
  arguments: string;
  id?: string;
  status?: string;
}

export interface FunctionCallOutputItem {
  type: 'function_call_output';
  call_id: string;
  output: string | ContentPart[];
  id?: string;
  status?: string;
}

export type ConversationItem = MessageItem | FunctionCallItem | FunctionCallOutputItem;

/** A chat completion message, as the providers take it. */
export interface ChatMessage {
  role: string;
  content: string | Record<string, unknown>[] | null;
  tool_calls?: { id: string; type: 'function'; function: { name: string; arguments: string } }[];
  tool_call_id?: string;
}

// ---------- item ids ----------

/**
 * An output item's id names its response: `msg_<response id body>_<output index>` (fc_ for a function call), so an
 * `item_reference` to it is found with one read of that response, without an index of items.
 */
export function outputItemId(responseId: string, kind: 'msg' | 'fc', index: number): string {
  return `${kind}_${responseId.slice('resp_'.length)}_${index}`;
}

const OUTPUT_ITEM_ID = /^(?:msg|fc)_([A-Za-z0-9]{1,64})_(\d{1,4})$/;

/** The response and output index an item id names; null when it is not one of ours. */
export function parseOutputItemId(itemId: string): { response_id: string; index: number } | null {
  const m = OUTPUT_ITEM_ID.exec(itemId);
  return m ? { response_id: `resp_${m[1]}`, index: Number(m[2]) } : null;
}

// ---------- to chat messages ----------

function partsText(parts: readonly ContentPart[]): string {
  return parts.map((p) => p.text ?? p.refusal ?? '').join('');
}

/** A user/system/developer message's content: plain text as a string; with images, chat content parts. */
function inputContent(content: string | ContentPart[]): string | Record<string, unknown>[] {
  if (typeof content === 'string') return content;
  if (!content.some((p) => p.type === 'input_image')) return partsText(content);
  return content.map((p) =>
    p.type === 'input_image'
      ? { type: 'image_url', image_url: { url: p.image_url ?? '', ...(p.detail ? { detail: p.detail } : {}) } }
      : { type: 'text', text: p.text ?? '' },
  );
}

function outputText(output: string | ContentPart[]): string {
  return typeof output === 'string' ? output : partsText(output);
}

/**
 * The conversation as chat messages: `instructions` first (as a system message), then each item in order; function
 * calls join the assistant message before them (or make one), as chat carries them (tool_calls of one message).
 */
export function toChatMessages(instructions: string | undefined, items: readonly ConversationItem[]): ChatMessage[] {
  const out: ChatMessage[] = instructions ? [{ role: 'system', content: instructions }] : [];
  for (const item of items) {
    if (item.type === 'message') {
      out.push(item.role === 'assistant' ? { role: 'assistant', content: typeof item.content === 'string' ? item.content : partsText(item.content) } : { role: item.role, content: inputContent(item.content) });
    } else if (item.type === 'function_call') {
      const call = { id: item.call_id, type: 'function' as const, function: { name: item.name, arguments: item.arguments } };
      const last = out[out.length - 1];
      if (last?.role === 'assistant') (last.tool_calls ??= []).push(call);
      else out.push({ role: 'assistant', content: null, tool_calls: [call] });
    } else {
      out.push({ role: 'tool', tool_call_id: item.call_id, content: outputText(item.output) });
    }
  }
  return out;
}
