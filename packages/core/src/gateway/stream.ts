/**
 * Stage 4, the stream relay: after a provider's first event, its events are relayed to the client as they
 * come, metered, and the hold settled before the stream ends. A failure here is not fallen over (the
 * client already has bytes): the stream ends with an error event and bills what was produced (SPEC §5).
 */
import { countTokens } from '../tokens.js';
import type { Offer } from '../catalog.js';
import type { Outcome } from '../usage.js';
import type { Breakers } from './breakers.js';
import type { RequestContext } from './context.js';
import { openAiError } from './errors.js';
import { AttemptFailed, nextWithin } from './io.js';
import { choiceText, usageOf, type Metered, type Usage } from './metering.js';
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

/** What the relay counted: the provider's last usage report, and the content tokens it sent. */
class StreamMeter {
  usage: Usage | null = null;
  completion_tokens_counted = 0;
  private sawContent = false;

  constructor(private readonly ctx: RequestContext, private readonly clock: GatewayClock) {}

  /** Counts one provider chunk, keeps its usage, hides usage the client did not ask for; false = do not relay it. */
  take(chunk: Record<string, unknown>): boolean {
    const u = usageOf(chunk.usage);
    if (u) this.usage = u;
    const choices = Array.isArray(chunk.choices) ? (chunk.choices as unknown[]) : [];
    for (const c of choices) {
      // Counted frame by frame: a provider frame carries whole tokens, so the sum is the count of the whole.
      const n = countTokens(choiceText(c));
      if (n > 0 && !this.sawContent) {
        this.sawContent = true;
        this.ctx.ttft_ms = this.clock.elapsedMs() - this.ctx.started_ms;
      }
      this.completion_tokens_counted += n;
    }
    if (!this.ctx.call.include_usage) {
      if (choices.length === 0 && 'usage' in chunk) return false; // the usage-only chunk the client did not ask for
      delete chunk.usage;
    }
    return true;
  }
}

/** Relays events until [DONE], the provider's end, or the client going; throws on a provider failure. */
async function pump(ctx: RequestContext, s: OpenedStream, meter: StreamMeter, idleMs: number): Promise<boolean> {
  const write = (chunk: Record<string, unknown>) => (meter.take(chunk) ? ctx.sink.write(`data: ${JSON.stringify(chunk)}\n\n`) : Promise.resolve(true));
  let alive = await write(s.first_chunk);
  while (alive) {
    const next = await nextWithin(s.events, idleMs, 'stream event');
    if (next.done) break; // ended without [DONE]: what came is what was produced
    if (next.value.trim() === '[DONE]') break;
    let chunk: Record<string, unknown>;
    try {
      chunk = JSON.parse(next.value) as Record<string, unknown>;
    } catch {
      throw new AttemptFailed('malformed', 'a stream event is not JSON');
    }
    if (chunk && typeof chunk === 'object' && 'error' in chunk) throw new AttemptFailed('status', 'the provider sent an error event');
    alive = await write(chunk);
  }
  return alive;
}

/** After the first event: relay events to the client, meter, settle, end. Failures here are not fallen over. */
export async function relayStream(ctx: RequestContext, deps: StreamDeps, s: OpenedStream): Promise<GatewayResult> {
  const { call, sink } = ctx;
  const meter = new StreamMeter(ctx, deps.clock);
  let outcome: Outcome = 'ok';
  let failure: string | null = null;

  sink.open(200, { ...s.headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  try {
    const alive = await pump(ctx, s, meter, deps.idle_timeout_ms);
    if (!alive || sink.signal.aborted) outcome = 'client_disconnected';
  } catch (err) {
    if (sink.signal.aborted || s.abort.signal.aborted) outcome = 'client_disconnected';
    else {
      outcome = 'failed_mid_stream';
      failure = err instanceof Error ? err.message : String(err);
      deps.breakers.failure(s.offer.endpoint_id, deps.clock.elapsedMs());
    }
  } finally {
    s.abort.abort(); // stop reading the provider whatever happened (a no-op after a clean end)
  }

  const u = meter.usage;
  const metered: Metered = u && outcome === 'ok'
    ? { ...u, estimated: false }
    : { prompt_tokens: u?.prompt_tokens ?? call.prompt_tokens_estimate, completion_tokens: meter.completion_tokens_counted, estimated: true };
  const status = outcome === 'ok' ? 200 : outcome === 'client_disconnected' ? 499 : 502;
  const fin = await deps.settle(ctx, s.offer, outcome, status, metered);
  await endStream(ctx, outcome, failure, metered, fin.cost_micros);
  return { status, outcome, code: failure ? 'upstream_failed_mid_stream' : null, record: fin.record, settled: fin.settled, attempts: ctx.attempts };
}

/** The stream's tail once settled: the error event (mid-stream failure), the billed cost, [DONE]. */
async function endStream(ctx: RequestContext, outcome: Outcome, failure: string | null, metered: Metered, costMicros: number): Promise<void> {
  const { sink } = ctx;
  if (outcome === 'failed_mid_stream') {
    await sink.write(`data: ${openAiError({ status: 502, type: 'api_error', code: 'upstream_failed_mid_stream', message: `The provider failed mid-stream (${failure}); billed for the ${metered.completion_tokens} tokens produced.` })}\n\n`);
  }
  if (outcome !== 'client_disconnected') {
    // Not part of OpenAI's stream (an SSE comment, ignored by clients): the billed cost, known only now.
    await sink.write(`: compux ${JSON.stringify({ cost_micros: costMicros, estimated: metered.estimated, prompt_tokens: metered.prompt_tokens, completion_tokens: metered.completion_tokens })}\n\n`);
    if (outcome === 'ok') await sink.write('data: [DONE]\n\n');
  }
  sink.end();
}
