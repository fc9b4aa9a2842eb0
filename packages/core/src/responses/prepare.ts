/**
 * A Responses API request (validated by functions/lib/responses-schemas.ts) as the chat completion the gateway
 * serves: the stored conversation of `previous_response_id` first, then the request's input (`item_reference`s
 * replaced by the stored items they name), `instructions` as a system message, function tools, tool_choice,
 * text.format as response_format, max_output_tokens as max_tokens. Reads the store before the provider is
 * called (at most one read for the previous response, one per referenced response); writes nothing.
 */
import type { ErrorSpec } from '../gateway/errors.js';
import { parseOutputItemId, toChatMessages, type ConversationItem } from './items.js';
import type { ResponseShell } from './response.js';
import { MAX_STORED_CONVERSATION_BYTES, type ResponseStore, type StoredResponse } from './store.js';

export type InputItem = ConversationItem | { type: 'item_reference'; id: string };

export interface FunctionTool {
  type: 'function';
  name: string;
  description?: string;
  parameters?: Record<string, unknown>;
  strict?: boolean;
}

export type ToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; name: string };

/** The request as validated: the fields CompuX acts on (others are refused or ignored by the schema). */
export interface ResponsesRequest {
  model: string;
  input: string | InputItem[];
  instructions?: string;
  tools?: FunctionTool[];
  tool_choice?: ToolChoice;
  parallel_tool_calls?: boolean;
  text?: { format?: { type: 'text' } | { type: 'json_object' } | { type: 'json_schema'; name: string; schema?: Record<string, unknown>; strict?: boolean; description?: string } };
  max_output_tokens?: number;
  temperature?: number;
  top_p?: number;
  stream?: boolean;
  store?: boolean;
  previous_response_id?: string;
  metadata?: Record<string, string>;
  user?: string;
}

export interface PreparedResponse {
  /** The chat completion request the gateway serves. */
  chat: Record<string, unknown>;
  shell: ResponseShell;
  /** What is stored with the Response: every item before its output. */
  conversation: ConversationItem[];
}

/** How many referenced responses one request may read (each `item_reference` to another response is one read). */
export const MAX_REFERENCED_RESPONSES = 16;

const previousNotFound = (id: string): ErrorSpec => ({ status: 400, type: 'invalid_request_error', code: 'previous_response_not_found', param: 'previous_response_id', message: `Previous response with id '${id}' not found.` });
const itemNotFound = (id: string, index: number): ErrorSpec => ({ status: 400, type: 'invalid_request_error', code: 'invalid_value', param: `input[${index}].id`, message: `Item with id '${id}' not found.` });

/** The items `item_reference`s name, looked up in their responses (the request's own startup's only). */
async function resolveReferences(items: InputItem[], startupId: string, store: ResponseStore, known: Map<string, StoredResponse | null>): Promise<ConversationItem[] | ErrorSpec> {
  const out: ConversationItem[] = [];
  for (const [index, item] of items.entries()) {
    if (item.type !== 'item_reference') {
      out.push(item);
      continue;
    }
    const ref = parseOutputItemId(item.id);
    if (!ref) return itemNotFound(item.id, index);
    if (!known.has(ref.response_id)) {
      if (known.size >= MAX_REFERENCED_RESPONSES) return { status: 400, type: 'invalid_request_error', code: 'invalid_value', param: `input[${index}].id`, message: `A request may reference items of at most ${MAX_REFERENCED_RESPONSES} responses.` };
      known.set(ref.response_id, await readSettled(store, startupId, ref.response_id));
    }
    const found = known.get(ref.response_id)?.response.output[ref.index];
    if (!found || found.id !== item.id) return itemNotFound(item.id, index);
    out.push(found);
  }
  return out;
}

/**
 * A response is stored just after its reply's last byte (never before it: no write on the reply's path), so a
 * client that sends the next turn at once may come before the write: a miss is read once more after this long.
 */
export const STORE_SETTLE_MS = 300;

async function readSettled(store: ResponseStore, startupId: string, id: string): Promise<StoredResponse | null> {
  const first = await store.get(startupId, id);
  if (first) return first;
  await new Promise((r) => setTimeout(r, STORE_SETTLE_MS));
  return store.get(startupId, id);
}

/** The input as items: a string is one user message; a message item may leave its `type` out (OpenAI's EasyInputMessage). */
const asItems = (input: string | InputItem[]): InputItem[] =>
  typeof input === 'string' ? [{ type: 'message', role: 'user', content: input }] : input.map((i) => (i.type === undefined ? { ...(i as object), type: 'message' } as InputItem : i));

/** The chat request's own fields (beyond model and messages), from the Responses request's. */
function chatFields(r: ResponsesRequest): Record<string, unknown> {
  const f: Record<string, unknown> = {};
  if (r.max_output_tokens !== undefined) f.max_tokens = r.max_output_tokens;
  if (r.temperature !== undefined) f.temperature = r.temperature;
  if (r.top_p !== undefined) f.top_p = r.top_p;
  if (r.user !== undefined) f.user = r.user;
  if (r.tools && r.tools.length > 0) {
    f.tools = r.tools.map((t) => ({ type: 'function', function: { name: t.name, ...(t.description !== undefined ? { description: t.description } : {}), ...(t.parameters ? { parameters: t.parameters } : {}), ...(t.strict !== undefined ? { strict: t.strict } : {}) } }));
    if (r.parallel_tool_calls !== undefined) f.parallel_tool_calls = r.parallel_tool_calls;
  }
  if (r.tool_choice !== undefined) f.tool_choice = typeof r.tool_choice === 'string' ? r.tool_choice : { type: 'function', function: { name: r.tool_choice.name } };
  const format = r.text?.format;
  if (format?.type === 'json_object') f.response_format = { type: 'json_object' };
  if (format?.type === 'json_schema') {
    f.response_format = { type: 'json_schema', json_schema: { name: format.name, ...(format.schema ? { schema: format.schema } : {}), ...(format.strict !== undefined ? { strict: format.strict } : {}), ...(format.description !== undefined ? { description: format.description } : {}) } };
  }
  if (r.stream === true) {
    f.stream = true;
    // The translation needs the usage chunk for response.completed, whatever the client asked.
    f.stream_options = { include_usage: true };
  }
  return f;
}

function shellOf(r: ResponsesRequest, id: string, createdAtS: number): ResponseShell {
  return {
    id, created_at: createdAtS, model: r.model, instructions: r.instructions ?? null, max_output_tokens: r.max_output_tokens ?? null, metadata: r.metadata ?? {},
    parallel_tool_calls: r.parallel_tool_calls ?? true, previous_response_id: r.previous_response_id ?? null, store: r.store !== false,
    temperature: r.temperature ?? 1, top_p: r.top_p ?? 1, text: { format: r.text?.format ?? { type: 'text' } }, tool_choice: r.tool_choice ?? 'auto',
    tools: (r.tools ?? []).map((t) => ({ ...t, strict: t.strict ?? true, description: t.description ?? null, parameters: t.parameters ?? null })), user: r.user ?? null,
  };
}

/** The request as a chat completion, or the refusal (an unknown previous response or item, a conversation too big to store). */
export async function prepareResponse(r: ResponsesRequest, o: { startup_id: string; id: string; created_at_s: number; store: ResponseStore }): Promise<PreparedResponse | ErrorSpec> {
  const known = new Map<string, StoredResponse | null>();
  let prior: ConversationItem[] = [];
  if (r.previous_response_id !== undefined) {
    const prev = await readSettled(o.store, o.startup_id, r.previous_response_id);
    if (!prev) return previousNotFound(r.previous_response_id);
    known.set(prev.response.id, prev);
    prior = [...prev.conversation, ...prev.response.output];
  }
  const input = await resolveReferences(asItems(r.input), o.startup_id, o.store, known);
  if (!Array.isArray(input)) return input;
  const conversation = [...prior, ...input];
  if (r.store !== false && Buffer.byteLength(JSON.stringify(conversation)) > MAX_STORED_CONVERSATION_BYTES) {
    return {
      status: 400, type: 'invalid_request_error', code: 'invalid_value', param: r.previous_response_id !== undefined ? 'previous_response_id' : 'input',
      message: `A stored response keeps its conversation, at most ${MAX_STORED_CONVERSATION_BYTES} bytes of JSON; this one is larger. Send "store": false (and the conversation as input), or start a new conversation.`,
    };
  }
  const chat = { model: r.model, messages: toChatMessages(r.instructions, conversation), ...chatFields(r) };
  return { chat, shell: shellOf(r, o.id, o.created_at_s), conversation };
}

export const isRefusal = (p: PreparedResponse | ErrorSpec): p is ErrorSpec => 'status' in p;
