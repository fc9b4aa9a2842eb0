/**
 * Concurrency caps (issue 14): how many requests a key, and a startup, may have in flight at once (streams
 * included), and how many event streams a tenant may hold open. Over a cap the caller gets a 429 with
 * `Retry-After`, at once, so one tenant's flood queues nothing in front of the others.
 *
 * Two ways of counting, by cost:
 * - **Shared tickets** (TicketStore), exact across every container (on AWS a Lambda container serves one request at
 *   a time, so only a shared count bounds a key there): a scope (`key:<id>`, `streams:<tenant>`) holds one ticket per
 *   request in flight, each with the instant it expires (the request's deadline and a margin); taking in several
 *   scopes is one conditional transaction, all or none; a request that dies without giving its ticket back holds
 *   it only until it expires, when the next refused taker clears it. Invariant: live tickets in a scope ≤ its cap.
 *   It costs a write to a shared item before the reply and one after (bench:proxy: ~55 ms added on DynamoDB Local,
 *   where the paid path otherwise writes nothing before the reply), so the paid path uses it only for a key that
 *   sets its own `max_in_flight`, and event streams (long-lived, few) always.
 * - **In-process slots** (InProcessSlots), free: the default caps (a key without `max_in_flight`, every startup)
 *   are counted in the serving process. Exact in the local runtime (one process serves everything); on AWS they
 *   bound what one container holds, which is one request: there only an explicit `max_in_flight` bounds a key.
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

/** In-flight counts of this process, per scope (no I/O). Scopes at zero are forgotten: the map stays bounded by what is in flight. */
export class InProcessSlots {
  private readonly held = new Map<string, number>();

  /** Takes a slot in every scope (each below its cap), or in none; the scope over its cap otherwise. */
  take(scopes: readonly TicketScope[]): { ok: true } | { ok: false; scope: string } {
    const full = scopes.find((s) => (this.held.get(s.scope) ?? 0) >= s.max);
    if (full) return { ok: false, scope: full.scope };
    for (const s of scopes) this.held.set(s.scope, (this.held.get(s.scope) ?? 0) + 1);
    return { ok: true };
  }

  give(scopes: readonly string[]): void {
    for (const scope of scopes) {
      const n = (this.held.get(scope) ?? 0) - 1;
      if (n > 0) this.held.set(scope, n);
      else this.held.delete(scope);
    }
  }
}

export const keyScope = (keyId: string): string => `key:${keyId}`;
export const startupScope = (startupId: string): string => `startup:${startupId}`;
export const streamScope = (tenantId: string): string => `streams:${tenantId}`;

/** When a ticket taken at `nowMs` for work that may run `runMs` expires (bounded by MAX_TICKET_MS). */
export function ticketExpiry(nowMs: number, runMs: number): number {
  return nowMs + Math.min(Math.max(0, runMs) + TICKET_MARGIN_MS, MAX_TICKET_MS);
}
