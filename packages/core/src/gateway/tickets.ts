/**
 * The paid path's concurrency caps (concurrency.ts): a ticket in the key's scope and the startup's, taken after the
 * rate limit and before any money is held, given back once the request has ended (its reply's last byte sent).
 * Over a cap: 429 at once, with Retry-After, so a flood from one key queues nothing in front of anyone else.
 */
import { DEFAULT_KEY_MAX_IN_FLIGHT, keyScope, startupScope, ticketExpiry, type TicketStore } from '../concurrency.js';
import type { ErrorSpec } from './errors.js';
import type { GatewayClock, GatewayLog, GatewayRequest } from './ports.js';

export type Taken = { ok: true; give: () => Promise<void> } | { ok: false; refusal: ErrorSpec };

const NOTHING_TO_GIVE: Taken = { ok: true, give: async () => {} };

export async function takeTickets(req: GatewayRequest, tickets: TicketStore | undefined, startupMax: number, clock: GatewayClock, log?: GatewayLog): Promise<Taken> {
  if (!tickets) return NOTHING_TO_GIVE;
  const keyMax = req.key.max_in_flight ?? DEFAULT_KEY_MAX_IN_FLIGHT;
  const scopes = [{ scope: keyScope(req.key.id), max: keyMax }, { scope: startupScope(req.startup_id), max: startupMax }];
  const nowMs = clock.now().getTime();
  // The request may run until its deadline (a stream, up to 300 s): its ticket lives that long and a margin.
  const r = await tickets.take(scopes, req.request_id, ticketExpiry(nowMs, req.deadline_ms - clock.elapsedMs()), nowMs);
  if (r.ok) {
    const give = () => tickets.give(scopes.map((s) => s.scope), req.request_id).catch((err: unknown) => log?.('warn', 'could not give a concurrency ticket back (it expires)', { request_id: req.request_id, error: String(err) }));
    return { ok: true, give };
  }
  if (r.code === 'contention') return { ok: false, refusal: { status: 503, type: 'server_error', code: 'contention', message: 'The service is busy; retry.', headers: { 'retry-after': '1' } } };
  const [who, max] = r.scope === scopes[0]!.scope ? (['key', keyMax] as const) : (['startup', startupMax] as const);
  return {
    ok: false,
    refusal: {
      // OpenAI's 429s are typed by what ran out: here, requests.
      status: 429, type: 'requests', code: `concurrency_limit_${who}`, headers: { 'retry-after': '1' },
      message: `Too many requests in flight for this ${who}: at most ${max} at once, streams included. Retry when one has ended.`,
    },
  };
}
