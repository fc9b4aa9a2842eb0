/**
 * The Responses API served by the chat gateway: this ResponseSink stands between the gateway (which holds, routes,
 * meters and bills a chat completion exactly as for POST /v1/chat/completions) and the client's sink, and retells
 * what the gateway writes in the Responses API's shapes. A whole chat.completion becomes one Response object; a
 * chat stream becomes the Responses event stream (events.ts). Refusals and errors pass unchanged: they are already
 * OpenAI's error shape. The Response the request ended with is kept (`final`) for storing after the reply.
 */
import type { ResponseSink } from '../gateway/ports.js';
import { ResponseStreamTranslator, responseEventFrame, type ResponseEvent } from './events.js';
import { responseOfChat, type ResponseObject, type ResponseShell } from './response.js';

/** Longest provider failure message carried in response.failed. */
const FAILURE_MESSAGE_MAX_CHARS = 1_000;

export class ResponsesSink implements ResponseSink {
  private readonly translator: ResponseStreamTranslator;
  /** Text of a frame not yet ended by its blank line. */
  private pending = '';
  private opened = false;
  private wholeFinal: ResponseObject | null = null;

  constructor(private readonly inner: ResponseSink, shell: ResponseShell) {
    this.translator = new ResponseStreamTranslator(shell);
    this.shell = shell;
  }

  private readonly shell: ResponseShell;

  get signal(): AbortSignal {
    return this.inner.signal;
  }

  get finished(): Promise<void> | undefined {
    return this.inner.finished;
  }

  /** The Response this request ended with (whole, or the stream's last); null when it was refused or never ended. */
  get final(): ResponseObject | null {
    return this.wholeFinal ?? this.translator.final;
  }

  reply(status: number, headers: Record<string, string>, body: string): void {
    if (status !== 200) return this.inner.reply(status, headers, body);
    let chat: Record<string, unknown>;
    try {
      chat = JSON.parse(body) as Record<string, unknown>;
    } catch {
      return this.inner.reply(502, headers, JSON.stringify({ error: { message: 'The provider sent a reply that is not JSON.', type: 'server_error', param: null, code: 'upstream_error' } }));
    }
    this.wholeFinal = responseOfChat(this.shell, chat);
    this.inner.reply(200, headers, JSON.stringify(this.wholeFinal));
  }

  open(status: number, headers: Record<string, string>): void {
    this.inner.open(status, headers);
  }

  private async send(events: ResponseEvent[]): Promise<boolean> {
    let alive = true;
    for (const e of events) alive = (await this.inner.write(responseEventFrame(e))) && alive;
    return alive;
  }

  /** Takes the gateway's chat stream text (whole SSE frames, or parts of them) and writes the Responses events. */
  async write(text: string): Promise<boolean> {
    let alive = true;
    if (!this.opened) {
      this.opened = true;
      alive = await this.send(this.translator.start());
    }
    this.pending += text;
    let end = this.pending.indexOf('\n\n');
    while (end >= 0) {
      const frame = this.pending.slice(0, end);
      this.pending = this.pending.slice(end + 2);
      alive = (await this.frame(frame)) && alive;
      end = this.pending.indexOf('\n\n');
    }
    return alive && !this.signal.aborted;
  }

  private async frame(frame: string): Promise<boolean> {
    // An SSE comment (the billed cost, `: compux {...}`) is passed on as it is: clients ignore comments.
    if (frame.startsWith(':')) return this.inner.write(`${frame}\n\n`);
    const data = frame.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
    if (data === '') return true;
    if (data === '[DONE]') return this.send(this.translator.done());
    let chunk: Record<string, unknown>;
    try {
      chunk = JSON.parse(data) as Record<string, unknown>;
    } catch {
      return true;
    }
    if (chunk.error && typeof chunk.error === 'object') {
      const message = String((chunk.error as { message?: unknown }).message ?? 'The provider failed mid-stream.').slice(0, FAILURE_MESSAGE_MAX_CHARS);
      return this.send(this.translator.failed(message));
    }
    return this.send(this.translator.chunk(chunk));
  }

  end(): void {
    this.inner.end();
  }
}
