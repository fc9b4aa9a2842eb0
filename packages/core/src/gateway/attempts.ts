/**
 * Stage 3, attempt and failover (SPEC §5): the ranked offers in order, each behind its endpoint's circuit
 * breaker, until one answers, the caller's deadline passes or the client leaves. A failure before the
 * first byte reaches the client falls over to the next offer and bills nothing; once the stream relay
 * has started, a failure is the relay's (no failover). Every way out settles the hold exactly once.
 * Its dependencies are small ports (AttemptDeps), so the loop runs offline against fakes.
 */
import { assert } from '../money.js';
import { countTokens } from '../tokens.js';
import { sseData } from '../sse.js';
import type { Offer } from '../catalog.js';
import type { Workload } from '../usage.js';
import type { Breakers } from './breakers.js';
import { addSample, bodyFor, replyHeaders, type RequestContext } from './context.js';
import { openAiError, passThroughError, type ErrorSpec } from './errors.js';
import { AttemptFailed, MAX_UPSTREAM_BODY_BYTES, MAX_UPSTREAM_ERROR_BYTES, nextWithin, readAll } from './io.js';
import { choiceText, usageOf, type Metered } from './metering.js';
import type { GatewayClock, GatewayConfig, GatewayLog, GatewayResult, RelayTokens, Upstream, UpstreamOpen, UpstreamRequest } from './ports.js';
import type { Settle } from './settle.js';
import { relayStream } from './stream.js';
import { bufferedReply } from './buffered.js';
import { isProgressive } from './progressive.js';
import type { LatencyTracker } from './latency.js';
import { MAX_ROUTE_ATTEMPTS } from './preferences.js';

export interface AttemptDeps {
  upstream: Upstream;
  breakers: Breakers;
  clock: GatewayClock;
  settle: Settle;
  /** Signs each forwarded request for its provider; absent, requests go unsigned. */
  relay?: RelayTokens;
  log?: GatewayLog;
  cfg: GatewayConfig;
  /** Takes each answering endpoint's time to first byte (`provider.sort: "latency"`). */
  latency?: LatencyTracker;
}

const UPSTREAM_PATH: Record<Workload, UpstreamRequest['path']> = { chat: '/chat/completions', completion: '/completions', embedding: '/embeddings' };
/** Provider statuses that mean the caller's request is wrong (as the provider sees it): passed through, not retried elsewhere. */
const CALLER_ERROR_STATUSES: readonly number[] = [400, 413, 422];

type Opened = Extract<UpstreamOpen, { ok: true }>;

/** Tries the offers in order; returns the reply given (success, pass-through, or every attempt's failure). */
export async function serveAttempts(ctx: RequestContext, deps: AttemptDeps): Promise<GatewayResult> {
  assert(ctx.offers.length <= MAX_ROUTE_ATTEMPTS, 'no more offers than attempts allowed');
  let last: AttemptFailed | null = null;
  for (const offer of ctx.offers) {
    if (ctx.sink.signal.aborted) break;
    if (deps.clock.elapsedMs() >= ctx.req.deadline_ms) break;
    if (!deps.breakers.tryAcquire(offer.endpoint_id, deps.clock.elapsedMs())) {
      ctx.attempts.push({ endpoint_id: offer.endpoint_id, result: 'circuit_open' });
      continue;
    }
    // The client going away aborts the provider call too.
    const ac = new AbortController();
    const onClientGone = () => ac.abort();
    ctx.sink.signal.addEventListener('abort', onClientGone, { once: true });
    try {
      return await attemptOffer(ctx, deps, offer, ac);
    } catch (err) {
      last = err instanceof AttemptFailed ? err : new AttemptFailed('connection', (err as Error).message ?? String(err));
      if (last.kind === 'aborted' || ctx.sink.signal.aborted) {
        ctx.attempts.push({ endpoint_id: offer.endpoint_id, result: 'client_gone' });
        break;
      }
      noteFailure(ctx, deps, offer, last);
    } finally {
      ctx.sink.signal.removeEventListener('abort', onClientGone);
    }
  }
  assert(ctx.attempts.length <= ctx.offers.length, 'at most one attempt an offer');
  return everyAttemptFailed(ctx, deps, last);
}

/** A failure before the first byte: counted against the provider (a 429 excepted), then the next offer. */
function noteFailure(ctx: RequestContext, deps: AttemptDeps, offer: Offer, f: AttemptFailed): void {
  // A 429 says the provider is busy, not broken: fall over without counting against its circuit.
  if (!(f.kind === 'status' && f.status === 429)) deps.breakers.failure(offer.endpoint_id, deps.clock.elapsedMs());
  else deps.breakers.success(offer.endpoint_id);
  addSample(ctx, deps.clock, offer, false, null);
  ctx.attempts.push({ endpoint_id: offer.endpoint_id, result: f.kind === 'status' ? `status_${f.status}` : f.kind });
  deps.log?.('warn', 'attempt failed before the first byte; falling over', { request_id: ctx.req.request_id, endpoint_id: offer.endpoint_id, kind: f.kind, message: f.message });
}

/** The time left for a provider's first byte: the configured bound, cut by the caller's deadline (at least 1 ms). */
function firstByteMs(ctx: RequestContext, deps: AttemptDeps): number {
  return Math.max(1, Math.min(deps.cfg.first_byte_timeout_ms, ctx.req.deadline_ms - deps.clock.elapsedMs()));
}

/** One offer: open the provider call, then the reply by its kind. Throws AttemptFailed to fall over. */
async function attemptOffer(ctx: RequestContext, deps: AttemptDeps, offer: Offer, ac: AbortController): Promise<GatewayResult> {
  const attemptStartedMs = deps.clock.elapsedMs();
  const timeoutMs = firstByteMs(ctx, deps);
  const relay: Record<string, string> = deps.relay ? { authorization: `Bearer ${await deps.relay.token(offer.provider_id, ctx.req.request_id)}` } : {};
  const opened = await deps.upstream.open({
    base_url: offer.endpoint.url,
    path: UPSTREAM_PATH[ctx.call.workload],
    body: bodyFor(ctx, offer),
    headers: { 'x-compux-request-id': ctx.req.request_id, ...relay },
    signal: ac.signal,
    headers_timeout_ms: timeoutMs,
  });
  if (!opened.ok) throw new AttemptFailed(opened.failure === 'aborted' ? 'aborted' : opened.failure, opened.message);
  if (opened.status < 200 || opened.status >= 300) return providerRefused(ctx, deps, offer, opened);
  if (!ctx.call.stream && isProgressive(ctx.call)) {
    // Asked whole, streamed from the provider so it can be cut where the credit ends (buffered.ts).
    const bufferedDeps = { breakers: deps.breakers, clock: deps.clock, settle: deps.settle, first_event_ms: firstByteMs(ctx, deps), idle_timeout_ms: deps.cfg.idle_timeout_ms };
    return bufferedReply(ctx, bufferedDeps, offer, opened.body, ac);
  }
  // A whole reply's first byte comes once the provider has generated all of it: a time that depends on the request's
  // length, not the provider's, so only streams' first events feed the latency sort (latency.ts).
  if (!ctx.call.stream) return wholeReply(ctx, deps, offer, opened);
  return streamReply(ctx, deps, offer, opened, ac, attemptStartedMs);
}

/** A non-2xx answer: the caller's own mistake is passed through (and settled at zero); anything else falls over. */
async function providerRefused(ctx: RequestContext, deps: AttemptDeps, offer: Offer, opened: Opened): Promise<GatewayResult> {
  const text = await readAll(opened.body, MAX_UPSTREAM_ERROR_BYTES).catch(() => '');
  if (CALLER_ERROR_STATUSES.includes(opened.status)) {
    deps.breakers.success(offer.endpoint_id);
    addSample(ctx, deps.clock, offer, true, null);
    ctx.attempts.push({ endpoint_id: offer.endpoint_id, result: `rejected_${opened.status}` });
    const fin = await deps.settle(ctx, offer, 'rejected_upstream', opened.status, null);
    ctx.sink.reply(opened.status, replyHeaders(ctx, offer, { 'x-compux-cost-micros': '0' }), passThroughError(text, opened.status));
    return { status: opened.status, outcome: 'rejected_upstream', code: 'rejected_upstream', record: fin.record, settled: fin.settled, attempts: ctx.attempts };
  }
  const ra = Number(opened.headers['retry-after']);
  throw new AttemptFailed('status', `provider answered ${opened.status}`, opened.status, Number.isFinite(ra) && ra >= 0 ? ra : undefined);
}

/** A whole (non-streamed) reply: read, checked, metered, settled, then sent. */
async function wholeReply(ctx: RequestContext, deps: AttemptDeps, offer: Offer, opened: Opened): Promise<GatewayResult> {
  const text = await readAll(opened.body, MAX_UPSTREAM_BODY_BYTES);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new AttemptFailed('malformed', 'provider reply is not JSON');
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new AttemptFailed('malformed', 'provider reply is not an object');
  deps.breakers.success(offer.endpoint_id);
  addSample(ctx, deps.clock, offer, true, null);
  ctx.attempts.push({ endpoint_id: offer.endpoint_id, result: 'ok' });
  ctx.ttft_ms = deps.clock.elapsedMs() - ctx.started_ms;
  const usage = usageOf(json.usage);
  const metered: Metered = usage
    ? { ...usage, estimated: false }
    : {
        prompt_tokens: ctx.call.prompt_tokens_estimate,
        completion_tokens: Array.isArray(json.choices) ? (json.choices as unknown[]).reduce<number>((n, c) => n + countTokens(choiceText(c)), 0) : 0,
        estimated: true,
      };
  const fin = await deps.settle(ctx, offer, 'ok', 200, metered);
  ctx.sink.reply(200, replyHeaders(ctx, offer, { 'x-compux-cost-micros': String(fin.cost_micros), 'x-compux-estimated': String(metered.estimated), 'content-type': 'application/json' }), JSON.stringify(json));
  return { status: 200, outcome: 'ok', code: null, record: fin.record, settled: fin.settled, attempts: ctx.attempts };
}

/** A stream: the provider's first event is awaited before answering, so a failure up to there can fall over. */
async function streamReply(ctx: RequestContext, deps: AttemptDeps, offer: Offer, opened: Opened, ac: AbortController, attemptStartedMs: number): Promise<GatewayResult> {
  const events = sseData(opened.body)[Symbol.asyncIterator]();
  const first = await nextWithin(events, firstByteMs(ctx, deps), 'first event').catch((err: unknown) => {
    throw err instanceof AttemptFailed ? err : new AttemptFailed(ac.signal.aborted ? 'aborted' : 'connection', `stream failed before its first event: ${(err as Error).message}`);
  });
  if (first.done) throw new AttemptFailed('malformed', 'stream ended before its first event');
  let firstChunk: Record<string, unknown> | 'done';
  try {
    firstChunk = first.value.trim() === '[DONE]' ? 'done' : (JSON.parse(first.value) as Record<string, unknown>);
  } catch {
    throw new AttemptFailed('malformed', 'first stream event is not JSON');
  }
  if (firstChunk === 'done') throw new AttemptFailed('malformed', 'stream ended before any content');
  const firstEventMs = deps.clock.elapsedMs() - attemptStartedMs;
  deps.breakers.success(offer.endpoint_id);
  deps.latency?.record(offer.endpoint_id, firstEventMs);
  ctx.attempts.push({ endpoint_id: offer.endpoint_id, result: 'ok' });
  const streamDeps = { breakers: deps.breakers, clock: deps.clock, settle: deps.settle, idle_timeout_ms: deps.cfg.idle_timeout_ms };
  const streamed = await relayStream(ctx, streamDeps, { offer, events, first_chunk: firstChunk, abort: ac, headers: replyHeaders(ctx, offer) });
  addSample(ctx, deps.clock, offer, streamed.outcome !== 'failed_mid_stream', firstEventMs);
  return streamed;
}

/** Every attempt failed before the first byte (or the client left): nothing billed, the hold goes back. */
async function everyAttemptFailed(ctx: RequestContext, deps: AttemptDeps, last: AttemptFailed | null): Promise<GatewayResult> {
  const gone = ctx.sink.signal.aborted;
  const failures = ctx.attempts.map((a) => a.result);
  const tried = ctx.attempts.length;
  const spec: ErrorSpec = gone
    ? { status: 499, type: 'server_error', code: 'client_closed_request', message: 'The client closed the request.' }
    : ctx.restricted
      // Others could have served: the caller's preferences kept them out, so say that rather than blame providers.
      ? { status: 503, type: 'server_error', code: 'no_allowed_provider', message: `Every provider your routing preferences allow failed before answering (${tried} tried); others can serve this model: widen provider.only or provider.ignore, or allow_fallbacks: true.`, headers: { 'retry-after': '5' } }
    : failures.length > 0 && failures.every((r) => r === 'timeout')
      ? { status: 504, type: 'server_error', code: 'upstream_timeout', message: `No provider answered within ${deps.cfg.first_byte_timeout_ms} ms (${tried} tried).` }
      : failures.length > 0 && failures.every((r) => r === 'status_429')
        ? { status: 503, type: 'server_error', code: 'upstream_rate_limited', message: 'Every provider for this model is at capacity; retry shortly.', headers: { 'retry-after': String(Math.min(60, Math.max(1, last?.retryAfterS ?? 1))) } }
        : { status: 502, type: 'server_error', code: 'upstream_error', message: `The providers for this model failed (${tried} tried): ${last?.message ?? 'no attempt could be made'}.` };
  const fin = await deps.settle(ctx, null, 'upstream_error', spec.status, null);
  if (!gone) ctx.sink.reply(spec.status, replyHeaders(ctx, null, { 'x-compux-cost-micros': '0', ...(spec.headers ?? {}) }), openAiError(spec));
  return { status: spec.status, outcome: 'upstream_error', code: spec.code, record: fin.record, settled: fin.settled, attempts: ctx.attempts };
}
