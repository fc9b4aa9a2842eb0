/**
 * The simulator's replies: errors, JSON bodies and streams, each through the faults that act on a reply's
 * bytes (reset_after_frames, malformed_chunk, stream_without_usage, stream_without_done), paced by the
 * request's timing, counted in the shared state's stats.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { choiceTokens } from './choices.js';
import type { ApiError } from './errors.js';
import type { Fault } from './faults.js';
import { plainBody, streamFrames, usageOf } from './frames.js';
import type { ResolvedOptions } from './options.js';
import type { GenerationPlan } from './plan.js';
import { delay } from './request.js';
import type { SimulatorStats } from './stats.js';

/** What the server and its replies share (options and stats are replaced by setOptions / resetStats). */
export interface SimState {
  o: ResolvedOptions;
  stats: SimulatorStats;
  activeStreams: number;
  stopping: boolean;
  /** Responses whose connection the simulator closed on purpose (a fault), not the client. */
  closedByUs: WeakSet<ServerResponse>;
}

export interface Timing {
  ttftMs: number;
  tokensPerSecond: number;
  tokensPerFrame: number;
  completionTokens: { min: number; max: number };
}

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  o: ResolvedOptions;
  fault: Fault | undefined;
  timing: Timing;
  signal: AbortSignal;
}

export class Replies {
  constructor(private readonly state: SimState) {}

  sendError(res: ServerResponse, e: ApiError, fault?: Fault): void {
    if (res.headersSent || res.destroyed) return;
    const body = JSON.stringify({ error: { message: e.message, type: e.type, param: e.param ?? null, code: e.code ?? null } });
    res.writeHead(e.status, {
      ...e.headers,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      ...(fault ? { 'x-sim-fault-applied': fault.name } : {}),
    });
    res.end(body);
  }

  /** A JSON body, through the body faults: reset (half a body, then close), malformed (truncated), no usage. */
  sendJson(ctx: Ctx, status: number, value: Record<string, unknown>, completionTokens = 0): void {
    const { res, fault } = ctx;
    if (res.destroyed) return;
    if (fault?.name === 'stream_without_usage') delete value.usage;
    const body = Buffer.from(JSON.stringify(value));
    const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': body.length };
    if (fault) headers['x-sim-fault-applied'] = fault.name;
    if (fault?.name === 'reset_after_frames') {
      res.writeHead(status, headers);
      this.state.stats.tokens.completion += completionTokens;
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => this.closeAbruptly(res));
      return;
    }
    if (fault?.name === 'malformed_chunk') {
      const cut = body.subarray(0, Math.max(1, Math.floor(body.length / 2)));
      headers['content-length'] = cut.length;
      res.writeHead(status, headers);
      this.state.stats.tokens.completion += completionTokens;
      res.end(cut);
      return;
    }
    res.writeHead(status, headers);
    this.state.stats.tokens.completion += completionTokens;
    res.end(body);
  }

  /**
   * Ends the connection mid-response: whatever was written is flushed, then the socket closes with no
   * chunked terminator (or short of Content-Length), so the client sees the body cut off.
   */
  closeAbruptly(res: ServerResponse): void {
    this.state.closedByUs.add(res);
    const socket = res.socket;
    if (!socket || socket.destroyed) return;
    const timer = setTimeout(() => socket.destroy(), 1000);
    socket.once('close', () => clearTimeout(timer));
    socket.end(() => socket.destroy());
  }

  async replyPlain(ctx: Ctx, p: GenerationPlan): Promise<void> {
    const longest = Math.max(0, ...p.choices.map(choiceTokens));
    const wait = ctx.timing.ttftMs + (longest * 1000) / ctx.timing.tokensPerSecond;
    if (!(await delay(wait, ctx.signal))) return;
    this.state.stats.tokens.prompt += p.promptTokens;
    this.sendJson(ctx, 200, plainBody(p), usageOf(p).completion_tokens);
  }

  async replyStream(ctx: Ctx, p: GenerationPlan): Promise<void> {
    const { res, fault, timing, signal } = ctx;
    if (this.state.activeStreams >= this.state.o.maxConcurrentStreams) {
      this.sendError(res, {
        status: 503,
        message: 'The server is overloaded: too many concurrent streams. Please retry shortly.',
        type: 'server_error',
        code: 'overloaded',
        headers: { 'retry-after': String(this.state.o.retryAfterSeconds) },
      });
      return;
    }
    this.state.activeStreams++;
    this.state.stats.streams.started++;
    this.state.stats.streams.active = this.state.activeStreams;
    this.state.stats.tokens.prompt += p.promptTokens;
    let outcome: 'completed' | 'aborted' | 'reset' = 'aborted';
    try {
      const headers: Record<string, string> = {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
      };
      if (fault) headers['x-sim-fault-applied'] = fault.name;
      res.writeHead(200, headers);
      res.flushHeaders();

      const t0 = performance.now();
      const list = streamFrames(p, timing.tokensPerFrame, p.includeUsage && fault?.name !== 'stream_without_usage');
      const object = p.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion';

      const resetAt = fault?.name === 'reset_after_frames' ? (fault.k ?? this.state.o.resetAfterFrames) : -1;
      const malformedAt = fault?.name === 'malformed_chunk' ? (fault.k ?? this.state.o.malformedAfterFrames) : -1;
      const write = (text: string): Promise<boolean> =>
        new Promise((resolve) => {
          if (res.destroyed || signal.aborted) return resolve(false);
          res.write(text, (err) => resolve(!err));
        });

      let written = 0;
      let malformedSent = false;
      const malformed = `data: {"id":"${p.id}","object":"${object}","choices":[{"index":0,"delta":\n\n`;
      for (const frame of list) {
        if (written === resetAt) break;
        if (written === malformedAt && !malformedSent) {
          // Truncated JSON: what a provider emits when a frame is cut or garbled. The stream then goes on.
          malformedSent = true;
          if (!(await write(malformed))) return;
        }
        const target = timing.ttftMs + (frame.at * 1000) / timing.tokensPerSecond;
        if (!(await delay(target - (performance.now() - t0), signal))) return;
        if (!(await write(`data: ${JSON.stringify(frame.data)}\n\n`))) return;
        this.state.stats.tokens.completion += frame.tokens;
        written++;
      }
      if (resetAt >= 0) {
        outcome = 'reset';
        this.closeAbruptly(res);
        return;
      }
      if (malformedAt >= 0 && !malformedSent && !(await write(malformed))) return;
      if (fault?.name !== 'stream_without_done') {
        if (!(await write('data: [DONE]\n\n'))) return;
      }
      outcome = 'completed';
      res.end();
    } finally {
      this.state.activeStreams--;
      this.state.stats.streams.active = this.state.activeStreams;
      if (outcome === 'completed') this.state.stats.streams.completed++;
      else if (outcome === 'reset') this.state.stats.streams.reset++;
      else if (!this.state.stopping) this.state.stats.streams.abortedByClient++;
    }
  }
}
