/**
 * The paid path's concurrency caps (concurrency.ts), taken after the rate limit and before any money is held, given
 * back once the request has ended (its reply's last byte sent). Over a cap: 429 at once, with Retry-After, so a
 * flood from one key queues nothing in front of anyone else.
 *
 * The default caps (a key without `max_in_flight`, every startup) are in-process slots: no I/O on the latency path.
 * A key that sets `max_in_flight` is also counted in shared tickets, exact across containers, at the cost of a
 * shared write before the reply (its owner chose that bound).
 */
import { DEFAULT_KEY_MAX_IN_FLIGHT, keyScope, startupScope, ticketExpiry, type InProcessSlots, type TicketScope, type TicketStore } from '../concurrency.js';
import { CONTENTION, type ErrorSpec } from './errors.js';
import type { GatewayClock, GatewayLog, GatewayRequest } from './ports.js';

export type Taken = { ok: true; give: () => Promise<void> } | { ok: false; refusal: ErrorSpec };

export interface CapDeps {
  slots: InProcessSlots;
  tickets: TicketStore | undefined;
  startup_max_in_flight: number;
  clock: GatewayClock;
  log?: GatewayLog | undefined;
}

export async function takeTickets(req: GatewayRequest, d: CapDeps): Promise<Taken> {
  const explicit = req.key.max_in_flight ?? null;
  const keyCap = { scope: keyScope(req.key.id), max: explicit ?? DEFAULT_KEY_MAX_IN_FLIGHT };
  const local: TicketScope[] = [keyCap, { scope: startupScope(req.startup_id), max: d.startup_max_in_flight }];
  const slot = d.slots.take(local);
  if (!slot.ok) return { ok: false, refusal: overCap(slot.scope === keyCap.scope ? 'key' : 'startup', slot.scope === keyCap.scope ? keyCap.max : d.startup_max_in_flight) };
  const giveLocal = () => d.slots.give(local.map((s) => s.scope));
  if (explicit === null || !d.tickets) return { ok: true, give: async () => giveLocal() };
  const tickets = d.tickets;
  const nowMs = d.clock.now().getTime();
  // The request may run until its deadline (a stream, up to 300 s): its ticket lives that long and a margin.
  const r = await tickets.take([keyCap], req.request_id, ticketExpiry(nowMs, req.deadline_ms - d.clock.elapsedMs()), nowMs).catch((err: unknown) => {
    giveLocal();
    throw err;
  });
  if (!r.ok) {
    giveLocal();
    if (r.code === 'contention') return { ok: false, refusal: CONTENTION };
    return { ok: false, refusal: overCap('key', keyCap.max) };
  }
  const give = async () => {
    giveLocal();
    await tickets.give([keyCap.scope], req.request_id).catch((err: unknown) => d.log?.('warn', 'could not give a concurrency ticket back (it expires)', { request_id: req.request_id, error: String(err) }));
  };
  return { ok: true, give };
}

function overCap(who: 'key' | 'startup', max: number): ErrorSpec {
  return {
    // OpenAI's 429s are typed by what ran out: here, requests.
    status: 429, type: 'requests', code: who === 'key' ? 'concurrency_limit_key' : 'concurrency_limit_startup', headers: { 'retry-after': '1' },
    message: `Too many requests in flight for this ${who}: at most ${max} at once, streams included. Retry when one has ended.`,
  };
}
