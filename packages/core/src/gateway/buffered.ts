/**
 * A whole (non-streamed) chat reply for a request without max_tokens (SPEC §4): the provider is asked for a
 * stream (call.ts), read frame by frame under the request's allowance (progressive.ts), and answered as one
 * ordinary chat.completion: finish_reason "length" on the choices a cut ended, usage as billed. Nothing
 * reaches the client before the end, so a provider failing part-way still falls over like a whole reply
 * (nothing billed for it); a cut is an answer, billed for what it holds.
 */
import { sseData } from '../sse.js';
import type { Offer } from '../catalog.js';
import { ChatAssembler } from './assemble.js';
import { addSample, replyHeaders, type RequestContext } from './context.js';
import { AFTER_DONE_MS, AttemptFailed, drainAfterDone, nextChunk } from './io.js';
import { frameTokens } from './metering.js';
import type { Breakers } from './breakers.js';
import type { GatewayClock, GatewayResult } from './ports.js';
import { Allowance, type Cut } from './progressive.js';
import type { Settle } from './settle.js';
import { meteredOf, StreamMeter } from './stream.js';

export interface BufferedDeps {
  breakers: Breakers;
  clock: GatewayClock;
  settle: Settle;
  /** Until the provider's first event (the attempt's first-byte bound). */
  first_event_ms: number;
  /** Longest silence between two provider events. */
  idle_timeout_ms: number;
}

/** Reads the provider's stream into a reply, frame by frame under the allowance; the cut if one came. */
async function readUnderAllowance(events: AsyncIterator<string>, deps: BufferedDeps, meter: StreamMeter, allowance: Allowance, reply: ChatAssembler): Promise<Cut | null> {
  for (let first = true; ; first = false) {
    const chunk = await nextChunk(events, first ? deps.first_event_ms : deps.idle_timeout_ms, first ? 'first event' : 'stream event');
    if (!chunk) {
      if (first) throw new AttemptFailed('malformed', 'stream ended before any content');
      return null;
    }
    const tokens = frameTokens(chunk);
    // As in a stream: a frame the reservation cannot pay for is not part of the reply (nor of the bill).
    const cut = allowance.take(tokens);
    if (cut) return cut;
    reply.add(chunk);
    meter.take(chunk, tokens);
  }
}

/** Streamed from the provider, answered whole. Throws AttemptFailed (falls over) until the reply is complete. */
export async function bufferedReply(ctx: RequestContext, deps: BufferedDeps, offer: Offer, body: AsyncIterable<Uint8Array>, abort: AbortController): Promise<GatewayResult> {
  const meter = new StreamMeter(ctx, deps.clock);
  const allowance = new Allowance(ctx.call, offer, ctx.payment, deps.clock);
  const reply = new ChatAssembler();
  let cut: Cut | null = null;
  let whole = false;
  const events = sseData(body)[Symbol.asyncIterator]();
  try {
    cut = await readUnderAllowance(events, deps, meter, allowance, reply);
    whole = cut === null;
  } catch (err) {
    if (err instanceof AttemptFailed) throw err;
    throw new AttemptFailed(abort.signal.aborted ? 'aborted' : 'connection', `stream failed: ${(err as Error).message}`);
  } finally {
    // A whole stream leaves the provider's connection to be reused once its body's end is read (as the relay
    // does); a cut or a failure stops the provider here.
    if (whole) void drainAfterDone(events, abort, AFTER_DONE_MS);
    else abort.abort();
  }
  deps.breakers.success(offer.endpoint_id);
  addSample(ctx, deps.clock, offer, true, null);
  ctx.attempts.push({ endpoint_id: offer.endpoint_id, result: 'ok' });
  // As for any whole reply, its first token is its last.
  ctx.ttft_ms = deps.clock.elapsedMs() - ctx.started_ms;

  const metered = meteredOf(ctx, meter, !cut);
  if (!metered.estimated) allowance.cover(metered);
  if (cut) reply.finishOpen((ctx.call.body.n as number | undefined) ?? 1, 'length');
  const usage = !metered.estimated && reply.usage ? reply.usage : { prompt_tokens: metered.prompt_tokens, completion_tokens: metered.completion_tokens, total_tokens: metered.prompt_tokens + metered.completion_tokens };
  const fin = await deps.settle(ctx, offer, 'ok', 200, metered);
  ctx.sink.reply(200, replyHeaders(ctx, offer, { 'x-compux-cost-micros': String(fin.cost_micros), 'x-compux-estimated': String(metered.estimated), 'content-type': 'application/json' }), JSON.stringify(reply.completion(usage)));
  return { status: 200, outcome: 'ok', code: cut, record: fin.record, settled: fin.settled, attempts: ctx.attempts };
}
