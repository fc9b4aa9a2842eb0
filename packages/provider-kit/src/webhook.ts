/**
 * Outbound webhooks (SPEC §12): CompuX POSTs each event to the endpoints a tenant registered, signed like the
 * capacity webhook — `x-compux-signature: t=<unix seconds>,v1=<HMAC-SHA256 hex of "t.body">` with the endpoint's
 * `whsec_…` secret — and with the event's id in `x-compux-event-id`. The id is stable: a retry or a redelivery
 * of the same event carries the same id, so a receiver that remembers the ids it handled applies each event
 * once. This file is the wire format: the marketplace signs with it, receivers verify with it.
 */
import { SIGNATURE_HEADER, SIGNATURE_TOLERANCE_S, verifySignature } from './signature.js';

export const EVENT_ID_HEADER = 'x-compux-event-id';
export const EVENT_TYPE_HEADER = 'x-compux-event-type';
/** Longest body a verifier reads: a bound on the work a forged request can cause. */
const MAX_WEBHOOK_BODY_BYTES = 256 * 1024;

/** An event as delivered. */
export interface CompuxEvent {
  id: string;
  object: 'event';
  type: string;
  created_at: string;
  data: Record<string, unknown>;
}

export type WebhookCheck =
  | { ok: true; event: CompuxEvent; timestamp: number }
  | { ok: false; reason: 'missing' | 'malformed' | 'stale' | 'mismatch' | 'too_large' | 'invalid_body' | 'id_mismatch' };

type HeaderBag = Headers | Record<string, string | string[] | undefined>;

function header(h: HeaderBag, name: string): string | undefined {
  if (typeof (h as Headers).get === 'function') return (h as Headers).get(name) ?? undefined;
  const bag = h as Record<string, string | string[] | undefined>;
  const key = Object.keys(bag).find((k) => k.toLowerCase() === name);
  const v = key === undefined ? undefined : bag[key];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Verifies one delivery: the signature over the raw body exactly as received (before any JSON parsing), a
 * timestamp within 300 s of `nowSeconds`, and the id header naming the body's event. Answer 2xx only after it
 * returns ok (and quickly: CompuX waits 10 s); anything else is retried with backoff for 3 days.
 * While an endpoint's secret is rolled (POST /v1/webhook-endpoints/{id}/secret/roll) CompuX signs each delivery
 * with both secrets (two v1 entries), so a receiver on the old or the new secret verifies; a receiver may also pass
 * both of its secrets here while it switches.
 */
export function verifyWebhook(headers: HeaderBag, rawBody: string | Buffer, secret: string | readonly string[], opts: { nowSeconds?: number; toleranceS?: number } = {}): WebhookCheck {
  const body = typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8');
  if (Buffer.byteLength(body) > MAX_WEBHOOK_BODY_BYTES) return { ok: false, reason: 'too_large' };
  const sig = verifySignature(header(headers, SIGNATURE_HEADER), secret, body, opts.nowSeconds ?? Math.floor(Date.now() / 1000), opts.toleranceS ?? SIGNATURE_TOLERANCE_S);
  if (!sig.ok) return sig;
  let event: CompuxEvent;
  try {
    event = JSON.parse(body) as CompuxEvent;
  } catch {
    return { ok: false, reason: 'invalid_body' };
  }
  if (!event || typeof event !== 'object' || typeof event.id !== 'string' || typeof event.type !== 'string') return { ok: false, reason: 'invalid_body' };
  if (header(headers, EVENT_ID_HEADER) !== event.id) return { ok: false, reason: 'id_mismatch' };
  return { ok: true, event, timestamp: sig.timestamp };
}
