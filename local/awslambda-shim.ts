/**
 * The `awslambda` global that the Node.js Lambda runtime provides, for running response-streaming
 * handlers outside Lambda.
 *
 * In Lambda, a streaming handler is `awslambda.streamifyResponse(async (event, responseStream, context) => ...)`
 * and the handler either writes straight to `responseStream` (status 200, its content type) or first calls
 * `awslambda.HttpResponseStream.from(responseStream, { statusCode, headers, cookies })`, which makes the
 * runtime send that metadata, then 8 NUL bytes, then the body (the format API Gateway REST response
 * streaming and function URLs parse). Here the same calls drive a Node `ServerResponse` directly:
 *
 * - `streamifyResponse(fn)` marks `fn` with STREAMING_HANDLER and returns it (as Lambda's own does).
 * - `HttpResponseStream.from(stream, prelude)` sets the status and headers and returns the same stream.
 *   The head goes out with the first body bytes, or alone at the end of the current turn of the event loop
 *   (setImmediate) when no body follows in it, and each later write goes out as a chunk at once. A reply
 *   written and ended within one turn (any buffered reply, which middy pipes in one go) therefore leaves in a
 *   single socket write, with a Content-Length, instead of head, chunk and terminator apart: a third of the
 *   local runtime's CPU per proxied request was spent in those writes.
 * - A handler that writes the wire format itself (content type
 *   `application/vnd.awslambda.http-integration-response`, JSON metadata, 8 NUL bytes, body) is parsed
 *   the way API Gateway parses it.
 * - Client disconnect: the stream is destroyed, so it emits 'close' (with `writableFinished === false`),
 *   `stream.destroyed` becomes true, and later writes fail through their callback with
 *   ERR_STREAM_DESTROYED. No 'error' event is raised for a disconnect, so a handler that does not listen
 *   for errors cannot crash the process. Nothing outside the Lambda API (no extra context field) is
 *   offered, so a handler written against this shim runs unchanged in Lambda.
 *
 * installAwslambdaShim() must run before any handler module is imported, because handler modules call
 * `awslambda.streamifyResponse` at import time; local/lambda.ts installs it before every import.
 */
import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';

export const STREAMING_HANDLER = Symbol.for('compux.local.awslambda.streamifyResponse');

/** The content type with which a handler says it writes API Gateway's streaming wire format itself. */
export const HTTP_INTEGRATION_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
/** Lambda's default content type for a stream the handler did not type. */
const DEFAULT_STREAM_CONTENT_TYPE = 'application/octet-stream';
/** Upper bound on a self-written metadata prelude (status, headers, cookies): a sane header block. */
const MAX_PRELUDE_BYTES = 64 * 1024;
const DELIMITER = Buffer.alloc(8, 0);
/** Body bytes held back with a head not yet written (within one event-loop turn) before it is written anyway. */
const MAX_HELD_BYTES = 64 * 1024;
/** Statuses that carry no body, so no Content-Length either. */
const NO_BODY = new Set([204, 304]);

export interface StreamPrelude {
  statusCode?: number;
  headers?: Record<string, string | number | boolean | readonly string[]>;
  cookies?: readonly string[];
}

export type StreamingHandler = ((event: unknown, responseStream: LocalResponseStream, context: unknown) => unknown) & {
  [STREAMING_HANDLER]?: true;
};

export function isStreamingHandler(fn: unknown): fn is StreamingHandler {
  return typeof fn === 'function' && (fn as StreamingHandler)[STREAMING_HANDLER] === true;
}

/**
 * The `responseStream` given to a streaming handler: a Writable over a Node ServerResponse.
 * Every write is passed to `res.write` at once (chunked transfer encoding, no buffering of our own).
 */
export class LocalResponseStream extends Writable {
  readonly #res: ServerResponse;
  #contentType = DEFAULT_STREAM_CONTENT_TYPE;
  #prelude: StreamPrelude | undefined;
  /** The head is decided (prelude given or first byte written): no more content-type or prelude changes. */
  #headStarted = false;
  /** The head is on the ServerResponse (written, or given up because the response is gone). */
  #headWritten = false;
  #flushScheduled = false;
  /** Body written before the head went out, sent with it (bounded by MAX_HELD_BYTES). */
  #held: Buffer[] = [];
  #heldBytes = 0;
  /** Bytes of a self-written prelude not yet complete (only in HTTP_INTEGRATION_CONTENT_TYPE mode). */
  #pending: Buffer | undefined;
  /** Set when the runtime answered on the ServerResponse itself (error before any byte): hands off. */
  #detached = false;

  constructor(res: ServerResponse) {
    // Small high-water mark: backpressure reaches the handler quickly instead of queuing in memory.
    super({ highWaterMark: 16 * 1024 });
    this.#res = res;
    // The client went away before we ended: make it visible to the handler (see file comment).
    res.once('close', () => {
      if (!res.writableFinished && !this.destroyed) this.destroy();
    });
    // A stream error with no listener would crash the whole local server; Lambda would only fail this
    // invocation. Handlers may add their own listeners; this one only logs.
    this.on('error', (err) => {
      if (this.listenerCount('error') === 1) console.error(`[http] streaming response error: ${err.message}`);
    });
  }

  /** Lambda's `responseStream.setContentType`; ignored once the head is decided (as in Lambda). */
  setContentType(contentType: string): void {
    if (!this.#headStarted) this.#contentType = contentType;
  }

  /**
   * For the runtime: it has answered on the ServerResponse itself (an error before the handler wrote
   * anything); the stream is destroyed without touching that response.
   */
  abandon(): void {
    this.#detached = true;
    this.destroy();
  }

  /** True once the status line and headers are on the ServerResponse (until then the runtime may still answer). */
  get headersSent(): boolean {
    return this.#headWritten;
  }

  /** Used by HttpResponseStream.from: status and headers now, body to follow. */
  sendPrelude(prelude: StreamPrelude): void {
    if (this.#headStarted) throw new Error('HttpResponseStream.from: the response has already started');
    this.#prelude = prelude;
    this.#startHead();
  }

  /** Decides the head; it is written with the first body bytes or at the end of this event-loop turn. */
  #startHead(): void {
    if (this.#headStarted) return;
    this.#headStarted = true;
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#writeHead(false));
  }

  #head(): { status: number; headers: Record<string, string | string[]> } {
    const prelude = this.#prelude ?? {};
    const status = Number.isInteger(prelude.statusCode) ? (prelude.statusCode as number) : 200;
    const headers: Record<string, string | string[]> = {};
    let hasContentType = false;
    for (const [name, value] of Object.entries(prelude.headers ?? {})) {
      headers[name] = Array.isArray(value) ? value.map(String) : String(value);
      if (name.toLowerCase() === 'content-type') hasContentType = true;
    }
    if (!hasContentType) {
      // from() in Lambda relabels the stream with the integration type; the client sees the body's own type or octet-stream.
      headers['content-type'] = this.#contentType === HTTP_INTEGRATION_CONTENT_TYPE ? DEFAULT_STREAM_CONTENT_TYPE : this.#contentType;
    }
    if (prelude.cookies?.length) headers['set-cookie'] = [...prelude.cookies];
    return { status, headers };
  }

  /** Writes the head with the body held so far (`last`: that is the whole body, ended) — one socket write. */
  #writeHead(last: boolean, done?: () => void): void {
    if (this.#headWritten) return void done?.();
    this.#headWritten = true;
    const res = this.#res;
    const body = this.#held.length === 1 ? this.#held[0]! : Buffer.concat(this.#held);
    this.#held = [];
    this.#heldBytes = 0;
    if (res.headersSent || res.destroyed || this.#detached) return void done?.();
    const { status, headers } = this.#head();
    const own = Object.keys(headers).some((n) => /^(content-length|transfer-encoding)$/i.test(n));
    if (last && !own && !NO_BODY.has(status)) headers['content-length'] = String(body.length);
    res.writeHead(status, headers);
    if (last) res.end(body, () => done?.());
    else if (body.length > 0) res.write(body);
    else res.flushHeaders();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let body = chunk;
    if (!this.#headStarted && this.#contentType === HTTP_INTEGRATION_CONTENT_TYPE) {
      // The handler writes API Gateway's wire format: JSON metadata, 8 NUL bytes, then the body.
      const buf = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
      const at = buf.indexOf(DELIMITER);
      if (at < 0) {
        if (buf.length > MAX_PRELUDE_BYTES) return callback(new Error('streaming metadata prelude exceeds 64 KiB without its 8-byte delimiter'));
        this.#pending = buf;
        return callback();
      }
      this.#pending = undefined;
      try {
        this.#prelude = JSON.parse(buf.subarray(0, at).toString('utf8')) as StreamPrelude;
      } catch {
        return callback(new Error('streaming metadata prelude is not valid JSON'));
      }
      body = buf.subarray(at + DELIMITER.length);
    }
    this.#startHead();
    if (body.length === 0) return callback();
    // A disconnected client is not an error of the handler: destroy quietly ('close', see file comment).
    if (this.#res.destroyed) {
      this.destroy();
      return callback();
    }
    if (!this.#headWritten) {
      this.#held.push(body);
      this.#heldBytes += body.length;
      if (this.#heldBytes >= MAX_HELD_BYTES) this.#writeHead(false);
      return callback();
    }
    this.#res.write(body, (err) => {
      if (err) this.destroy();
      callback();
    });
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.#pending) {
      // Ended inside a self-written prelude: no delimiter ever came. Treat what we have as body (Lambda would fail the response).
      this.#held.push(this.#pending);
      this.#pending = undefined;
      this.#contentType = DEFAULT_STREAM_CONTENT_TYPE;
    }
    this.#startHead();
    if (!this.#headWritten) return this.#writeHead(true, () => callback());
    if (this.#res.destroyed) return callback();
    this.#res.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Destroyed by the handler (or by us on timeout / crash) before the body ended: cut the connection,
    // as Lambda does with an interrupted stream, so the client sees a truncated response, not a complete one.
    this.#held = [];
    if (!this.#detached && !this.#res.writableFinished && !this.#res.destroyed) this.#res.destroy();
    callback(error);
  }
}

const HttpResponseStream = {
  from(stream: Writable, prelude: StreamPrelude = {}): LocalResponseStream {
    if (!(stream instanceof LocalResponseStream)) {
      throw new TypeError('awslambda.HttpResponseStream.from expects the responseStream given to the handler');
    }
    stream.sendPrelude(prelude);
    return stream;
  },
};

function streamifyResponse<T extends (...args: never[]) => unknown>(handler: T): T {
  if (typeof handler !== 'function') throw new TypeError('awslambda.streamifyResponse expects a function');
  Object.defineProperty(handler, STREAMING_HANDLER, { value: true, enumerable: false });
  return handler;
}

export const localAwslambda = { streamifyResponse, HttpResponseStream } as const;

/**
 * Installs streamifyResponse and HttpResponseStream on globalThis.awslambda, unless real ones exist (inside
 * Lambda). The object itself may already exist: the AWS SDK's @aws/lambda-invoke-store creates
 * `globalThis.awslambda = {}` to hang its InvokeStore on, so the shim adds to it rather than replacing it.
 * Idempotent.
 */
export function installAwslambdaShim(): void {
  const g = globalThis as { awslambda?: Record<string, unknown> };
  const target = (g.awslambda ??= {});
  if (typeof target.streamifyResponse !== 'function') target.streamifyResponse = localAwslambda.streamifyResponse;
  if (target.HttpResponseStream === undefined) target.HttpResponseStream = localAwslambda.HttpResponseStream;
}
