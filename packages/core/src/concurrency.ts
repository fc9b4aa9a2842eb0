/**
 * Concurrency caps (issue 14): how many requests a key, and a startup, may have in flight at once (streams
 * included), and how many event streams a tenant may hold open. Over a cap the caller gets a 429 with
 * `Retry-After`, at once, so one tenant's flood queues nothing in front of the others.
 *
 * Counted across every container (on AWS a Lambda container serves one request at a time, so only a shared count
 * means anything): a scope (`key:<id>`, `startup:<id>`, `streams:<tenant>`) holds one **ticket** per request in
 * flight, each with the instant it expires (the request's deadline and a margin). Taking tickets in several scopes
 * is one conditional transaction: all or none. A request gives its tickets back when it ends; one that dies
 * without (a killed container) holds its ticket only until that expires, when the next refused taker clears it.
 * Invariant: tickets live in a scope ≤ its cap, at every instant.
 */

export const DEFAULT_KEY_MAX_IN_FLIGHT = 64;
/** The most a key may be set to (`max_in_flight` on the key). */
export const MAX_KEY_MAX_IN_FLIGHT = 1_024;
export const DEFAULT_STARTUP_MAX_IN_FLIGHT = 256;
/** Bounds of the deployment's per-startup cap (COMPUX_STARTUP_MAX_IN_FLIGHT). */
export const MIN_STARTUP_MAX_IN_FLIGHT = 1;
export const MAX_STARTUP_MAX_IN_FLIGHT = 4_096;
/** Event streams (facility figures) one tenant may hold open at once. */
export const MAX_EVENT_STREAMS_PER_TENANT = 10;
/** A ticket outlives its request's deadline by this, so a slow give-back never frees a slot early. */
export const TICKET_MARGIN_MS = 60_000;
/** No ticket is held longer: the longest request (a 300 s stream) plus the margin, with room. */
export const MAX_TICKET_MS = 900_000;

export interface TicketScope {
  scope: string;
  max: number;
}

export type TakeResult = { ok: true } | { ok: false; code: 'full'; scope: string } | { ok: false; code: 'contention' };

/** Where tickets are kept (the DynamoDB adapter: one item a scope). */
export interface TicketStore {
  /** Takes `ticket` in every scope (each below its cap), or in none; expired tickets do not count. */
  take(scopes: readonly TicketScope[], ticket: string, expiresAtMs: number, nowMs: number): Promise<TakeResult>;
  /** Gives `ticket` back in every scope that holds it; idempotent. */
  give(scopes: readonly string[], ticket: string): Promise<void>;
}

export const keyScope = (keyId: string): string => `key:${keyId}`;
export const startupScope = (startupId: string): string => `startup:${startupId}`;
export const streamScope = (tenantId: string): string => `streams:${tenantId}`;

/** When a ticket taken at `nowMs` for work that may run `runMs` expires (bounded by MAX_TICKET_MS). */
export function ticketExpiry(nowMs: number, runMs: number): number {
  return nowMs + Math.min(Math.max(0, runMs) + TICKET_MARGIN_MS, MAX_TICKET_MS);
}
