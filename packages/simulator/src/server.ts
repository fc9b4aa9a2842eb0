/**
 * startSimulator: an OpenAI-compatible HTTP server that plays a GPU provider.
 *
 * Request path (here): route → body (bounded, 413) → auth (401) → fault choice → pre-header faults
 * (http_5xx, rate_limit, timeout_before_headers) → validation (400/404) → reply, where stream faults
 * (reset_after_frames, malformed_chunk, stream_without_usage, stream_without_done) act on the frames
 * (replies.ts). A reply is planned whole before a byte is sent (plan.ts, choices.ts, frames.ts).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { bad, isObject, RequestError } from './errors.js';
import { FaultSpecError, parseFault, pickFault, type Fault } from './faults.js';
import { embeddingToBase64, embeddingVector, rng, seedFrom } from './generate.js';
import { freshStats, type SimulatorStats } from './stats.js';
import { Replies, type Ctx, type SimState, type Timing } from './replies.js';
import { optionalPositiveInt, plan, randomId } from './plan.js';
import { chatPrompt, delay, header, headerNumber, INFERENCE, matchRoute, readBody, textInputs, type RouteKey } from './request.js';
import { resolveOptions, type ResolvedOptions, type SimModel, type SimulatorOptions } from './options.js';

export interface Simulator {
  /** Base URL, e.g. http://127.0.0.1:41234 (the OpenAI base URL is url + '/v1'). */
  url: string;
  port: number;
  /** Closes the listener and every connection (held, streaming, idle keep-alive); resolves when all are gone. */
  stop(): Promise<void>;
  stats(): SimulatorStats;
  resetStats(): void;
  /** Changes options for later requests (host and port excepted). Throws on an invalid value. */
  setOptions(patch: SimulatorOptions): void;
  /** The options in force (models, timing, faults). */
  options(): Readonly<ResolvedOptions>;
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const state: SimState = { o: resolveOptions(options), stats: freshStats(), activeStreams: 0, stopping: false, closedByUs: new WeakSet() };
  const replies = new Replies(state);
  let faultRandom = rng(state.o.seed ?? randomBytes(4).readUInt32LE(0));
  const startedAt = Math.floor(Date.now() / 1000);

  const bump = (rec: Record<string, number>, key: string, by = 1) => {
    rec[key] = (rec[key] ?? 0) + by;
  };

  const sockets = new Set<Socket>();
  const inflight = new Set<AbortController>();

  // ---------- replies ----------

  // ---------- request pieces ----------

  async function authorized(req: IncomingMessage): Promise<boolean> {
    if (!state.o.verifyToken && state.o.apiKey === undefined) return true;
    const h = req.headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(h.trim());
    if (!m?.[1]) return false;
    const token = m[1].trim();
    if (state.o.verifyToken) {
      try {
        return (await state.o.verifyToken(token, req)) === true;
      } catch {
        return false;
      }
    }
    const a = Buffer.from(token);
    const b = Buffer.from(state.o.apiKey ?? '');
    return a.length === b.length && timingSafeEqual(a, b);
  }

  function chooseFault(req: IncomingMessage, key: RouteKey): Fault | undefined {
    if (state.o.headerOverrides) {
      const raw = header(req, 'x-sim-fault');
      if (raw !== undefined && raw.trim() !== '') {
        try {
          return parseFault(raw);
        } catch (e) {
          if (e instanceof FaultSpecError) throw bad(`Invalid x-sim-fault header: ${e.message}.`, 'x-sim-fault', 'invalid_fault');
          throw e;
        }
      }
    }
    if (!INFERENCE.has(key)) return undefined;
    if (state.o.fault) return state.o.fault;
    if (state.o.faultTable.length > 0) return pickFault(state.o.faultTable, faultRandom());
    return undefined;
  }

  function timingFor(req: IncomingMessage): Timing {
    const t: Timing = {
      ttftMs: state.o.ttftMs,
      tokensPerSecond: state.o.tokensPerSecond,
      tokensPerFrame: state.o.tokensPerFrame,
      completionTokens: state.o.completionTokens,
    };
    if (!state.o.headerOverrides) return t;
    t.ttftMs = headerNumber(req, 'x-sim-ttft-ms', 0, 600_000, false) ?? t.ttftMs;
    t.tokensPerSecond = headerNumber(req, 'x-sim-tps', 0.001, Infinity, false) ?? t.tokensPerSecond;
    t.tokensPerFrame = headerNumber(req, 'x-sim-tokens-per-frame', 1, 10_000, true) ?? t.tokensPerFrame;
    const n = headerNumber(req, 'x-sim-completion-tokens', 0, state.o.maxTokensPerReply, true);
    if (n !== undefined) t.completionTokens = { min: n, max: n };
    return t;
  }

  function findModel(body: Record<string, unknown>): SimModel {
    const id = body.model;
    if (typeof id !== 'string' || id.length === 0) throw bad('You must provide a model parameter.', 'model', 'missing_required_parameter');
    const model = state.o.models.find((m) => m.id === id);
    if (!model) {
      throw new RequestError({
        status: 404,
        message: `The model \`${id}\` does not exist or you do not have access to it.`,
        type: 'invalid_request_error',
        param: 'model',
        code: 'model_not_found',
      });
    }
    return model;
  }

  function modelObject(m: SimModel): Record<string, unknown> {
    const obj: Record<string, unknown> = { id: m.id, object: 'model', created: startedAt, owned_by: m.owned_by ?? 'compux-simulator' };
    if (!m.embedding) obj.max_model_len = m.context_length ?? 8192;
    return obj;
  }

  // ---------- generation ----------

  // ---------- routes ----------

  async function chat(ctx: Ctx, body: Record<string, unknown>): Promise<void> {
    const model = findModel(body);
    if (model.embedding) {
      throw bad(`The model \`${model.id}\` is an embedding model and does not support chat completions.`, 'model', 'model_not_supported');
    }
    const { msgs, promptText, promptTokens } = chatPrompt(body);
    const p = plan({
      kind: 'chat', body, model, prompts: [{ text: promptText, tokens: promptTokens }], promptTokens,
      completionTokens: ctx.timing.completionTokens, maxTokensPerReply: state.o.maxTokensPerReply, lastRole: msgs[msgs.length - 1]?.role,
    });
    await (p.stream ? replies.replyStream(ctx, p) : replies.replyPlain(ctx, p));
  }

  async function completions(ctx: Ctx, body: Record<string, unknown>): Promise<void> {
    const model = findModel(body);
    if (model.embedding) {
      throw bad(`The model \`${model.id}\` is an embedding model and does not support completions.`, 'model', 'model_not_supported');
    }
    const prompts = textInputs(body.prompt, 'prompt');
    const promptTokens = prompts.reduce((s, x) => s + x.tokens, 0);
    const p = plan({ kind: 'completion', body, model, prompts, promptTokens, completionTokens: ctx.timing.completionTokens, maxTokensPerReply: state.o.maxTokensPerReply });
    await (p.stream ? replies.replyStream(ctx, p) : replies.replyPlain(ctx, p));
  }

  async function embeddings(ctx: Ctx, body: Record<string, unknown>): Promise<void> {
    const model = findModel(body);
    if (!model.embedding) {
      throw bad(`The model \`${model.id}\` does not support embeddings.`, 'model', 'model_not_supported');
    }
    const inputs = textInputs(body.input, 'input');
    if (inputs.some((x) => x.text === '')) throw bad("Invalid 'input': empty strings cannot be embedded.", 'input', 'invalid_value');
    const limit = model.context_length ?? 8191;
    const long = inputs.findIndex((x) => x.tokens > limit);
    if (long >= 0) {
      throw bad(
        `This model's maximum context length is ${limit} tokens, however you requested ${inputs[long]?.tokens} tokens in input[${long}].`,
        'input',
        'context_length_exceeded',
      );
    }
    const full = model.dimensions ?? 1536;
    let dims = full;
    if (body.dimensions !== undefined && body.dimensions !== null) dims = optionalPositiveInt(body, 'dimensions', full) ?? full;
    const format = body.encoding_format ?? 'float';
    if (format !== 'float' && format !== 'base64') {
      throw bad("Invalid 'encoding_format': expected 'float' or 'base64'.", 'encoding_format', 'invalid_value');
    }
    if (!(await delay(ctx.timing.ttftMs, ctx.signal))) return;
    const promptTokens = inputs.reduce((s, x) => s + x.tokens, 0);
    state.stats.tokens.prompt += promptTokens;
    const data = inputs.map((x, index) => {
      // The first `dims` values of the full vector, renormalised — what `dimensions` does for OpenAI's v3 models.
      const v = embeddingVector(seedFrom('embedding', model.id, x.text), dims);
      return { object: 'embedding', index, embedding: format === 'base64' ? embeddingToBase64(v) : v };
    });
    replies.sendJson(ctx, 200, { object: 'list', data, model: model.id, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } });
  }

  // ---------- the handler ----------

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    state.stats.requests++;
    res.setHeader('x-request-id', randomId('req_'));
    const url = new URL(req.url ?? '/', 'http://simulator');
    const route = matchRoute(req.method ?? 'GET', url.pathname);
    bump(state.stats.byRoute, route.key);

    const ac = new AbortController();
    inflight.add(ac);
    res.on('close', () => {
      if (!res.writableFinished && !res.headersSent && !state.closedByUs.has(res) && !state.stopping) state.stats.abortedBeforeReply++;
      bump(state.stats.byStatus, res.headersSent ? String(res.statusCode) : 'none');
      ac.abort();
      inflight.delete(ac);
    });

    if (route.key === 'other') {
      req.resume();
      if (route.allowed) res.setHeader('allow', route.allowed);
      replies.sendError(res, {
        status: route.allowed ? 405 : 404,
        message: `Invalid URL (${req.method ?? ''} ${url.pathname})`,
        type: 'invalid_request_error',
        code: route.allowed ? 'method_not_allowed' : 'unknown_url',
      });
      return;
    }
    if (route.key === 'GET /health') {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }

    let raw: Buffer | 'too_large' = Buffer.alloc(0);
    if (req.method === 'POST') {
      raw = await readBody(req, state.o.maxBodyBytes);
      if (raw === 'too_large') {
        res.setHeader('connection', 'close');
        replies.sendError(res, {
          status: 413,
          message: `Request body too large: the limit is ${state.o.maxBodyBytes} bytes.`,
          type: 'invalid_request_error',
          code: 'request_too_large',
        });
        // Let the client finish sending and read the 413, but not for ever.
        const t = setTimeout(() => req.socket.destroy(), 2000);
        req.socket.once('close', () => clearTimeout(t));
        return;
      }
    } else {
      req.resume();
    }

    if (!(await authorized(req))) {
      const missing = !req.headers.authorization;
      replies.sendError(res, {
        status: 401,
        message: missing
          ? "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
          : 'Incorrect API key provided.',
        type: 'invalid_request_error',
        code: 'invalid_api_key',
      });
      return;
    }

    const fault = chooseFault(req, route.key);
    const timing = timingFor(req);
    if (fault && fault.name !== 'none') bump(state.stats.byFault, fault.name);
    const ctx: Ctx = { req, res, o: state.o, fault: fault?.name === 'none' ? undefined : fault, timing, signal: ac.signal };

    // Faults before any header.
    if (ctx.fault?.status !== undefined) {
      const status = ctx.fault.status;
      replies.sendError(
        res,
        {
          status,
          message:
            status === 500
              ? 'The server had an error while processing your request. Sorry about that!'
              : status === 502
                ? 'Bad gateway.'
                : status === 503
                  ? 'The server is overloaded or not ready yet.'
                  : `Upstream error ${status}.`,
          type: 'server_error',
          code: null,
        },
        ctx.fault,
      );
      return;
    }
    if (ctx.fault?.name === 'rate_limit') {
      const after = ctx.fault.retryAfter ?? state.o.retryAfterSeconds;
      replies.sendError(
        res,
        {
          status: 429,
          message: `Rate limit reached for requests (simulated). Please try again in ${after}s.`,
          type: 'requests',
          code: 'rate_limit_exceeded',
          headers: {
            'retry-after': String(after),
            'x-ratelimit-limit-requests': '60',
            'x-ratelimit-remaining-requests': '0',
            'x-ratelimit-reset-requests': `${after}s`,
          },
        },
        ctx.fault,
      );
      return;
    }
    if (ctx.fault?.name === 'timeout_before_headers') {
      // Accept and never answer; close the socket after a bound so nothing leaks.
      await delay(ctx.fault.holdMs ?? state.o.holdMs, ac.signal);
      state.closedByUs.add(res);
      res.socket?.destroy();
      return;
    }

    let body: Record<string, unknown> = {};
    if (req.method === 'POST') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw.toString('utf8'));
      } catch {
        throw bad(
          'We could not parse the JSON body of your request. (HINT: This likely means you aren\'t using your HTTP library correctly. The OpenAI API expects a JSON payload.)',
        );
      }
      if (!isObject(parsed)) throw bad('The request body must be a JSON object.');
      body = parsed;
    }

    switch (route.key) {
      case 'POST /v1/chat/completions':
        return chat(ctx, body);
      case 'POST /v1/completions':
        return completions(ctx, body);
      case 'POST /v1/embeddings':
        return embeddings(ctx, body);
      case 'GET /v1/models':
        return replies.sendJson(ctx, 200, { object: 'list', data: state.o.models.map(modelObject) });
      case 'GET /v1/models/{id}': {
        const m = state.o.models.find((x) => x.id === route.modelId);
        if (!m) {
          throw new RequestError({
            status: 404,
            message: `The model \`${route.modelId ?? ''}\` does not exist or you do not have access to it.`,
            type: 'invalid_request_error',
            param: 'model',
            code: 'model_not_found',
          });
        }
        return replies.sendJson(ctx, 200, modelObject(m));
      }
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (e instanceof RequestError) return replies.sendError(res, e.apiError);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const message = e instanceof Error && e.message === 'request aborted' ? 'Client closed the request.' : 'The simulator failed on this request.';
      replies.sendError(res, { status: 500, message, type: 'server_error', code: 'simulator_error' });
    });
  });
  server.on('connection', (s) => {
    if (state.stopping) {
      s.destroy();
      return;
    }
    sockets.add(s);
    state.stats.connections++;
    s.once('close', () => sockets.delete(s));
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(state.o.port, state.o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : state.o.port;
  const hostForUrl = state.o.host.includes(':') ? `[${state.o.host}]` : state.o.host;
  let stopped: Promise<void> | undefined;

  return {
    url: `http://${hostForUrl}:${port}`,
    port,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        state.stopping = true;
        for (const ac of inflight) ac.abort();
        // Resolve on the next loop turn, after libuv has run the handles' close callbacks.
        server.close(() => setTimeout(resolve, 0));
        server.closeAllConnections();
        for (const s of sockets) s.destroy();
      });
      return stopped;
    },
    stats() {
      const s = structuredClone(state.stats);
      s.streams.active = state.activeStreams;
      s.openConnections = sockets.size;
      return s;
    },
    resetStats() {
      state.stats = freshStats();
    },
    setOptions(patch: SimulatorOptions) {
      const { host: _h, port: _p, ...rest } = patch;
      state.o = resolveOptions(rest, state.o);
      if (patch.seed !== undefined) faultRandom = rng(patch.seed);
    },
    options() {
      return state.o;
    },
  };
}
