/**
 * The paid request path (SPEC §4, §5): admit → hold → route with failover → meter → settle.
 *
 *   1. Admission: the key's model allow-list, the catalog's offers for the model, the hold (the most the
 *      request can cost on any offer it may be tried on), the key's RPM/TPM window.
 *   2. Hold: one conditional transaction reserves the hold across facilities in draw order (and the key's
 *      budget). Nothing goes upstream without it.
 *   3. Routing: ranked offers, at most MAX_ATTEMPTS_PER_REQUEST, each behind its endpoint's circuit
 *      breaker. A failure before the first byte reaches the client falls over to the next offer; nothing
 *      is billed for a failed attempt. After the first byte, a failure ends the stream with an error event.
 *   4. Metering: the provider's usage report, else tokens counted from what it sent (flagged estimated).
 *      A client that goes away aborts the upstream call; it pays for what was received until then.
 *   5. Settlement: one transaction settles the hold to the metered cost (never above the hold), returns
 *      the rest, and writes the request record. It happens before the reply's last byte, so a request
 *      whose reply completed is settled.
 *
 * Expected failures are result codes mapped to OpenAI's error shape by the caller; this module never
 * imports AWS (the DynamoDB and HTTP adapters sit behind CatalogSource, RateLimiter, Upstream).
 */
import { assert, divHalfEven } from './money.js';
import { now as clockNow } from './clock.js';
import { PROVIDER_SHARE_PERCENT, MAX_TOKENS_PER_REQUEST, maxCostMicros, requestEconomics } from './pricing.js';
import { CircuitBreaker, MAX_ATTEMPTS_PER_REQUEST, rankCandidates, type CircuitState } from './routing.js';
import { offersFor, type CatalogSource, type Offer } from './catalog.js';
import type { Credits } from './credits.js';
import { spendByFacility, type Hold } from './holds.js';
import type { RateLimiter } from './ratelimit.js';
import type { ApiKeyRecord } from './store.js';
import { sseData } from './sse.js';
import { chatPromptUpperBound, countChatPromptTokens, countTokens, tokenUpperBound, type ChatMessageLike } from './tokens.js';
import { WORKLOAD_KIND, type Outcome, type UsageRecord, type Workload } from './usage.js';
import type { SlaRecorder, SlaSample } from './sla.js';

/** Largest non-streamed provider reply read into memory. */
export const MAX_UPSTREAM_BODY_BYTES = 16 * 1024 * 1024;
/** Choices one request may ask for (n, best_of). */
export const MAX_CHOICES = 16;
/** Settling is retried this many more times after the store's own retries before the hold is left to the sweeper. */
const SETTLE_ATTEMPTS = 3;

// ---------- what the caller asked ----------

export interface GatewayCall {
  workload: Workload;
  model: string;
  stream: boolean;
  include_usage: boolean;
  /** Upper bound of prompt tokens for any tokenizer (bytes), for the hold. */
  prompt_tokens_max: number;
  /** Prompt tokens under our counting rule, used when the provider reports no usage. */
  prompt_tokens_estimate: number;
  /** Completion tokens the request may produce (max_tokens × choices); null = up to the model's context. */
  completion_tokens_max: number | null;
  /** The request body as received (validated), forwarded upstream. */
  body: Record<string, unknown>;
}

type PromptInput = string | number[] | string[] | number[][];

function promptFigures(input: PromptInput): { max: number; estimate: number } {
  if (typeof input === 'string') return { max: tokenUpperBound(input), estimate: countTokens(input) };
  let max = 0;
  let estimate = 0;
  for (const p of input as (string | number | number[])[]) {
    if (typeof p === 'number') {
      max += 1;
      estimate += 1;
    } else if (typeof p === 'string') {
      max += tokenUpperBound(p);
      estimate += countTokens(p);
    } else {
      max += p.length;
      estimate += p.length;
    }
  }
  return { max, estimate };
}

/** The call's figures from a validated OpenAI request body. */
export function describeCall(workload: Workload, body: Record<string, unknown>): GatewayCall {
  const stream = body.stream === true;
  const include_usage = stream && (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  const model = body.model as string;
  if (workload === 'chat') {
    const messages = body.messages as ChatMessageLike[];
    const n = (body.n as number | undefined) ?? 1;
    const maxTokens = (body.max_completion_tokens as number | undefined) ?? (body.max_tokens as number | undefined) ?? null;
    return {
      workload, model, stream, include_usage, body,
      prompt_tokens_max: chatPromptUpperBound(messages),
      prompt_tokens_estimate: countChatPromptTokens(messages),
      completion_tokens_max: maxTokens === null ? null : maxTokens * n,
    };
  }
  if (workload === 'completion') {
    const f = promptFigures(body.prompt as PromptInput);
    const prompts = typeof body.prompt === 'string' || typeof (body.prompt as unknown[])[0] === 'number' ? 1 : (body.prompt as unknown[]).length;
    const choices = Math.max((body.n as number | undefined) ?? 1, (body.best_of as number | undefined) ?? 1);
    // OpenAI's completions default max_tokens is 16.
    const maxTokens = (body.max_tokens as number | undefined) ?? 16;
    // echo returns the prompt as completion text as well.
    const echo = body.echo === true ? f.max : 0;
    return { workload, model, stream, include_usage, body, prompt_tokens_max: f.max, prompt_tokens_estimate: f.estimate, completion_tokens_max: (maxTokens * choices + echo) * prompts };
  }
  const f = promptFigures(body.input as PromptInput);
  return { workload, model, stream: false, include_usage: false, body, prompt_tokens_max: f.max, prompt_tokens_estimate: f.estimate, completion_tokens_max: 0 };
}

// ---------- the provider side ----------

export interface UpstreamRequest {
  /** The endpoint's base URL (…/v1). */
  base_url: string;
  path: '/chat/completions' | '/completions' | '/embeddings';
  body: string;
  headers: Record<string, string>;
  signal: AbortSignal;
  /** Until the response headers. */
  headers_timeout_ms: number;
}

export type UpstreamOpen =
  | { ok: true; status: number; headers: Record<string, string>; body: AsyncIterable<Uint8Array> }
  | { ok: false; failure: 'timeout' | 'connection' | 'aborted'; message: string };

export interface Upstream {
  open(req: UpstreamRequest): Promise<UpstreamOpen>;
}

// ---------- the client side ----------

/**
 * Where the reply goes. Exactly one of reply() or open() is called, first.
 * write() resolves false when the client has gone; `signal` aborts then too.
 */
export interface ResponseSink {
  readonly signal: AbortSignal;
  reply(status: number, headers: Record<string, string>, body: string): void;
  open(status: number, headers: Record<string, string>): void;
  write(chunk: string): Promise<boolean>;
  end(): void;
}

export interface GatewayConfig {
  /** Until a provider's response headers (and for streams, its first event). */
  first_byte_timeout_ms: number;
  /** Longest silence between two stream events. */
  idle_timeout_ms: number;
  max_attempts: number;
}

export const DEFAULT_GATEWAY_CONFIG: GatewayConfig = { first_byte_timeout_ms: 30_000, idle_timeout_ms: 60_000, max_attempts: MAX_ATTEMPTS_PER_REQUEST };

export interface GatewayRequest {
  call: GatewayCall;
  startup_id: string;
  key: ApiKeyRecord;
  request_id: string;
  /** Idempotency-Key header, else the request id: the hold derives from it. */
  idempotency_key: string;
  request_hash: string;
  region?: string;
  /** Wall-clock deadline (ms since epoch) after which nothing new is started: the function's own timeout minus room to settle. */
  deadline_ms: number;
}

export interface GatewayResult {
  status: number;
  outcome: Outcome | 'refused';
  code: string | null;
  record: UsageRecord | null;
  settled: boolean;
  attempts: { endpoint_id: string; result: string }[];
}

export type GatewayLog = (level: 'info' | 'warn' | 'error', message: string, data: Record<string, unknown>) => void;

interface ErrorSpec {
  status: number;
  type: string;
  code: string;
  message: string;
  param?: string | null;
  headers?: Record<string, string>;
}

export function openAiError(e: ErrorSpec): string {
  return JSON.stringify({ error: { message: e.message, type: e.type, param: e.param ?? null, code: e.code } });
}

interface Metered {
  prompt_tokens: number;
  completion_tokens: number;
  estimated: boolean;
}

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}

function usageOf(v: unknown): Usage | null {
  if (!v || typeof v !== 'object') return null;
  const u = v as { prompt_tokens?: unknown; completion_tokens?: unknown };
  const ok = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 && n <= MAX_TOKENS_PER_REQUEST;
  if (!ok(u.prompt_tokens)) return null;
  // Embeddings report no completion tokens.
  const completion = u.completion_tokens === undefined ? 0 : u.completion_tokens;
  if (!ok(completion)) return null;
  return { prompt_tokens: u.prompt_tokens as number, completion_tokens: completion as number };
}

/** Text a streamed or whole choice carries: what we count when the provider reports no usage. */
export function choiceText(choice: unknown): string {
  if (!choice || typeof choice !== 'object') return '';
  const c = choice as { delta?: Record<string, unknown>; message?: Record<string, unknown>; text?: unknown };
  if (typeof c.text === 'string') return c.text;
  const m = c.delta ?? c.message;
  if (!m) return '';
  let out = typeof m.content === 'string' ? m.content : '';
  if (typeof m.refusal === 'string') out += m.refusal;
  if (Array.isArray(m.tool_calls)) {
    for (const t of m.tool_calls as { function?: { name?: unknown; arguments?: unknown } }[]) {
      if (typeof t?.function?.name === 'string') out += t.function.name;
      if (typeof t?.function?.arguments === 'string') out += t.function.arguments;
    }
  }
  return out;
}

const UPSTREAM_PATH: Record<Workload, UpstreamRequest['path']> = { chat: '/chat/completions', completion: '/completions', embedding: '/embeddings' };

class AttemptFailed extends Error {
  constructor(
    readonly kind: 'timeout' | 'connection' | 'status' | 'malformed' | 'aborted',
    message: string,
    readonly status?: number,
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

async function readAll(body: AsyncIterable<Uint8Array>, limit: number): Promise<string> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const c of body) {
    size += c.byteLength;
    if (size > limit) throw new AttemptFailed('malformed', `provider reply over ${limit} bytes`);
    parts.push(c);
  }
  return Buffer.concat(parts).toString('utf8');
}

/** Races one step of an iterator against a timer; the timer is always cleared. */
async function nextWithin<T>(it: AsyncIterator<T>, ms: number, what: string): Promise<IteratorResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      it.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new AttemptFailed('timeout', `no ${what} from the provider within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export class Gateway {
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly cfg: GatewayConfig;

  constructor(
    private readonly deps: {
      credits: Credits;
      catalog: CatalogSource;
      limiter: RateLimiter;
      upstream: Upstream;
      /** Mints the relay token each forwarded request carries (SPEC §6). */
      relay?: { ready(): Promise<unknown>; token(providerId: string, requestId: string): Promise<string> };
      /** Takes the latency and error samples real traffic produces (SPEC §6 SLA). */
      sla?: SlaRecorder;
      clock?: () => Date;
      log?: GatewayLog;
    },
    cfg: Partial<GatewayConfig> = {},
  ) {
    this.cfg = { ...DEFAULT_GATEWAY_CONFIG, ...cfg };
    assert(this.cfg.max_attempts >= 1 && this.cfg.max_attempts <= MAX_ATTEMPTS_PER_REQUEST, `attempts must be in [1, ${MAX_ATTEMPTS_PER_REQUEST}]`);
  }

  private now(): Date {
    return this.deps.clock?.() ?? clockNow();
  }

  private breaker(endpointId: string): CircuitBreaker {
    let b = this.breakers.get(endpointId);
    if (!b) {
      b = new CircuitBreaker();
      this.breakers.set(endpointId, b);
    }
    return b;
  }

  circuitState(endpointId: string): CircuitState {
    return this.breakers.get(endpointId)?.state(Date.now()) ?? 'closed';
  }

  async handle(req: GatewayRequest, sink: ResponseSink): Promise<GatewayResult> {
    const started = Date.now();
    const { call, key } = req;
    const refuse = (e: ErrorSpec): GatewayResult => {
      sink.reply(e.status, { 'x-compux-provider': 'none', 'x-compux-cost-micros': '0', ...(e.headers ?? {}) }, openAiError(e));
      return { status: e.status, outcome: 'refused', code: e.code, record: null, settled: false, attempts: [] };
    };

    // 1. Admission.
    if (key.models && !key.models.includes(call.model)) {
      return refuse({ status: 403, type: 'permission_error', code: 'model_not_allowed', param: 'model', message: `This key may not use the model ${call.model}.` });
    }
    const catalog = await this.deps.catalog.load();
    const offers = offersFor(catalog, call.model, WORKLOAD_KIND[call.workload]);
    if (!offers.some((o) => o.status === 'live')) {
      return refuse({ status: 404, type: 'invalid_request_error', code: 'model_not_found', param: 'model', message: `The model ${call.model} does not exist or is not served for this route.` });
    }
    const nowIso = this.now().toISOString();
    for (const o of offers) {
      const completion = call.completion_tokens_max ?? o.entry.context_length;
      o.price_micros = maxCostMicros(call.prompt_tokens_max, completion, o.entry.context_length, o.entry, o.spot_micros_per_gpu_hour);
    }
    const choice = rankCandidates(offers, { model: call.model, now: nowIso, circuit: (id) => this.circuitState(id), ...(req.region ? { region: req.region } : {}) });
    const tryList = choice.ranked.slice(0, this.cfg.max_attempts);
    if (tryList.length === 0) {
      return refuse({ status: 503, type: 'api_error', code: 'no_capacity', message: `No provider can serve ${call.model} right now; retry shortly.`, headers: { 'retry-after': '5' } });
    }
    // The hold covers the dearest offer this request may be tried on, so failover never needs a second hold.
    const holdMicros = Math.max(...tryList.map((o) => o.price_micros), 1);

    const tokensForLimit = Math.min(call.prompt_tokens_max, Math.max(...tryList.map((o) => o.entry.context_length))) + (call.completion_tokens_max ?? Math.max(...tryList.map((o) => o.entry.context_length)));
    const rate = await this.deps.limiter.admit(key.id, { rpm: key.rpm, tpm: key.tpm }, tokensForLimit, this.now());
    if (!rate.ok) {
      const message = rate.too_large
        ? `This request may use up to ${tokensForLimit} tokens, more than this key's limit of ${key.tpm} tokens per minute; lower max_tokens or the prompt.`
        : `Rate limit reached for this key: ${rate.limit === 'rpm' ? `${key.rpm} requests` : `${key.tpm} tokens`} per minute. Retry after ${rate.retry_after_s} s.`;
      return refuse({ status: 429, type: 'rate_limit_error', code: rate.too_large ? 'request_too_large' : `rate_limit_${rate.limit}`, message, headers: { 'retry-after': String(rate.retry_after_s) } });
    }

    // Relay keys are loaded before any money is held: a failure here costs the caller nothing.
    await this.deps.relay?.ready();

    // 2. Hold.
    const reserved = await this.deps.credits.reserve({
      startup_id: req.startup_id,
      amount_micros: holdMicros,
      idempotency_key: `gw:${req.idempotency_key}`,
      request_hash: req.request_hash,
      refs: { request_id: req.request_id, key_id: key.id, ...(key.budget_micros !== null ? { budget_key: key.key_sha256 } : {}) },
    });
    if (!reserved.ok) {
      switch (reserved.code) {
        case 'exceeds_credit':
          return refuse({ status: 402, type: 'insufficient_credit', code: 'exceeds_credit', message: `Not enough credit: this request needs a hold of ${holdMicros} micros (its most possible cost).` });
        case 'facility_frozen':
          return refuse({ status: 403, type: 'permission_error', code: 'credits_frozen', message: 'The credit facilities that could pay for this request are frozen by their lender.' });
        case 'key_budget_exceeded':
          return refuse({ status: 402, type: 'insufficient_credit', code: 'key_budget_exceeded', message: `This key's spend budget cannot cover a hold of ${holdMicros} micros.` });
        case 'idempotency_conflict':
          return refuse({ status: 409, type: 'conflict_error', code: 'idempotency_conflict', message: 'This Idempotency-Key was already used with a different request.' });
        case 'contention':
          return refuse({ status: 503, type: 'api_error', code: 'contention', message: 'The service is busy; retry.', headers: { 'retry-after': '1' } });
      }
    }
    if (reserved.replayed) {
      // A completion is not stored, so it cannot be replayed; running it again would bill it twice.
      return refuse({ status: 409, type: 'conflict_error', code: 'idempotency_key_reused', message: 'This Idempotency-Key was already used for a completion; send a new key to run another.' });
    }
    const hold = reserved.hold;

    // 3–5. Route, meter, settle — the hold is always closed on the way out.
    const samples: SlaSample[] = [];
    const result = await this.serve(req, sink, hold, tryList, started, samples);
    // After the reply: what each provider tried did feeds its SLA standing. A lost write loses samples, not money.
    if (samples.length > 0 && this.deps.sla) {
      await this.deps.sla.record(samples).catch((err: unknown) => this.deps.log?.('warn', 'could not record SLA samples', { request_id: req.request_id, error: String(err) }));
    }
    return result;
  }

  private async serve(req: GatewayRequest, sink: ResponseSink, hold: Hold, tryList: Offer[], started: number, samples: SlaSample[]): Promise<GatewayResult> {
    const { call } = req;
    const sample = (offer: Offer, ok: boolean, latency_ms: number | null) =>
      samples.push({ provider_id: offer.provider_id, endpoint_id: offer.endpoint_id, source: 'traffic', ok, latency_ms, at: this.now().toISOString() });
    const attempts: GatewayResult['attempts'] = [];
    const upstreamBody = { ...call.body };
    if (call.stream) upstreamBody.stream_options = { ...((call.body.stream_options as object | undefined) ?? {}), include_usage: true };
    const bodyText = JSON.stringify(upstreamBody);
    let last: AttemptFailed | null = null;
    let ttft: number | null = null;

    const finish = async (offer: Offer | null, outcome: Outcome, status: number, metered: Metered | null): Promise<{ record: UsageRecord; settled: boolean; cost: number }> => {
      let econ = { gpu_microseconds: 0, cost_micros: 0, provider_micros: 0, margin_micros: 0 };
      if (offer && metered) econ = requestEconomics(metered.prompt_tokens, metered.completion_tokens, offer.entry, offer.spot_micros_per_gpu_hour);
      if (econ.cost_micros > hold.amount_micros) {
        // The hold is the most we may take: a provider reporting more than the bound allowed is not passed on.
        this.deps.log?.('warn', 'metered cost above the hold; billed the hold', { request_id: req.request_id, cost_micros: econ.cost_micros, hold_micros: hold.amount_micros });
        const provider = Number(divHalfEven(BigInt(hold.amount_micros) * PROVIDER_SHARE_PERCENT, 100n));
        econ = { ...econ, cost_micros: hold.amount_micros, provider_micros: provider, margin_micros: hold.amount_micros - provider };
      }
      const record: Omit<UsageRecord, 'facilities'> = {
        request_id: req.request_id,
        startup_id: req.startup_id,
        key_id: req.key.id,
        hold_id: hold.id,
        workload: call.workload,
        model: call.model,
        provider_id: offer?.provider_id ?? '-',
        endpoint_id: offer?.endpoint_id ?? '-',
        accelerator: offer?.accelerator ?? '-',
        stream: call.stream,
        outcome,
        status_code: status,
        attempts: attempts.length,
        prompt_tokens: metered?.prompt_tokens ?? 0,
        completion_tokens: metered?.completion_tokens ?? 0,
        estimated: metered?.estimated ?? false,
        gpu_microseconds: econ.gpu_microseconds,
        cost_micros: econ.cost_micros,
        provider_micros: econ.provider_micros,
        margin_micros: econ.margin_micros,
        spot_micros_per_gpu_hour: offer?.spot_micros_per_gpu_hour ?? 0,
        latency_ms: Date.now() - started,
        ttft_ms: ttft,
        created_at: this.now().toISOString(),
      };
      for (let i = 0; i < SETTLE_ATTEMPTS; i++) {
        const r = await this.deps.credits.closeWithUsage(hold, econ.cost_micros, record);
        if (r.ok) return { record: { ...record, facilities: spendByFacility(hold, econ.cost_micros) }, settled: true, cost: econ.cost_micros };
        if (r.code !== 'contention') {
          this.deps.log?.('error', 'could not close the hold', { request_id: req.request_id, hold_id: hold.id, code: r.code });
          break;
        }
      }
      // Left open, the sweeper releases it at expiry: the startup is then not billed (never billed twice).
      this.deps.log?.('error', 'settlement failed; the hold will expire unbilled', { request_id: req.request_id, hold_id: hold.id, cost_micros: econ.cost_micros });
      return { record: { ...record, facilities: spendByFacility(hold, econ.cost_micros) }, settled: false, cost: econ.cost_micros };
    };

    const headersFor = (offer: Offer | null, extra: Record<string, string> = {}) => ({
      'x-compux-provider': offer?.provider_id ?? 'none',
      'x-compux-attempts': String(attempts.length),
      ...extra,
    });

    for (const offer of tryList) {
      if (sink.signal.aborted) break;
      if (Date.now() >= req.deadline_ms) break;
      const breaker = this.breaker(offer.endpoint_id);
      if (!breaker.tryAcquire(Date.now())) {
        attempts.push({ endpoint_id: offer.endpoint_id, result: 'circuit_open' });
        continue;
      }
      const ac = new AbortController();
      const onClientGone = () => ac.abort();
      sink.signal.addEventListener('abort', onClientGone, { once: true });
      const attemptStarted = Date.now();
      try {
        const timeout = Math.max(1, Math.min(this.cfg.first_byte_timeout_ms, req.deadline_ms - Date.now()));
        const relay: Record<string, string> = this.deps.relay ? { authorization: `Bearer ${await this.deps.relay.token(offer.provider_id, req.request_id)}` } : {};
        const opened = await this.deps.upstream.open({
          base_url: offer.endpoint.url,
          path: UPSTREAM_PATH[call.workload],
          body: bodyText,
          headers: { 'x-compux-request-id': req.request_id, ...relay },
          signal: ac.signal,
          headers_timeout_ms: timeout,
        });
        if (!opened.ok) throw new AttemptFailed(opened.failure === 'aborted' ? 'aborted' : opened.failure, opened.message);
        if (opened.status < 200 || opened.status >= 300) {
          const text = await readAll(opened.body, 64 * 1024).catch(() => '');
          // The caller's own mistake (as the provider sees it) is passed through, not retried elsewhere.
          if ([400, 413, 422].includes(opened.status)) {
            breaker.success();
            sample(offer, true, null);
            attempts.push({ endpoint_id: offer.endpoint_id, result: `rejected_${opened.status}` });
            const fin = await finish(offer, 'rejected_upstream', opened.status, null);
            sink.reply(opened.status, headersFor(offer, { 'x-compux-cost-micros': '0' }), passThroughError(text, opened.status));
            return { status: opened.status, outcome: 'rejected_upstream', code: 'rejected_upstream', record: fin.record, settled: fin.settled, attempts };
          }
          const ra = Number(opened.headers['retry-after']);
          throw new AttemptFailed('status', `provider answered ${opened.status}`, opened.status, Number.isFinite(ra) && ra >= 0 ? ra : undefined);
        }

        if (!call.stream) {
          const text = await readAll(opened.body, MAX_UPSTREAM_BODY_BYTES);
          let json: Record<string, unknown>;
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            throw new AttemptFailed('malformed', 'provider reply is not JSON');
          }
          if (!json || typeof json !== 'object' || Array.isArray(json)) throw new AttemptFailed('malformed', 'provider reply is not an object');
          breaker.success();
          sample(offer, true, null);
          attempts.push({ endpoint_id: offer.endpoint_id, result: 'ok' });
          ttft = Date.now() - started;
          const usage = usageOf(json.usage);
          const metered: Metered = usage
            ? { ...usage, estimated: false }
            : {
                prompt_tokens: call.prompt_tokens_estimate,
                completion_tokens: Array.isArray(json.choices) ? (json.choices as unknown[]).reduce<number>((n, c) => n + countTokens(choiceText(c)), 0) : 0,
                estimated: true,
              };
          const fin = await finish(offer, 'ok', 200, metered);
          sink.reply(200, headersFor(offer, { 'x-compux-cost-micros': String(fin.cost), 'x-compux-estimated': String(metered.estimated), 'content-type': 'application/json' }), JSON.stringify(json));
          return { status: 200, outcome: 'ok', code: null, record: fin.record, settled: fin.settled, attempts };
        }

        // Streamed: wait for the provider's first event before answering, so a failure up to there can fall over.
        const events = sseData(opened.body)[Symbol.asyncIterator]();
        const first = await nextWithin(events, Math.max(1, Math.min(this.cfg.first_byte_timeout_ms, req.deadline_ms - Date.now())), 'first event').catch((err: unknown) => {
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
        const firstEventMs = Date.now() - attemptStarted;
        breaker.success();
        attempts.push({ endpoint_id: offer.endpoint_id, result: 'ok' });
        const streamed = await this.pumpStream(req, sink, offer, events, firstChunk, ac, started, finish, headersFor(offer), (ms) => {
          ttft = ms;
        });
        sample(offer, streamed.outcome !== 'failed_mid_stream', firstEventMs);
        return { ...streamed, attempts };
      } catch (err) {
        const f = err instanceof AttemptFailed ? err : new AttemptFailed('connection', (err as Error).message ?? String(err));
        if (f.kind === 'aborted' || sink.signal.aborted) {
          attempts.push({ endpoint_id: offer.endpoint_id, result: 'client_gone' });
          last = f;
          break;
        }
        // A 429 says the provider is busy, not broken: fall over without counting against its circuit.
        if (!(f.kind === 'status' && f.status === 429)) breaker.failure(Date.now());
        else breaker.success();
        sample(offer, false, null);
        attempts.push({ endpoint_id: offer.endpoint_id, result: f.kind === 'status' ? `status_${f.status}` : f.kind });
        this.deps.log?.('warn', 'attempt failed before the first byte; falling over', { request_id: req.request_id, endpoint_id: offer.endpoint_id, kind: f.kind, message: f.message });
        last = f;
      } finally {
        sink.signal.removeEventListener('abort', onClientGone);
      }
    }

    // Every attempt failed before the first byte (or the client left): nothing billed, the hold goes back.
    const gone = sink.signal.aborted;
    const failures = attempts.map((a) => a.result);
    const spec: ErrorSpec = gone
      ? { status: 499, type: 'api_error', code: 'client_closed_request', message: 'The client closed the request.' }
      : failures.length > 0 && failures.every((r) => r === 'timeout')
        ? { status: 504, type: 'api_error', code: 'upstream_timeout', message: `No provider answered within ${this.cfg.first_byte_timeout_ms} ms (${attempts.length} tried).` }
        : failures.length > 0 && failures.every((r) => r === 'status_429')
          ? { status: 503, type: 'api_error', code: 'upstream_rate_limited', message: 'Every provider for this model is at capacity; retry shortly.', headers: { 'retry-after': String(Math.min(60, Math.max(1, last?.retryAfterS ?? 1))) } }
          : { status: 502, type: 'api_error', code: 'upstream_error', message: `The providers for this model failed (${attempts.length} tried): ${last?.message ?? 'no attempt could be made'}.` };
    const fin = await finish(null, 'upstream_error', spec.status, null);
    if (!gone) sink.reply(spec.status, headersFor(null, { 'x-compux-cost-micros': '0', ...(spec.headers ?? {}) }), openAiError(spec));
    return { status: spec.status, outcome: 'upstream_error', code: spec.code, record: fin.record, settled: fin.settled, attempts };
  }

  /** After the first event: relay events to the client, meter, settle, end. Failures here are not fallen over. */
  private async pumpStream(
    req: GatewayRequest,
    sink: ResponseSink,
    offer: Offer,
    events: AsyncIterator<string>,
    firstChunk: Record<string, unknown>,
    ac: AbortController,
    started: number,
    finish: (offer: Offer | null, outcome: Outcome, status: number, metered: Metered | null) => Promise<{ record: UsageRecord; settled: boolean; cost: number }>,
    headers: Record<string, string>,
    setTtft: (ms: number) => void,
  ): Promise<GatewayResult> {
    const { call } = req;
    let usage: Usage | null = null;
    let completionCounted = 0;
    let sawContent = false;
    let outcome: Outcome = 'ok';
    let failure: string | null = null;

    sink.open(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });

    /** Relays one provider chunk: counts it, keeps its usage, hides usage the client did not ask for. */
    const relay = async (chunk: Record<string, unknown>): Promise<boolean> => {
      const u = usageOf(chunk.usage);
      if (u) usage = u;
      const choices = Array.isArray(chunk.choices) ? (chunk.choices as unknown[]) : [];
      for (const c of choices) {
        // Counted frame by frame: a provider frame carries whole tokens, so the sum is the count of the whole.
        const n = countTokens(choiceText(c));
        if (n > 0 && !sawContent) {
          sawContent = true;
          setTtft(Date.now() - started);
        }
        completionCounted += n;
      }
      if (!call.include_usage) {
        if (choices.length === 0 && 'usage' in chunk) return true; // the usage-only chunk the client did not ask for
        delete chunk.usage;
      }
      return sink.write(`data: ${JSON.stringify(chunk)}\n\n`);
    };

    try {
      let alive = await relay(firstChunk);
      let done = false;
      while (alive && !done) {
        const next = await nextWithin(events, this.cfg.idle_timeout_ms, 'stream event');
        if (next.done) break; // ended without [DONE]: what came is what was produced
        if (next.value.trim() === '[DONE]') {
          done = true;
          break;
        }
        let chunk: Record<string, unknown>;
        try {
          chunk = JSON.parse(next.value) as Record<string, unknown>;
        } catch {
          throw new AttemptFailed('malformed', 'a stream event is not JSON');
        }
        if (chunk && typeof chunk === 'object' && 'error' in chunk) throw new AttemptFailed('status', 'the provider sent an error event');
        alive = await relay(chunk);
      }
      if (!alive || sink.signal.aborted) outcome = 'client_disconnected';
    } catch (err) {
      if (sink.signal.aborted || ac.signal.aborted) outcome = 'client_disconnected';
      else {
        outcome = 'failed_mid_stream';
        failure = err instanceof Error ? err.message : String(err);
        this.breaker(offer.endpoint_id).failure(Date.now());
      }
    } finally {
      ac.abort(); // stop reading the provider whatever happened (a no-op after a clean end)
    }

    const u = usage as Usage | null;
    const metered: Metered = u && outcome === 'ok'
      ? { ...u, estimated: false }
      : { prompt_tokens: u?.prompt_tokens ?? call.prompt_tokens_estimate, completion_tokens: completionCounted, estimated: true };
    const status = outcome === 'ok' ? 200 : outcome === 'client_disconnected' ? 499 : 502;
    const fin = await finish(offer, outcome, status, metered);
    if (outcome === 'failed_mid_stream') {
      await sink.write(`data: ${openAiError({ status: 502, type: 'api_error', code: 'upstream_failed_mid_stream', message: `The provider failed mid-stream (${failure}); billed for the ${metered.completion_tokens} tokens produced.` })}\n\n`);
    }
    if (outcome !== 'client_disconnected') {
      // Not part of OpenAI's stream (an SSE comment, ignored by clients): the billed cost, known only now.
      await sink.write(`: compux ${JSON.stringify({ cost_micros: fin.cost, estimated: metered.estimated, prompt_tokens: metered.prompt_tokens, completion_tokens: metered.completion_tokens })}\n\n`);
      if (outcome === 'ok') await sink.write('data: [DONE]\n\n');
    }
    sink.end();
    return { status, outcome, code: failure ? 'upstream_failed_mid_stream' : null, record: fin.record, settled: fin.settled, attempts: [] };
  }
}

/** A provider's 4xx body, reduced to OpenAI's error shape (nothing else of the provider's reaches the client). */
function passThroughError(text: string, status: number): string {
  try {
    const e = (JSON.parse(text) as { error?: { message?: unknown; type?: unknown; param?: unknown; code?: unknown } }).error;
    if (e && typeof e.message === 'string') {
      return openAiError({
        status,
        message: e.message.slice(0, 2_000),
        type: typeof e.type === 'string' ? e.type : 'invalid_request_error',
        code: typeof e.code === 'string' ? e.code : 'invalid_request',
        param: typeof e.param === 'string' ? e.param : null,
      });
    }
  } catch {
    // fall through to a generic message
  }
  return openAiError({ status, type: 'invalid_request_error', code: 'invalid_request', message: `The provider rejected the request (${status}).` });
}

