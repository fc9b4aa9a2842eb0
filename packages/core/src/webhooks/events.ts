/**
 * Outbound webhook events (SPEC §12): the names a tenant may subscribe to and the event record every
 * delivery carries. An event's id is derived from what happened (its type, tenant and the facts that make
 * it unique, e.g. the facility and the instant it froze), so emitting the same happening twice — a retried
 * request, a sweeper racing the request path — stores and delivers one event.
 */
import { derivedId } from '../ids.js';

/** Every event name SPEC §12 lists; `booking.*` stands for the booking events (their names come with bookings). */
export const EVENT_TYPES = [
  'facility.frozen',
  'facility.unfrozen',
  'facility.covenant_breached',
  'facility.matured',
  'credits.low',
  'key.budget_low',
  'sla.breach',
  'sla.recovered',
  'statement.issued',
  'provider.validation.completed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number] | `booking.${string}`;

/** What an endpoint may subscribe to: an event name, `booking.*`, or `*` (everything). */
export const EVENT_PATTERNS: readonly string[] = [...EVENT_TYPES, 'booking.*', '*'];
const BOOKING_EVENT = /^booking\.[a-z_]{1,40}$/;

export function isEventType(s: string): s is EventType {
  return (EVENT_TYPES as readonly string[]).includes(s) || BOOKING_EVENT.test(s);
}

/** Whether an endpoint's subscriptions cover an event type. */
export function subscribes(patterns: readonly string[], type: string): boolean {
  return patterns.some((p) => p === '*' || p === type || (p === 'booking.*' && type.startsWith('booking.')));
}

/** The tenant an event belongs to: only that tenant lists it and only its endpoints receive it. */
export interface EventTenant {
  role: 'startup' | 'lender' | 'provider';
  id: string;
}

/** The event as stored and as sent (the delivery body is this JSON, byte for byte what is signed). */
export interface WebhookEvent {
  id: string;
  type: EventType;
  created_at: string;
  tenant: EventTenant;
  data: Record<string, unknown>;
}

/** Largest `data` an event may carry, serialized: bounds the delivery body and the stored item (400 KB). */
export const MAX_EVENT_DATA_BYTES = 16 * 1024;

/** A stable event id: the same type, tenant and facts always give the same `evt_…`. */
export function eventId(type: EventType, tenantId: string, ...facts: string[]): string {
  return derivedId('evt', type, tenantId, ...facts);
}

export type NewEventResult = { ok: true; event: WebhookEvent } | { ok: false; code: 'unknown_event_type' | 'data_too_large' };

export function newEvent(type: EventType, tenant: EventTenant, facts: readonly string[], data: Record<string, unknown>, createdAt: string): NewEventResult {
  if (!isEventType(type)) return { ok: false, code: 'unknown_event_type' };
  if (Buffer.byteLength(JSON.stringify(data)) > MAX_EVENT_DATA_BYTES) return { ok: false, code: 'data_too_large' };
  return { ok: true, event: { id: eventId(type, tenant.id, ...facts), type, created_at: createdAt, tenant, data } };
}

/** The delivery body: exactly these bytes are signed and POSTed. */
export function eventBody(e: WebhookEvent): string {
  return JSON.stringify({ id: e.id, object: 'event', type: e.type, created_at: e.created_at, data: e.data });
}
