/**
 * The request's pieces that hold no simulator state: the route, a bounded body, x-sim-* headers, prompt
 * inputs, and an abortable delay.
 */
import type { IncomingMessage } from 'node:http';
import { bad, isObject } from './errors.js';
import { chatExtrasText, countChatPromptTokens, countTokens, messageText, type ChatMessageLike } from './tokenizer.js';

export type RouteKey =
  | 'POST /v1/chat/completions'
  | 'POST /v1/completions'
  | 'POST /v1/embeddings'
  | 'GET /v1/models'
  | 'GET /v1/models/{id}'
  | 'GET /health'
  | 'other';

export const INFERENCE: ReadonlySet<RouteKey> = new Set(['POST /v1/chat/completions', 'POST /v1/completions', 'POST /v1/embeddings']);

export function matchRoute(method: string, path: string): { key: RouteKey; allowed?: string; modelId?: string } {
  const p = path.length > 1 ? path.replace(/\/+$/, '') : path;
  const post = (key: RouteKey) => (method === 'POST' ? { key } : { key: 'other' as RouteKey, allowed: 'POST' });
  const get = (key: RouteKey, modelId?: string) =>
    method === 'GET' ? (modelId === undefined ? { key } : { key, modelId }) : { key: 'other' as RouteKey, allowed: 'GET' };
  if (p === '/v1/chat/completions') return post('POST /v1/chat/completions');
  if (p === '/v1/completions') return post('POST /v1/completions');
  if (p === '/v1/embeddings') return post('POST /v1/embeddings');
  if (p === '/v1/models') return get('GET /v1/models');
  if (p.startsWith('/v1/models/')) {
    let id: string;
    try {
      id = decodeURIComponent(p.slice('/v1/models/'.length));
    } catch {
      id = p.slice('/v1/models/'.length);
    }
    return get('GET /v1/models/{id}', id);
  }
  if (p === '/health') return get('GET /health');
  return { key: 'other' };
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. Leaves no timer behind. */
export function delay(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The body, up to `limit` bytes; past it, "too_large" (the rest is drained, not kept). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too_large'> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.resolve('too_large');
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        resolve('too_large');
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
    req.on('aborted', () => reject(new Error('request aborted')));
  });
}

/** A request header's first value. */
export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** An x-sim-* header as a number in [min, max] (or "inf"); a bad one is a 400. */
export function headerNumber(req: IncomingMessage, name: string, min: number, max: number, integer: boolean): number | undefined {
  const raw = header(req, name);
  if (raw === undefined) return undefined;
  const n = raw.trim().toLowerCase() === 'inf' ? Infinity : Number(raw);
  if (Number.isNaN(n) || n < min || n > max || (integer && !Number.isInteger(n)) || raw.trim() === '') {
    throw bad(`Invalid ${name} header: expected ${integer ? 'an integer' : 'a number'} in [${min}, ${max}].`, name, 'invalid_sim_header');
  }
  return n;
}

function tokenArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.length > 0 && v.every((t) => typeof t === 'number' && Number.isInteger(t) && t >= 0);
}

/** prompt / input: a string, an array of strings, an array of token ids, or an array of such arrays. */
export function textInputs(v: unknown, param: string): Array<{ text: string; tokens: number }> {
  const one = (x: unknown, at: string): { text: string; tokens: number } => {
    if (typeof x === 'string') return { text: x, tokens: countTokens(x) };
    if (tokenArray(x)) return { text: x.join(' '), tokens: x.length };
    throw bad(`Invalid '${at}': expected a string or an array of token ids.`, param, 'invalid_type');
  };
  if (v === undefined || v === null) throw bad(`You must provide '${param}'.`, param, 'missing_required_parameter');
  if (typeof v === 'string' || tokenArray(v)) return [one(v, param)];
  if (!Array.isArray(v) || v.length === 0) throw bad(`Invalid '${param}': expected a string or a non-empty array.`, param, 'invalid_value');
  if (v.length > 2048) throw bad(`Invalid '${param}': at most 2048 items.`, param, 'invalid_value');
  return v.map((x, i) => one(x, `${param}[${i}]`));
}

/**
 * A chat request's messages, checked (400s as OpenAI words them), the text the reply is seeded from, and its
 * prompt tokens: the messages' plus the tool definitions' and response schema's, which a model reads too
 * (tokens.ts chatExtrasText).
 */
export function chatPrompt(body: Record<string, unknown>): { msgs: ChatMessageLike[]; promptText: string; promptTokens: number } {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    throw bad("Invalid 'messages': expected a non-empty array of messages.", 'messages', messages === undefined ? 'missing_required_parameter' : 'invalid_value');
  }
  if (messages.length > 10_000) throw bad("Invalid 'messages': too many messages.", 'messages', 'invalid_value');
  messages.forEach((m, i) => {
    if (!isObject(m) || typeof m.role !== 'string') throw bad(`Invalid 'messages[${i}]': expected an object with a role.`, `messages[${i}]`, 'invalid_value');
    const c = m.content;
    if (c !== undefined && c !== null && typeof c !== 'string' && !Array.isArray(c)) {
      throw bad(`Invalid 'messages[${i}].content': expected a string or an array of content parts.`, `messages[${i}].content`, 'invalid_type');
    }
  });
  const msgs = messages as ChatMessageLike[];
  const promptText = msgs.map((m) => `${String(m.role)}: ${messageText(m)}`).join('\n');
  return { msgs, promptText, promptTokens: countChatPromptTokens(msgs) + countTokens(chatExtrasText(body)) };
}
