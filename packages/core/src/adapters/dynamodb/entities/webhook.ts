/**
 * Webhook entities (SPEC §12), all in the tenant's partition `WEBHOOKS#<tenant>`:
 * - `EP#<id>`: an endpoint with its signing secrets (soft-deleted: `deleted_at` set and a TTL; grants hold no DeleteItem);
 * - `EPCOUNT`: the tenant's live endpoints, so the limit holds under concurrent creations;
 * - `EVT#<created_at>#<id>`: an event with its deliveries (listed newest first), TTL 30 days as Stripe keeps them;
 * - `EVTID#<id>`: where that event is, found by id; created with it, and what makes an event id land once.
 * While an event is undispatched it is in the openHoldsByExpiry index under its own `WHUNDISPATCHED#<0..7>`
 * shards (sparse: removed once queued), as leases share that index: work that is due, by time.
 */
import type { DeliveryState } from '../../../webhooks/delivery.js';
import type { WebhookEndpoint } from '../../../webhooks/endpoints.js';
import type { EventTenant } from '../../../webhooks/events.js';
import type { StoredEvent } from '../../../webhooks/service.js';
import { shardOf, type Key } from './keys.js';

export const WEBHOOK_SHARDS = 8;
/** How long events (and deleted endpoints) are kept. */
export const EVENT_RETENTION_S = 30 * 24 * 3600;
export const DELETED_ENDPOINT_RETENTION_S = 24 * 3600;

const tenantPk = (tenantId: string) => `WEBHOOKS#${tenantId}`;
export const endpointKey = (tenantId: string, id: string): Key => ({ pk: tenantPk(tenantId), sk: `EP#${id}` });
export const endpointCountKey = (tenantId: string): Key => ({ pk: tenantPk(tenantId), sk: 'EPCOUNT' });
export const eventKey = (tenantId: string, createdAt: string, id: string): Key => ({ pk: tenantPk(tenantId), sk: `EVT#${createdAt}#${id}` });
export const eventIdKey = (tenantId: string, id: string): Key => ({ pk: tenantPk(tenantId), sk: `EVTID#${id}` });
export const EVENT_SK_PREFIX = 'EVT#';
export const ENDPOINT_SK_PREFIX = 'EP#';
export { tenantPk as webhookPartition };
export const undispatchedShardKey = (shard: number) => `WHUNDISPATCHED#${shard}`;

/** The index attributes that mark an event undispatched since `at`. */
export function undispatchedMark(eventId: string, at: string) {
  return { gsi3pk: undispatchedShardKey(shardOf(eventId, WEBHOOK_SHARDS)), gsi3sk: `${at}#${eventId}` };
}

const epochS = (iso: string) => Math.floor(Date.parse(iso) / 1000);

/** `secret_version` guards a roll of the endpoint's secrets (the adapter's conditional update). */
export function endpointItem(e: WebhookEndpoint) {
  return { ...endpointKey(e.tenant.id, e.id), type: 'webhook_endpoint', ...e, secret_version: 1 };
}

/** Endpoints written before secrets rolled have no previous secret, roll time or `secret_version` (read as 0). */
export function toEndpoint(i: Record<string, unknown>): WebhookEndpoint {
  return {
    id: i.id as string, tenant: i.tenant as EventTenant, url: i.url as string, events: i.events as string[], created_at: i.created_at as string,
    secret: i.secret as string,
    previous_secret: (i.previous_secret ?? null) as string | null,
    previous_secret_expires_at: (i.previous_secret_expires_at ?? null) as string | null,
    rolled_at: (i.rolled_at ?? null) as string | null,
  };
}

export const secretVersionOf = (i: Record<string, unknown>): number => (i.secret_version ?? 0) as number;

export function eventItem(e: StoredEvent) {
  return {
    ...eventKey(e.tenant.id, e.created_at, e.id),
    ...e,
    // `type` names the entity on every item of the table; the event's own type is `event_type`.
    type: 'webhook_event',
    event_type: e.type,
    ttl: epochS(e.created_at) + EVENT_RETENTION_S,
    ...(e.dispatch_token ? undispatchedMark(e.id, e.created_at) : {}),
  };
}

export function eventIdItem(e: StoredEvent) {
  return { ...eventIdKey(e.tenant.id, e.id), type: 'webhook_event_id', event_sk: eventKey(e.tenant.id, e.created_at, e.id).sk, ttl: epochS(e.created_at) + EVENT_RETENTION_S };
}

export function toEvent(i: Record<string, unknown>): StoredEvent {
  return {
    id: i.id as string,
    type: i.event_type as StoredEvent['type'],
    created_at: i.created_at as string,
    tenant: i.tenant as EventTenant,
    data: (i.data ?? {}) as Record<string, unknown>,
    deliveries: (i.deliveries ?? {}) as Record<string, DeliveryState>,
    dispatch_token: (i.dispatch_token ?? null) as string | null,
  };
}
