/**
 * The gateway's ResponseSink over the Readable a streaming handler returns to middy (which pipes it to
 * Lambda's response stream, or locally to the Node response through the awslambda shim).
 *
 * - `head` resolves with the status and headers once the gateway has chosen them (reply or open).
 * - write() waits for the reader when its buffer is full (backpressure reaches the provider read loop).
 * - The client going away destroys the Readable: `signal` aborts, and the destroy waits for `work`
 *   (the gateway's run, which settles the hold) before it completes, so the invocation does not end
 *   while a settlement is in flight.
 */
import { Readable } from 'node:stream';
import type { GatewayCall, GatewayResult, Principal, ResponseSink } from '../../packages/core/src/index.js';

export interface Head {
  status: number;
  headers: Record<string, string>;
  /** The whole body's size in bytes for a reply written in one piece (reply()); absent for an opened stream. */
  bodyBytes?: number;
}

export class StreamSink implements ResponseSink {
  private readonly ac = new AbortController();
  private resolveHead!: (h: Head) => void;
  readonly head: Promise<Head> = new Promise((r) => (this.resolveHead = r));
  private started = false;
  private waiter: (() => void) | null = null;
  private resolveFinished!: () => void;
  /**
   * The reply was delivered: the handler marks it once middy's pipe into Lambda's response stream has ended
   * (delivered()), or the client went away. Until then the gateway's after-reply work waits.
   */
  readonly finished: Promise<void> = new Promise((r) => (this.resolveFinished = r));
  /** The gateway's whole run; set by the handler right after starting it. */
  work: Promise<unknown> = Promise.resolve();
  readonly readable: Readable;

  constructor() {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    this.readable = new Readable({
      highWaterMark: 16 * 1024,
      read() {
        const w = self.waiter;
        self.waiter = null;
        w?.();
      },
      destroy(err, cb) {
        self.resolveFinished();
        const early = !this.readableEnded;
        if (early) self.ac.abort();
        const w = self.waiter;
        self.waiter = null;
        w?.();
        // Hold the invocation open until the gateway has settled what the client was sent.
        self.work.then(
          () => cb(err),
          () => cb(err),
        );
      },
    });
    this.ac.signal.addEventListener('abort', () => this.resolveFinished(), { once: true });
  }

  /** The response stream has ended: the client has the reply's last byte. */
  delivered(): void {
    this.resolveFinished();
  }

  get signal(): AbortSignal {
    return this.ac.signal;
  }

  get isStarted(): boolean {
    return this.started;
  }

  reply(status: number, headers: Record<string, string>, body: string): void {
    if (this.started) return;
    this.started = true;
    this.resolveHead({ status, headers, bodyBytes: Buffer.byteLength(body) });
    this.readable.push(body);
    this.readable.push(null);
  }

  open(status: number, headers: Record<string, string>): void {
    if (this.started) return;
    this.started = true;
    this.resolveHead({ status, headers });
  }

  async write(chunk: string): Promise<boolean> {
    if (this.ac.signal.aborted || this.readable.destroyed) return false;
    if (!this.readable.push(chunk)) {
      await new Promise<void>((r) => (this.waiter = r));
    }
    return !this.ac.signal.aborted && !this.readable.destroyed;
  }

  end(): void {
    if (!this.readable.destroyed && !this.readable.readableEnded) this.readable.push(null);
  }
}

/**
 * What an inference route makes of its validated body: the call the gateway serves and the sink it writes to (the
 * client's, or one that retells chat in another API's shapes), and what to do once the gateway is done (after the
 * reply). A refusal is thrown as an HttpError.
 */
export interface Served {
  call: GatewayCall;
  sink: ResponseSink;
  after?: (r: GatewayResult) => Promise<void>;
}
export type Serve = (body: Record<string, unknown>, o: { principal: Principal & { tenant_id: string }; requestId: string; sink: StreamSink }) => Promise<Served>;
