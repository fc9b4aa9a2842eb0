/**
 * Progressive reservations offline (SPEC §4): a chat request without max_tokens reserves a first slice,
 * extends as tokens arrive, and is cut with finish_reason "length" when the payment will not grow, billed
 * exactly for what the client received. serveAttempts is driven with a scripted upstream, a settable clock,
 * a recording sink and a fake payment whose extensions draw on a set amount of credit.
 */
import { describe, expect, it } from 'vitest';
import {
  BreakerBoard, DEFAULT_GATEWAY_CONFIG, countChatPromptTokens, describeCall, holdPayment, maxCostMicros, offersFor, rankOffers, requestContext, requestEconomics, serveAttempts, settler, upstreamBodyText,
  type Catalog, type GatewayClock, type GatewayRequest, type Hold, type Offer, type Payment, type ResponseSink, type RoutingProvider, type UpstreamOpen, type UpstreamRequest,
} from '../../packages/core/src/index.js';
import { FIRST_SLICE_TOKENS_PER_CHOICE } from '../../packages/core/src/gateway/progressive.js';

const T0_MS = Date.parse('2026-06-01T00:00:00Z');
const CONTEXT = 8_000;
const RATES = { prompt_tokens_per_gpu_second: 10_000, completion_tokens_per_gpu_second: 100 };
const SPOT = 2_000_000;
const MESSAGES = [{ role: 'user', content: 'hello' }];

const CATALOG: Catalog = {
  providers: [{
    id: 'a', name: 'a', status: 'live', sla_tier: 'standard', sla_meeting: true, recent_error_ppm: 0, listed_gpu_hours_month: 1_000,
    endpoints: [{ id: 'a_e', url: 'http://a/v1', region: 'r', availability_zone: 'r-a', capacity_type: 'shared', accelerators: ['H100'] }],
    models: [{ model: 'm', kind: 'chat', architecture: 'llama', context_length: CONTEXT, accelerator: 'H100', ...RATES }],
    capacity: [{ accelerator: 'H100', region: 'r', availability_zone: 'r-a', available_gpu_hours: 7 }],
    maintenance: [], updated_at: '2026-01-01T00:00:00Z',
  } satisfies RoutingProvider],
  spot_micros_per_gpu_hour: { H100: SPOT },
};

// ---------- fakes ----------

function fakeClock(): GatewayClock & { ms: number } {
  const c = { ms: T0_MS, elapsedMs: () => c.ms, now: () => new Date(c.ms) };
  return c;
}

const sse = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
const envelope = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm' };

/** A provider's chat stream: a role frame, `frames` content frames of `perFrame` one-token words, its end, usage, [DONE]. */
async function* providerStream(frames: number, perFrame = 1, onFrame?: (i: number) => void): AsyncGenerator<Uint8Array> {
  const enc = new TextEncoder();
  yield enc.encode(sse({ ...envelope, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }));
  for (let i = 0; i < frames; i++) {
    onFrame?.(i);
    yield enc.encode(sse({ ...envelope, choices: [{ index: 0, delta: { content: ' w'.repeat(perFrame) }, finish_reason: null }] }));
  }
  yield enc.encode(sse({ ...envelope, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }));
  yield enc.encode(sse({ ...envelope, choices: [], usage: { prompt_tokens: 9, completion_tokens: frames * perFrame, total_tokens: 9 + frames * perFrame } }));
  yield enc.encode('data: [DONE]\n\n');
}

function fakeSink(): ResponseSink & { status: number | null; headers: Record<string, string>; body: string; writes: string[]; ended: boolean } {
  const s = {
    signal: new AbortController().signal, status: null as number | null, body: '', writes: [] as string[], ended: false, headers: {} as Record<string, string>,
    reply(code: number, headers: Record<string, string>, body: string) { Object.assign(s, { status: code, headers, body }); },
    open(code: number, headers: Record<string, string>) { Object.assign(s, { status: code, headers }); },
    async write(c: string) { s.writes.push(c); return true; },
    end() { s.ended = true; },
  };
  return s;
}

/** A lease-like payment: extensions succeed while `credit` micros remain; every extension and close is recorded. */
function fakePayment(amount: number, credit: number, spendUntilMs: number | null = null) {
  const p = {
    id: 'pay_1', kind: 'lease' as const, amount, credit, extends: [] as number[], closed: [] as number[], spend_until_ms: spendUntilMs,
    amount_micros: () => p.amount,
    extend(by: number) {
      if (by > p.credit) return false;
      p.credit -= by;
      p.amount += by;
      p.extends.push(by);
      return true;
    },
    facilitiesFor: (cost: number) => (cost > 0 ? [{ facility_id: 'fac_1', amount_micros: cost }] : []),
    async close(cost: number) {
      expect(cost).toBeLessThanOrEqual(p.amount);
      p.closed.push(cost);
      return true;
    },
    written: () => null,
  };
  return p satisfies Payment;
}

function holdOf(amount: number) {
  const closed: number[] = [];
  const hold: Hold = {
    id: 'hold_1', startup_id: 'stu_1', amount_micros: amount, allocations: [{ facility_id: 'fac_1', amount_micros: amount }], status: 'open',
    created_at: new Date(T0_MS).toISOString(), expires_at: new Date(T0_MS + 600_000).toISOString(), request_hash: 'h', settled_micros: null, closed_at: null, refs: {}, captured_micros: 0,
  };
  const payment = holdPayment(hold, { closeWithUsage: async (h: Hold, micros: number) => (closed.push(micros), { ok: true as const, hold: h, replayed: false }) });
  return Object.assign(payment, { closed });
}

// ---------- driving one request ----------

function callOf(extra: Record<string, unknown> = {}) {
  return describeCall('chat', { model: 'm', messages: MESSAGES, ...extra });
}

function offersOf(call: ReturnType<typeof callOf>, clock: GatewayClock): Offer[] {
  return rankOffers(call, offersFor(CATALOG, 'm', 'chat'), new BreakerBoard(), clock, 1);
}

/** One request without max_tokens through serveAttempts; `pay` builds the payment from the first slice's price. */
async function serve(opts: { body?: Record<string, unknown>; stream: (clock: ReturnType<typeof fakeClock>) => AsyncIterable<Uint8Array>; pay: (firstSliceMicros: number) => Payment }) {
  const clock = fakeClock();
  const call = callOf(opts.body ?? {});
  const offers = offersOf(call, clock);
  const payment = opts.pay(offers[0]!.price_micros);
  const seen: UpstreamRequest[] = [];
  const upstream = { open: async (r: UpstreamRequest): Promise<UpstreamOpen> => (seen.push(r), { ok: true, status: 200, headers: {}, body: opts.stream(clock) }) };
  const req: GatewayRequest = {
    call, startup_id: 'stu_1', request_id: 'req_1', idempotency_key: 'req_1', request_hash: 'h', deadline_ms: T0_MS + 60_000,
    key: { id: 'key_1', budget_micros: null, models: null, rpm: null, tpm: null, budget_left_micros: null } as GatewayRequest['key'],
  };
  const sink = fakeSink();
  const ctx = requestContext({ req, call, sink, started_ms: clock.elapsedMs(), payment, offers, body_text: upstreamBodyText(call) });
  const result = await serveAttempts(ctx, { upstream, breakers: new BreakerBoard(), clock, cfg: DEFAULT_GATEWAY_CONFIG, settle: settler({ clock }) });
  return { result, sink, seen, call, payment };
}

/** The chunks the client received (data events other than [DONE]). */
function chunksOf(writes: string[]): Record<string, any>[] {
  return writes.filter((w) => w.startsWith('data: {')).map((w) => JSON.parse(w.slice(6)) as Record<string, any>);
}

const relayedTokens = (writes: string[]) => chunksOf(writes).reduce((n, c) => n + ((c.choices?.[0]?.delta?.content as string | undefined)?.split(' w').length ?? 1) - 1, 0);
/** The most completion tokens `micros` pays for at the prompt's bound (the allowance's own rule). */
function coverable(call: ReturnType<typeof callOf>, micros: number): number {
  let t = 0;
  while (t < CONTEXT && maxCostMicros(call.prompt_tokens_max, t + 1, CONTEXT, RATES, SPOT) <= micros) t++;
  return t;
}
const costOf = (prompt: number, completion: number) => requestEconomics(prompt, completion, RATES, SPOT).cost_micros;

// ---------- the behaviours ----------

describe('the first slice', () => {
  it('without max_tokens the offer is priced at the prompt bound and 256 tokens a choice, not the context', () => {
    // Prepare
    const clock = fakeClock();
    const one = callOf();
    const two = callOf({ n: 2 });
    const bounded = callOf({ max_tokens: 1_000 });
    // Act
    const [p1, p2, pb] = [one, two, bounded].map((c) => offersOf(c, clock)[0]!.price_micros);
    // Assess
    expect(one.completion_tokens_max).toBeNull();
    expect(p1).toBe(maxCostMicros(one.prompt_tokens_max, FIRST_SLICE_TOKENS_PER_CHOICE, CONTEXT, RATES, SPOT));
    expect(p2).toBe(maxCostMicros(two.prompt_tokens_max, 2 * FIRST_SLICE_TOKENS_PER_CHOICE, CONTEXT, RATES, SPOT));
    expect(pb).toBe(maxCostMicros(bounded.prompt_tokens_max, 1_000, CONTEXT, RATES, SPOT));
    expect(p1).toBeLessThan(maxCostMicros(one.prompt_tokens_max, CONTEXT, CONTEXT, RATES, SPOT) / 10);
  });

  it('a reply within the first slice never extends and is billed on the provider usage', async () => {
    // Act
    const { result, sink, payment } = await serve({ body: { stream: true }, stream: () => providerStream(200), pay: (m) => fakePayment(m, 1e9) });
    // Assess
    const p = payment as ReturnType<typeof fakePayment>;
    expect(p.extends).toEqual([]);
    expect(result).toMatchObject({ status: 200, outcome: 'ok', code: null, record: { completion_tokens: 200, estimated: false } });
    expect(relayedTokens(sink.writes)).toBe(200);
    expect(sink.writes.at(-1)).toBe('data: [DONE]\n\n');
  });
});

describe('extending as tokens arrive', () => {
  it('a long reply extends slice by slice, each twice the last, and runs to its end', async () => {
    // Act
    const { result, sink, payment, call } = await serve({ body: { stream: true }, stream: () => providerStream(2_000), pay: (m) => fakePayment(m, 1e9) });
    // Assess: 256 reserved, then 512, 1024, 2048 more (to 3840 ≥ 2000)
    const p = payment as ReturnType<typeof fakePayment>;
    expect(p.extends).toHaveLength(3);
    expect(coverable(call, p.amount)).toBe(256 + 512 + 1024 + 2048);
    expect(relayedTokens(sink.writes)).toBe(2_000);
    expect(result).toMatchObject({ outcome: 'ok', code: null, record: { completion_tokens: 2_000, estimated: false, cost_micros: costOf(9, 2_000) } });
    expect(p.closed).toEqual([costOf(9, 2_000)]);
  });
});

describe('cut when the payment will not grow', () => {
  it('credit out mid-generation: finish_reason length, usage, [DONE]; nothing beyond the paid amount relayed; billed exactly', async () => {
    // Prepare: credit for about 100 tokens more than the first slice.
    const extra = costOf(0, 100);
    // Act
    const { result, sink, payment, call, seen } = await serve({ body: { stream: true, stream_options: { include_usage: true } }, stream: () => providerStream(2_000), pay: (m) => fakePayment(m, extra) });
    // Assess
    const p = payment as ReturnType<typeof fakePayment>;
    const relayed = relayedTokens(sink.writes);
    expect(relayed).toBe(coverable(call, p.amount)); // every paid token, and not one more
    expect(relayed).toBeGreaterThan(FIRST_SLICE_TOKENS_PER_CHOICE + 90);
    expect(relayed).toBeLessThan(2_000);
    const chunks = chunksOf(sink.writes);
    expect(chunks.at(-2)).toMatchObject({ id: 'chatcmpl-1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'length' }] });
    const cost = costOf(countChatPromptTokens(MESSAGES), relayed);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: relayed } });
    expect(sink.writes.at(-1)).toBe('data: [DONE]\n\n');
    expect(result).toMatchObject({ status: 200, outcome: 'ok', code: 'credit_exhausted', record: { completion_tokens: relayed, estimated: true, cost_micros: cost } });
    expect(p.closed).toEqual([cost]);
    expect(cost).toBeLessThanOrEqual(p.amount);
    expect(seen[0]!.signal.aborted).toBe(true); // the provider call was stopped
  });

  it('a hold never grows: the reply is cut where the first slice ends, a frame crossing the line is not relayed', async () => {
    // Act: five-token frames, so the slice's end falls inside a frame.
    const { result, sink, payment, call } = await serve({ body: { stream: true }, stream: () => providerStream(400, 5), pay: (m) => holdOf(m) });
    // Assess
    const covered = coverable(call, payment.amount_micros());
    const relayed = relayedTokens(sink.writes);
    expect(relayed % 5).toBe(0);
    expect(relayed).toBeLessThanOrEqual(covered);
    expect(relayed).toBeGreaterThan(covered - 5);
    expect(chunksOf(sink.writes).at(-1)).toMatchObject({ choices: [{ finish_reason: 'length' }] });
    expect(chunksOf(sink.writes).some((c) => c.usage)).toBe(false); // usage not asked, not sent
    expect((payment as ReturnType<typeof holdOf>).closed).toEqual([costOf(countChatPromptTokens(MESSAGES), relayed)]);
    expect(result.record).toMatchObject({ completion_tokens: relayed, estimated: true });
  });

  it('business time past spend_until_ms: cut at once, billed for what came before', async () => {
    // Act: the clock passes the payment's spending time after the 50th frame.
    const { result, sink } = await serve({
      body: { stream: true },
      stream: (clock) => providerStream(200, 1, (i) => (i === 50 ? (clock.ms = T0_MS + 5_000) : undefined)),
      pay: (m) => fakePayment(m, 1e9, T0_MS + 5_000),
    });
    // Assess
    expect(relayedTokens(sink.writes)).toBe(50);
    expect(result).toMatchObject({ outcome: 'ok', code: 'spend_until_passed', record: { completion_tokens: 50, cost_micros: costOf(countChatPromptTokens(MESSAGES), 50) } });
    expect(chunksOf(sink.writes).at(-1)).toMatchObject({ choices: [{ finish_reason: 'length' }] });
    expect(sink.writes.at(-1)).toBe('data: [DONE]\n\n');
  });

  it('with n = 2 each open choice is closed with length', async () => {
    // Act: the stream only carries choice 0; choice 1 must still be closed.
    const { sink } = await serve({ body: { stream: true, n: 2 }, stream: () => providerStream(1_000), pay: (m) => holdOf(m) });
    // Assess
    expect(chunksOf(sink.writes).at(-1)!.choices).toEqual([
      { index: 0, delta: {}, logprobs: null, finish_reason: 'length' },
      { index: 1, delta: {}, logprobs: null, finish_reason: 'length' },
    ]);
  });
});

describe('a whole reply without max_tokens', () => {
  it('is streamed from the provider and answered as one chat.completion, cut with length', async () => {
    // Act
    const { result, sink, call, payment, seen } = await serve({ stream: () => providerStream(2_000), pay: (m) => holdOf(m) });
    // Assess
    expect(JSON.parse(seen[0]!.body)).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(call.stream).toBe(false);
    const body = JSON.parse(sink.body) as Record<string, any>;
    const relayed = coverable(call, payment.amount_micros());
    expect(body).toMatchObject({ id: 'chatcmpl-1', object: 'chat.completion', model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: ' w'.repeat(relayed) }, finish_reason: 'length' }] });
    const prompt = countChatPromptTokens(MESSAGES);
    expect(body.usage).toEqual({ prompt_tokens: prompt, completion_tokens: relayed, total_tokens: prompt + relayed });
    expect(sink.headers).toMatchObject({ 'x-compux-cost-micros': String(costOf(prompt, relayed)), 'content-type': 'application/json' });
    expect(result).toMatchObject({ status: 200, outcome: 'ok', code: 'credit_exhausted', record: { stream: false, completion_tokens: relayed } });
  });

  it('that fits is answered whole with the provider finish_reason and usage', async () => {
    // Act
    const { sink, result } = await serve({ stream: () => providerStream(30), pay: (m) => fakePayment(m, 0) });
    // Assess
    const body = JSON.parse(sink.body) as Record<string, any>;
    expect(body.choices).toEqual([{ index: 0, message: { role: 'assistant', content: ' w'.repeat(30), refusal: null }, logprobs: null, finish_reason: 'stop' }]);
    expect(body.usage).toEqual({ prompt_tokens: 9, completion_tokens: 30, total_tokens: 39 });
    expect(result.record).toMatchObject({ completion_tokens: 30, estimated: false, cost_micros: costOf(9, 30) });
  });

  it('with max_tokens the provider is still asked for a whole reply', () => {
    // Act
    const body = JSON.parse(upstreamBodyText(callOf({ max_tokens: 10 }))) as Record<string, unknown>;
    // Assess
    expect(body.stream).toBeUndefined();
    expect(body.stream_options).toBeUndefined();
  });
});
