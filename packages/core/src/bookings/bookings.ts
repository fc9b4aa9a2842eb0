/**
 * Quotes and bookings (SPEC §11). A booking is placed in steps that each commit atomically and can each be
 * run again: the booking record (`placing`, its id from the Idempotency-Key), the hold (its id from the
 * booking), then the hours chunk by chunk (each chunk once, only while the booking is placing), then
 * `pending`. A retry with the same key resumes where a crash stopped. A refusal first moves the booking out of
 * `placing` (so no chunk can be taken after), then gives back every chunk taken and the hold: nothing is kept.
 * Cancel and decline work the same way: the state change first, then the release, which a retry runs again.
 */
import type { CatalogSource } from '../catalog.js';
import { derivedId, newId } from '../ids.js';
import type { Credits } from '../credits.js';
import { HOUR_MS, type PoolHour } from './blocks.js';
import { ACCEPT_WINDOW_S, BOOKING_SWEEP_SHARDS, HOLD_GRACE_S, QUOTE_VALID_S, RELEASED_STATES, chunkCount, type AccessDetails, type Booking, type BookingRefusal, type BookingStatus, type BookingStore, type Quote } from './booking.js';
import { askProblem, fillByProvider, match, type QuoteAsk } from './matcher.js';
import { overlaps } from './overlap.js';

/** Reads the hour items of live providers for one accelerator over [fromHour, toHour) (hour keys). */
export interface HourReader {
  poolHours(providerIds: readonly string[], accelerator: QuoteAsk['accelerator'], fromHour: string, toHour: string): Promise<PoolHour[]>;
}

export type QuoteResult = { ok: true; quote: Quote } | { ok: false; code: 'invalid_ask'; message: string };
export type BookResult =
  | { ok: true; booking: Booking; replayed: boolean }
  | { ok: false; code: 'quote_not_found' | 'quote_expired' | 'offer_not_found' | 'idempotency_conflict' | 'contention' }
  | { ok: false; code: BookingRefusal; booking: Booking };
export type ChangeResult =
  | { ok: true; booking: Booking }
  | { ok: false; code: 'not_found' | 'contention' }
  | { ok: false; code: 'not_cancellable' | 'already_started' | 'not_pending' | 'acceptance_window_passed'; booking: Booking };

export class Bookings {
  constructor(
    private readonly store: BookingStore,
    private readonly hours: HourReader,
    private readonly catalog: CatalogSource,
    private readonly credits: Pick<Credits, 'reserve' | 'release' | 'holdIdFor'>,
    private readonly nowMs: () => number,
  ) {}

  /** A startup's opaque reference of a provider: stable for that startup, meaningless to anyone else. */
  static providerRef(startupId: string, providerId: string): string {
    return derivedId('cpr', 'provider-ref', startupId, providerId);
  }

  async quote(startupId: string, ask: QuoteAsk): Promise<QuoteResult> {
    const now = this.nowMs();
    const problem = askProblem(ask, now);
    if (problem) return { ok: false, code: 'invalid_ask', message: problem };
    const catalog = await this.catalog.load();
    const live = catalog.providers.filter((p) => p.status === 'live');
    const from = new Date(Date.parse(ask.earliest_start)).toISOString().slice(0, 13);
    const to = new Date(Date.parse(ask.latest_start) + ask.hours * HOUR_MS).toISOString().slice(0, 13);
    const hours = await this.hours.poolHours(live.map((p) => p.id), ask.accelerator, from, to);
    const id = newId('quo');
    const offers = match({
      ask, hours, spot_micros_per_gpu_hour: catalog.spot_micros_per_gpu_hour, fill_ppm: fillByProvider(hours),
      providers: live.map((p) => ({ id: p.id, live: true, sla_tier: p.sla_tier, sla_meeting: p.sla_meeting, maintenance: p.maintenance })),
      ref: (p) => Bookings.providerRef(startupId, p),
    }).map((o, i) => ({ ...o, id: derivedId('ofr', id, String(i)) }));
    const quote: Quote = { id, startup_id: startupId, ask, offers, created_at: new Date(now).toISOString(), expires_at: new Date(now + QUOTE_VALID_S * 1000).toISOString() };
    await this.store.putQuote(quote);
    return { ok: true, quote };
  }

  bookingIdFor(startupId: string, idempotencyKey: string): string {
    return derivedId('bkg', startupId, idempotencyKey);
  }

  /** Books an offer of a quote. `request_hash` tells a replay of the same key apart from another body (409). */
  async book(startupId: string, ask: { quote_id: string; offer: string }, idem: { key: string; request_hash: string }, budgetKey: string | null = null): Promise<BookResult> {
    const id = this.bookingIdFor(startupId, idem.key);
    let b = await this.store.getBooking(id);
    if (!b) {
      const quote = await this.store.getQuote(ask.quote_id);
      if (!quote || quote.startup_id !== startupId) return { ok: false, code: 'quote_not_found' };
      const now = this.nowMs();
      if (Date.parse(quote.expires_at) <= now) return { ok: false, code: 'quote_expired' };
      const offer = quote.offers.find((o) => o.id === ask.offer);
      if (!offer) return { ok: false, code: 'offer_not_found' };
      // A quote for the next hour can outlive that hour's start: its offer is gone then. So is one a maintenance
      // window reported since overlaps (bookings already placed are interrupted when the report applies).
      if (Date.parse(offer.start) <= now || (await this.inMaintenance(offer))) return { ok: false, code: 'quote_expired' };
      const at = new Date(now).toISOString();
      const fresh: Booking = {
        id, startup_id: startupId, provider_id: offer.provider_id, provider_ref: offer.provider_ref, pool: offer.pool, quote_id: quote.id, offer_id: offer.id,
        gpus: offer.gpus, hours: offer.hours, start: offer.start, end: offer.end, price_micros_per_gpu_hour: offer.price_micros_per_gpu_hour,
        total_micros: offer.total_micros, sla_tier: offer.sla_tier, status: 'placing', refusal: null, hold_id: null, access: null,
        accept_by: new Date(Math.min(now + ACCEPT_WINDOW_S * 1000, Date.parse(offer.start))).toISOString(), request_hash: idem.request_hash, budget_key: budgetKey, released: false, created_at: at, updated_at: at,
      };
      const created = await this.store.createBooking(fresh);
      b = created.created ? fresh : created.existing;
    }
    if (b.request_hash !== idem.request_hash) return { ok: false, code: 'idempotency_conflict' };
    // A placing resumed once its start has passed is not worth finishing: it is given back like an abandoned one.
    if (b.status === 'placing') return Date.parse(b.start) <= this.nowMs() ? this.refuse(b, 'abandoned') : this.place(b);
    if (b.status === 'refused') {
      // The refusal stands for this key; the release it started is finished if a crash cut it short.
      if (!(await this.releaseAll(b))) return { ok: false, code: 'contention' };
      return { ok: false, code: b.refusal!, booking: b };
    }
    return { ok: true, booking: b, replayed: true };
  }

  private async place(b: Booking): Promise<BookResult> {
    const ttl = Math.ceil((Date.parse(b.end) - this.nowMs()) / 1000) + HOLD_GRACE_S;
    const held = await this.credits.reserve({
      startup_id: b.startup_id, amount_micros: b.total_micros, idempotency_key: `booking:${b.id}`, request_hash: b.request_hash, ttl_s: ttl, booking: true, refs: { booking_id: b.id, ...(b.budget_key ? { budget_key: b.budget_key } : {}) },
    });
    if (!held.ok) {
      if (held.code === 'contention' || held.code === 'idempotency_conflict') return { ok: false, code: 'contention' };
      return this.refuse(b, held.code);
    }
    const withHold = { ...b, hold_id: held.hold.id };
    for (let i = 0; i < chunkCount(b); i++) {
      const took = await this.store.takeChunk(withHold, i);
      if (took === 'contention') return { ok: false, code: 'contention' };
      if (took === 'sold_out') return this.refuse(withHold, 'capacity_unavailable');
      if (took === 'not_placing') return this.settled(b.id);
    }
    const done = await this.store.transition(withHold, ['placing'], { status: 'pending', hold_id: held.hold.id }, new Date(this.nowMs()).toISOString());
    if (done) return { ok: true, booking: done, replayed: false };
    // Another request with this key refused it meanwhile: its release (run again here) gives back what this one took.
    return this.settled(b.id);
  }

  /** Out of placing first (no chunk can be taken after), then everything given back. */
  private async refuse(b: Booking, code: BookingRefusal): Promise<BookResult> {
    const refused = await this.store.transition(b, ['placing'], { status: 'refused', refusal: code, hold_id: this.holdIdOf(b) }, new Date(this.nowMs()).toISOString());
    if (!refused) return this.settled(b.id);
    if (!(await this.releaseAll(refused))) return { ok: false, code: 'contention' };
    return { ok: false, code, booking: refused };
  }

  /** The booking as another request left it: a replay of its outcome (and of a refusal's release). */
  private async settled(id: string): Promise<BookResult> {
    const now = await this.store.getBooking(id);
    if (!now) return { ok: false, code: 'contention' };
    if (now.status === 'refused') {
      if (!(await this.releaseAll(now))) return { ok: false, code: 'contention' };
      return { ok: false, code: now.refusal!, booking: now };
    }
    return now.status === 'placing' ? { ok: false, code: 'contention' } : { ok: true, booking: now, replayed: true };
  }

  private async inMaintenance(offer: Pick<Booking, 'provider_id' | 'start' | 'end'>): Promise<boolean> {
    const p = (await this.catalog.load()).providers.find((x) => x.id === offer.provider_id);
    return (p?.maintenance ?? []).some((w) => overlaps(w, offer));
  }

  /** The booking's hold (its id derives from the booking, so it is known before the hold is taken). */
  holdIdOf(b: Booking): string {
    return b.hold_id ?? this.credits.holdIdFor(b.startup_id, `booking:${b.id}`);
  }

  /**
   * Gives back every chunk taken and the hold, then marks the booking released (the sweep retries until then);
   * idempotent. False when contention stopped it (a retry, or the sweep, finishes).
   */
  private async releaseAll(b: Booking): Promise<boolean> {
    if (b.released) return true;
    for (let i = 0; i < chunkCount(b); i++) if ((await this.store.releaseChunk(b, i)) === 'contention') return false;
    const r = await this.credits.release(this.holdIdOf(b));
    if (!(r.ok || r.code === 'hold_not_found' || r.code === 'hold_closed')) return false;
    await this.store.transition(b, [b.status], { status: b.status, released: true }, new Date(this.nowMs()).toISOString());
    return true;
  }

  /**
   * The schedule's sweep (with the hold sweeper): a booking left placing (its client gave up) is refused as
   * abandoned, a pending one its state machine did not expire (a lost execution) expires EXPIRY_BACKSTOP_S after its
   * acceptance window (`onExpired` tells the startup), and a release contention cut short is finished.
   * Each gives back the hold and the hours in full. Bounded per run.
   */
  async sweep(limitPerShard = 50, onExpired: (b: Booking) => Promise<void> = async () => {}): Promise<{ abandoned: number; expired: number; released: number }> {
    const out = { abandoned: 0, expired: 0, released: 0 };
    const now = new Date(this.nowMs()).toISOString();
    for (let shard = 0; shard < BOOKING_SWEEP_SHARDS; shard++) {
      for (const seen of await this.store.listDue(shard, now, limitPerShard)) {
        // The index lags the table: decide on the booking as it is now.
        const b = await this.store.getBooking(seen.id);
        if (!b) continue;
        if (b.status === 'placing') {
          const r = await this.refuse(b, 'abandoned');
          if (!r.ok && r.code === 'abandoned') out.abandoned++;
        } else if (b.status === 'pending' && b.accept_by <= now) {
          const r = await this.finish(b, ['pending'], 'expired', 'not_pending', false);
          if (r.ok) {
            out.expired++;
            await onExpired(r.booking);
          }
        }
        else if (RELEASED_STATES.includes(b.status) && !b.released && (await this.releaseAll(b))) out.released++;
      }
    }
    return out;
  }

  async get(startupId: string, id: string): Promise<Booking | null> {
    const b = await this.store.getBooking(id);
    return b && b.startup_id === startupId ? b : null;
  }

  async getForProvider(providerId: string, id: string): Promise<Booking | null> {
    const b = await this.store.getBooking(id);
    // A booking still being placed (or refused) is not the provider's business yet.
    return b && b.provider_id === providerId && b.status !== 'placing' && b.status !== 'refused' ? b : null;
  }

  /** Cancelled before start by its startup: the hold and the hours released in full. */
  async cancel(startupId: string, id: string): Promise<ChangeResult> {
    const b = await this.get(startupId, id);
    if (!b) return { ok: false, code: 'not_found' };
    return this.finish(b, ['pending', 'scheduled'], 'cancelled', 'not_cancellable', true);
  }

  async decline(providerId: string, id: string): Promise<ChangeResult> {
    const b = await this.getForProvider(providerId, id);
    if (!b) return { ok: false, code: 'not_found' };
    return this.finish(b, ['pending'], 'declined', 'not_pending', false);
  }

  /**
   * Moves a booking from one of `from` to a released state `to`, then gives back its hours and hold (what captures
   * billed stays billed); the lifecycle (lifecycle.ts) ends running bookings through it too.
   */
  async finish(b: Booking, from: readonly BookingStatus[], to: 'cancelled' | 'declined' | 'expired' | 'interrupted', refusal: 'not_cancellable' | 'not_pending', beforeStart: boolean): Promise<ChangeResult> {
    let done: Booking | null = b.status === to ? b : null;
    if (!done) {
      if (!from.includes(b.status)) return { ok: false, code: refusal, booking: b };
      const now = new Date(this.nowMs()).toISOString();
      if (beforeStart && b.start <= now) return { ok: false, code: 'already_started', booking: b };
      done = await this.store.transition(b, from, { status: to }, now, beforeStart ? now : undefined);
      // Changed meanwhile (accepted, declined, started): answer from what it is now.
      if (!done) {
        const again = await this.store.getBooking(b.id);
        return again && again.status === to ? this.finish(again, from, to, refusal, beforeStart) : { ok: false, code: refusal, booking: again ?? b };
      }
    }
    return (await this.releaseAll(done)) ? { ok: true, booking: done } : { ok: false, code: 'contention' };
  }

  /** The provider accepts, with the access details only the booking's startup will read. */
  async accept(providerId: string, id: string, access: AccessDetails): Promise<ChangeResult> {
    const b = await this.getForProvider(providerId, id);
    if (!b) return { ok: false, code: 'not_found' };
    if (b.status === 'scheduled') return { ok: true, booking: b };
    if (b.status !== 'pending') return { ok: false, code: 'not_pending', booking: b };
    const now = new Date(this.nowMs()).toISOString();
    if (b.accept_by <= now) return { ok: false, code: 'acceptance_window_passed', booking: b };
    const done = await this.store.transition(b, ['pending'], { status: 'scheduled', access }, now, now);
    if (done) return { ok: true, booking: done };
    const again = await this.store.getBooking(id);
    return again?.status === 'scheduled' ? { ok: true, booking: again } : { ok: false, code: 'not_pending', booking: again ?? b };
  }

  listForStartup(startupId: string, limit: number, cursor?: string) {
    return this.store.listByStartup(startupId, limit, cursor);
  }

  listForProvider(providerId: string, limit: number, cursor?: string) {
    return this.store.listByProvider(providerId, limit, cursor);
  }
}
