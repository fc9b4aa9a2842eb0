/** Webhook endpoints (SPEC §12): per tenant, the URL, the events it wants and the signing secret (shown once). */
import { newId, newSecretKey } from '../ids.js';
import { firstSecrets, type SigningSecrets } from '../signing-secrets.js';
import { EVENT_PATTERNS, type EventTenant } from './events.js';

/** Endpoints one tenant may hold: bounds the fan-out of one event and the deliveries stored with it. */
export const MAX_ENDPOINTS_PER_TENANT = 16;
/** Subscriptions one endpoint may list. */
export const MAX_EVENTS_PER_ENDPOINT = 16;

/**
 * `secret` (`whsec_…`) signs every delivery; kept (not hashed), since the consumer signs with it, and shown only at
 * creation and at a roll. After a roll the previous secret signs too until previous_secret_expires_at
 * (signing-secrets.ts): each delivery then carries one signature per secret.
 */
export interface WebhookEndpoint extends SigningSecrets {
  id: string;
  tenant: EventTenant;
  url: string;
  events: string[];
  created_at: string;
}

export type EndpointInputCode = 'no_events' | 'too_many_events' | 'unknown_event_type';

export function newEndpoint(tenant: EventTenant, url: string, events: readonly string[], createdAt: string): { ok: true; endpoint: WebhookEndpoint } | { ok: false; code: EndpointInputCode } {
  const unique = [...new Set(events)];
  if (unique.length === 0) return { ok: false, code: 'no_events' };
  if (unique.length > MAX_EVENTS_PER_ENDPOINT) return { ok: false, code: 'too_many_events' };
  if (unique.some((e) => !EVENT_PATTERNS.includes(e))) return { ok: false, code: 'unknown_event_type' };
  return { ok: true, endpoint: { id: newId('whe'), tenant, url, events: unique, ...firstSecrets(newSecretKey('whsec')), created_at: createdAt } };
}

/** An endpoint as listed: never a secret, but when it was last rolled and until when the previous one still signs. */
export function publicEndpoint(e: WebhookEndpoint) {
  return { id: e.id, url: e.url, events: e.events, created_at: e.created_at, secret_rolled_at: e.rolled_at, previous_secret_expires_at: e.previous_secret_expires_at };
}
