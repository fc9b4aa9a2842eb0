/**
 * Stage 4, the stream relay: after a provider's first event, its events are relayed to the client as they
 * come, metered, and the hold settled before the stream ends. A failure here is not fallen over (the
 * client already has bytes): the stream ends with an error event and bills what was produced (SPEC §5).
 */
import type { Offer } from '../catalog.js';
import type { Outcome } from '../usage.js';
import type { Breakers } from './breakers.js';
import type { RequestContext } from './context.js';
import { openAiError } from './errors.js';
import { AFTER_DONE_MS, drainAfterDone, nextChunk } from './io.js';
import { frameTokens, usageOf, type Metered, type Usage } from './metering.js';
import { Allowance, isProgressive, type Cut } from './progressive.js';
import type { GatewayClock, GatewayResult } from './ports.js';
import type { Settle } from './settle.js';

export interface StreamDeps {
  breakers: Breakers;
  clock: GatewayClock;
  settle: Settle;
  /** Longest silence between two provider events. */
  idle_timeout_ms: number;
}

/** A provider stream whose first event has arrived (and is content, not [DONE]). */
export interface OpenedStream {
  offer: Offer;
  events: AsyncIterator<string>;
  first_chunk: Record<string, unknown>;
  /** Aborts the provider call; the relay aborts it when it is done, whatever happened. */
  abort: AbortController;
  /** Extra reply headers (which provider, how many tried). */
  headers: Record<string, string>;
}

/** What the relay counted: the provider's last usage report, the content tokens it sent, and the choices' state. */
export class StreamMeter {
  usage: Usage | null = null;
  completion_tokens_counted = 0;
  /** The last chunk's id, created, model (and fingerprint): a closing chunk of ours copies them. */
  readonly envelope: Record<string, unknown> = {};
  /** Choices that ended (their finish_reason was sent). */
  readonly finished = new Set<number>();
  private sawContent = false;

  constructor(private readonly ctx: RequestContext, private readonly clock: GatewayClock) {}

  /** Counts one provider chunk of `tokens` (frameTokens), keeps its usage, hides usage the client did not ask for; false = do not relay it. */
  take(chunk: Record<string, unknown>, tokens: number): boolean {
    const u = usageOf(chunk.usage);
    if (u) this.usage = u;
    for (const k of ['id', 'created', 'model', 'system_fingerprint']) if (chunk[k] !== undefined && chunk[k] !== null) this.envelope[k] = chunk[k];
    const choices = Array.isArray(chunk.choices) ? (chunk.choices as unknown[]) : [];
    for (const c of choices) {
      const { index, finish_reason } = (c ?? {}) as { index?: unknown; finish_reason?: unknown };
      if (typeof index === 'number' && typeof finish_reason === 'string') this.finished.add(index);
    }
    if (tokens > 0 && !this.sawContent) {
      this.sawContent = true;
      this.ctx.ttft_ms = this.clock.elapsedMs() - this.ctx.started_ms;
    }
    this.completion_tokens_counted += tokens;
    if (!this.ctx.call.include_usage) {
      if (choices.length === 0 && 'usage' in chunk) return false; // the usage-only chunk the client did not ask for
      delete chunk.usage;
    }
    return true;
  }

  /** Choices (of the n asked) still open: a cut closes each with finish_reason "length". */
  openChoices(): number[] {
    const n = (this.ctx.call.body.n as number | undefined) ?? 1;
    return Array.from({ length: n }, (_, i) => i).filter((i) => !this.finished.has(i));
  }
}

/** How the relay stopped: the client still there or not, and the cut when the allowance ran out. */
interface Pumped {
  alive: boolean;
  cut: Cut | null;
}

/** Relays events until [DONE], the provider's end, the client going or a cut; throws on a provider failure. */
async function pump(ctx: RequestContext, s: OpenedStream, meter: StreamMeter, allowance: Allowance | null, idleMs: number, nowMs: () => number): Promise<Pumped> {
  const until = ctx.payment.spend_until_ms;
  const relay = async (chunk: Record<string, unknown>): Promise<Pumped> => {
    const tokens = frameTokens(chunk);
    // Checked before the frame is relayed: a frame the reservation cannot pay for never reaches the client,
    // and no leased request spends past its lease's expiry (the freeze's exposure_ends_at rests on it).
    const late = until !== null && nowMs() >= until ? 'spend_until_passed' : null;
    const cut = late ?? allowance?.take(tokens) ?? null;
    if (cut) return { alive: true, cut };
    const alive = meter.take(chunk, tokens) ? await ctx.sink.write(`data: ${JSON.stringify(chunk)}\n\n`) : true;
    return { alive, cut: null };
  };
  let r = await relay(s.first_chunk);
  while (r.alive && !r.cut) {
    const chunk = await nextChunk(s.events, idleMs, 'stream event');
    if (!chunk) break;
    r = await relay(chunk);
  }
  return r;
}

/** After the first event: relay events to the client, meter, settle, end. Failures here are not fallen over. */
export async function relayStream(ctx: RequestContext, deps: StreamDeps, s: OpenedStream): Promise<GatewayResult> {
  const { call, sink } = ctx;
  const meter = new StreamMeter(ctx, deps.clock);
  const allowance = isProgressive(call) ? new Allowance(call, s.offer, ctx.payment, deps.clock) : null;
  let outcome: Outcome = 'ok';
  let failure: string | null = null;
  let cut: Cut | null = null;

  sink.open(200, { ...s.headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  try {
    const r = await pump(ctx, s, meter, allowance, deps.idle_timeout_ms, () => deps.clock.now().getTime());
    cut = r.cut;
    if (!r.alive || sink.signal.aborted) outcome = 'client_disconnected';
  } catch (err) {
    if (sink.signal.aborted || s.abort.signal.aborted) outcome = 'client_disconnected';
    else {
      outcome = 'failed_mid_stream';
      failure = err instanceof Error ? err.message : String(err);
      deps.breakers.failure(s.offer.endpoint_id, deps.clock.elapsedMs());
    }
  } finally {
    // A clean end leaves the provider's connection to be reused once its body's end is read (in the background,
    // bounded); anything else (a cut, a failure, the client gone) stops the provider at once.
    if (outcome === 'ok' && !cut) void drainAfterDone(s.events, s.abort, AFTER_DONE_MS);
    else s.abort.abort();
  }

  const metered = meteredOf(ctx, meter, outcome === 'ok' && !cut);
  if (allowance && !metered.estimated) allowance.cover(metered);
  const status = outcome === 'ok' ? 200 : outcome === 'client_disconnected' ? 499 : 502;
  const fin = await deps.settle(ctx, s.offer, outcome, status, metered);
  await endStream(ctx, { outcome, failure, cut, metered, cost_micros: fin.cost_micros, meter });
  return { status, outcome, code: failure ? 'upstream_failed_mid_stream' : cut, record: fin.record, settled: fin.settled, attempts: ctx.attempts };
}

/**
 * What is billed: the provider's usage after a whole stream; else (a failure, the client gone, a cut) the
 * tokens the relay counted, flagged estimated. A cut stream's bill is what the client received.
 */
export function meteredOf(ctx: RequestContext, meter: StreamMeter, whole: boolean): Metered {
  const u = meter.usage;
  return u && whole
    ? { ...u, estimated: false }
    : { prompt_tokens: u?.prompt_tokens ?? ctx.call.prompt_tokens_estimate, completion_tokens: meter.completion_tokens_counted, estimated: true };
}

interface Ending {
  outcome: Outcome;
  failure: string | null;
  cut: Cut | null;
  metered: Metered;
  cost_micros: number;
  meter: StreamMeter;
}

/** The stream's tail once settled: the error event (mid-stream failure) or the cut's closing chunks, the billed cost, [DONE]. */
async function endStream(ctx: RequestContext, e: Ending): Promise<void> {
  const { sink } = ctx;
  const { outcome, metered } = e;
  if (outcome === 'failed_mid_stream') {
    await sink.write(`data: ${openAiError({ status: 502, type: 'server_error', code: 'upstream_failed_mid_stream', message: `The provider failed mid-stream (${e.failure}); billed for the ${metered.completion_tokens} tokens produced.` })}\n\n`);
  }
  if (outcome === 'ok' && e.cut) for (const chunk of cutChunks(ctx, e.meter, metered)) await sink.write(`data: ${JSON.stringify(chunk)}\n\n`);
  if (outcome !== 'client_disconnected') {
    // Not part of OpenAI's stream (an SSE comment, ignored by clients): the billed cost, known only now.
    await sink.write(`: compux ${JSON.stringify({ cost_micros: e.cost_micros, estimated: metered.estimated, prompt_tokens: metered.prompt_tokens, completion_tokens: metered.completion_tokens })}\n\n`);
    if (outcome === 'ok') await sink.write('data: [DONE]\n\n');
  }
  sink.end();
}

/** A cut stream ends as a max_tokens stream does: each open choice finishes with "length", then the usage if asked. */
function cutChunks(ctx: RequestContext, meter: StreamMeter, metered: Metered): Record<string, unknown>[] {
  const head = { ...meter.envelope, object: 'chat.completion.chunk' };
  const out: Record<string, unknown>[] = [];
  const open = meter.openChoices();
  if (open.length > 0) out.push({ ...head, choices: open.map((index) => ({ index, delta: {}, logprobs: null, finish_reason: 'length' })) });
  if (ctx.call.include_usage) {
    out.push({ ...head, choices: [], usage: { prompt_tokens: metered.prompt_tokens, completion_tokens: metered.completion_tokens, total_tokens: metered.prompt_tokens + metered.completion_tokens } });
  }
  return out;
}
