/**
 * The token-counting rule shared by the marketplace (metering a stream that ends without a usage report,
 * flagged estimated) and the provider simulator (its usage reports), so for simulated providers the count
 * from content equals the provider's own exactly.
 *
 * Rule: a token is any leading whitespace followed by either
 *   - a run of 1 to 6 letters / marks / digits (a longer run is cut every 6 characters), or
 *   - one other character (punctuation, symbol, emoji);
 * whitespace at the very end of the text is one more token. The empty string has 0 tokens.
 *
 *   "Hello, world!"         → "Hello" "," " world" "!"            = 4
 *   "internationalization"  → "intern" "ationa" "lizati" "on"      = 4
 *
 * Counting is additive over the simulator's own output: every piece the generator emits is exactly one
 * token, and the concatenation of its pieces splits back into the same pieces. So
 * countTokens(all streamed deltas joined) === usage.completion_tokens for text the simulator produced.
 */

export const MAX_WORD_PIECE = 6;

const TOKEN_RE = /\s*(?:[\p{L}\p{M}\p{N}]{1,6}|[^\s\p{L}\p{M}\p{N}])|\s+/gu;

/** The token pieces of `text` (their concatenation is `text`). */
export function tokenize(text: string): string[] {
  return text.match(TOKEN_RE) ?? [];
}

/** Number of tokens in `text` under the rule above. */
export function countTokens(text: string): number {
  if (text.length === 0) return 0;
  let n = 0;
  TOKEN_RE.lastIndex = 0;
  while (TOKEN_RE.exec(text) !== null) n++;
  return n;
}

/** Tokens added per chat message for its framing (role, separators), like OpenAI's chat format. */
export const CHAT_TOKENS_PER_MESSAGE = 4;
/** Tokens added once per chat request to prime the assistant's reply. */
export const CHAT_REPLY_PRIMING_TOKENS = 2;

/** A chat message as it arrives: content a string, an array of parts, or null (assistant tool calls). */
export interface ChatMessageLike {
  role?: unknown;
  content?: unknown;
  name?: unknown;
  tool_calls?: unknown;
}

/** The text a message contributes to the prompt: string content, text parts, name, tool-call names/arguments. */
export function messageText(message: ChatMessageLike): string {
  const parts: string[] = [];
  const content = message.content;
  if (typeof content === 'string') parts.push(content);
  else if (Array.isArray(content)) {
    for (const part of content) {
      if (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') {
        parts.push((part as { text: string }).text);
      }
    }
  }
  if (typeof message.name === 'string') parts.push(message.name);
  if (Array.isArray(message.tool_calls)) {
    for (const call of message.tool_calls) {
      const fn = call && typeof call === 'object' ? (call as { function?: { name?: unknown; arguments?: unknown } }).function : undefined;
      if (typeof fn?.name === 'string') parts.push(fn.name);
      if (typeof fn?.arguments === 'string') parts.push(fn.arguments);
    }
  }
  return parts.join('\n');
}

/**
 * prompt_tokens of a chat request: for each message, countTokens(its text) + CHAT_TOKENS_PER_MESSAGE (4);
 * plus CHAT_REPLY_PRIMING_TOKENS (2) once. A message's text is its string content or the `text` of its
 * content parts, its `name`, and its tool calls' function names and arguments, joined by "\n".
 */
export function countChatPromptTokens(messages: readonly ChatMessageLike[]): number {
  let n = CHAT_REPLY_PRIMING_TOKENS;
  for (const m of messages) n += CHAT_TOKENS_PER_MESSAGE + countTokens(messageText(m));
  return n;
}

/**
 * The text a chat request's tool definitions and response schema add to its prompt: a model reads them as
 * it reads the messages, so providers count them as prompt tokens. The JSON of `tools`, of the deprecated
 * `functions`, and of a JSON `response_format` ("text" adds nothing), joined by "\n"; "" when none.
 */
export function chatExtrasText(body: { tools?: unknown; functions?: unknown; response_format?: unknown }): string {
  const parts: string[] = [];
  if (Array.isArray(body.tools) && body.tools.length > 0) parts.push(JSON.stringify(body.tools));
  if (Array.isArray(body.functions) && body.functions.length > 0) parts.push(JSON.stringify(body.functions));
  const rf = body.response_format as { type?: unknown } | null | undefined;
  if (rf && typeof rf === 'object' && rf.type !== 'text') parts.push(JSON.stringify(rf));
  return parts.join('\n');
}

/**
 * An upper bound on the prompt tokens ANY byte-level tokenizer can make of `text`: every token covers at
 * least one UTF-8 byte. The hold for a request is sized on this bound, so a provider's own count (whatever
 * its tokenizer) never exceeds what was reserved.
 */
export function tokenUpperBound(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Upper bound of a chat prompt: each message's text bytes plus its framing, plus the reply priming. */
export function chatPromptUpperBound(messages: readonly ChatMessageLike[]): number {
  let n = CHAT_REPLY_PRIMING_TOKENS;
  for (const m of messages) n += CHAT_TOKENS_PER_MESSAGE + tokenUpperBound(messageText(m));
  return n;
}
