/**
 * A booking's life from its placing (SPEC §11), driven by the booking-lifecycle state machine
 * (infra/asl/booking-lifecycle.asl.json) and by the startup's and provider's routes:
 *
 *   pending ──accepted──▶ scheduled;  pending ──accept_by passed──▶ expired (released in full); declined by the provider
 *   scheduled ──start──▶ running ──each hour's end: bill it──▶ … ──last hour──▶ completed
 *       │                   ├── cancelled by the startup: billed to the hour it was cancelled in, the rest given back
 *       └── interrupted ◀───┴── interrupted by the provider: only hours delivered in full are billed
 *
 * Billing: hour n of a booking (0-based, [start + n h, start + (n+1) h)) costs gpus × price_micros_per_gpu_hour and
 * is one capture on the booking's hold (credits.ts), numbered n: asked twice (the state machine retried, a cancel
 * racing the hour's bill) it is posted once. The provider accrues 85 % of spot on it (the price is the spot in force
 * at the quote) and the hour is a request record of workload `reserved`, so settlement, the volume tier and the
 * statements count it as they count requests. Invariant: what a booking billed = hours billed × hourly cost ≤ its
 * hold, and a startup's spend = provider earnings + margin, hour by hour.
 */
import { derivedId } from '../ids.js';
import { mulDivHalfEven } from '../money.js';
import { PROVIDER_SHARE_PERCENT } from '../pricing.js';
import type { Credits } from '../credits.js';
import type { MaintenanceWindow } from '../catalog.js';
import { overlaps } from './overlap.js';
import type { UsageRecord } from '../usage.js';
import { HOUR_MS, hourMs } from './blocks.js';
import type { Booking, BookingStore, ShortHour } from './booking.js';
import type { Bookings, ChangeResult } from './bookings.js';

/** What one hour of a booking costs, and who earns it. */
export function hourEconomics(b: Pick<Booking, 'gpus' | 'price_micros_per_gpu_hour'>): { cost_micros: number; provider_micros: number; margin_micros: number } {
  const cost = b.gpus * b.price_micros_per_gpu_hour;
  const provider = mulDivHalfEven(cost, PROVIDER_SHARE_PERCENT, 100n);
  return { cost_micros: cost, provider_micros: provider, margin_micros: cost - provider };
}

/** Hour n's record: a request record of workload `reserved`, dated at the hour's start (the month it accrues in). */
export function hourRecord(b: Booking, n: number, holdId: string): Omit<UsageRecord, 'facilities'> {
  const e = hourEconomics(b);
  const [accelerator] = b.pool.split('|');
  return {
    request_id: derivedId('req', b.id, 'hour', String(n)), startup_id: b.startup_id, key_id: b.id, hold_id: holdId, workload: 'reserved', model: 'gpu-hours',
    provider_id: b.provider_id, endpoint_id: '-', accelerator: accelerator as UsageRecord['accelerator'], stream: false, outcome: 'ok', status_code: 200, attempts: 1,
    prompt_tokens: 0, completion_tokens: 0, estimated: false, gpu_microseconds: b.gpus * HOUR_MS * 1_000, ...e,
    spot_micros_per_gpu_hour: b.price_micros_per_gpu_hour, latency_ms: 0, ttft_ms: null, created_at: new Date(Date.parse(b.start) + n * HOUR_MS).toISOString(),
  };
}

/** Whole hours since the booking's start at `nowMs` (the hour in course is hour `hoursSince`), within [0, hours]. */
export function hoursSince(b: Pick<Booking, 'start' | 'hours'>, nowMs: number): number {
  return Math.min(b.hours, Math.max(0, Math.floor((nowMs - Date.parse(b.start)) / HOUR_MS)));
}

/** Bookings of one provider a shortfall or a maintenance window looks at (newest first). */
export const MAX_SHORTFALL_BOOKINGS = 1_000;

export type StepResult = { ok: true; booking: Booking; done: boolean } | { ok: false; code: 'not_found' | 'contention' };
export type AnswerResult = { ok: true; answer: 'pending' | 'accepted' | 'expired' | 'ended'; booking: Booking } | { ok: false; code: 'not_found' | 'contention' };

export class BookingLifecycle {
  constructor(
    private readonly store: BookingStore,
    private readonly bookings: Pick<Bookings, 'finish' | 'cancel' | 'getForProvider' | 'get' | 'holdIdOf'>,
    private readonly credits: Pick<Credits, 'capture' | 'release'>,
    private readonly nowMs: () => number,
  ) {}

  /**
   * The acceptance window (from the booking's placing): still pending before `accept_by` → wait until then; still
   * pending after → expired, its hold and hours given back in full; accepted → on to its start; anything else
   * (declined, cancelled) → nothing more to run. `expired`: this call (or a retry of it) expired the booking.
   */
  async awaitAnswer(id: string, again = true): Promise<AnswerResult> {
    const b = await this.store.getBooking(id);
    if (!b) return { ok: false, code: 'not_found' };
    if (b.status === 'scheduled') return { ok: true, answer: 'accepted', booking: b };
    if (b.status !== 'pending') return { ok: true, answer: b.status === 'expired' ? 'expired' : 'ended', booking: b };
    if (Date.parse(b.accept_by) > this.nowMs()) return { ok: true, answer: 'pending', booking: b };
    const r = await this.bookings.finish(b, ['pending'], 'expired', 'not_pending', false);
    if (r.ok) return { ok: true, answer: 'expired', booking: r.booking };
    // Accepted or declined at the window's last moment: answer from what it is now.
    return r.code === 'not_pending' && again ? this.awaitAnswer(id, false) : { ok: false, code: r.code === 'not_found' ? 'not_found' : 'contention' };
  }

  /** At its start: scheduled → running. Anything else is left as it is (done: nothing more to run). */
  async begin(id: string): Promise<StepResult> {
    const b = await this.store.getBooking(id);
    if (!b) return { ok: false, code: 'not_found' };
    if (b.status === 'running') return { ok: true, booking: b, done: false };
    if (b.status !== 'scheduled') return { ok: true, booking: b, done: true };
    const now = new Date(this.nowMs()).toISOString();
    const running = await this.store.transition(b, ['scheduled'], { status: 'running', billed_hours: 0 }, now);
    return running ? { ok: true, booking: running, done: false } : this.begin(id);
  }

  /** At hour n's end: bills hours up to n (once each); the last one completes the booking. */
  async billHour(id: string, n: number): Promise<StepResult> {
    const b = await this.store.getBooking(id);
    if (!b) return { ok: false, code: 'not_found' };
    if (b.status !== 'running') return { ok: true, booking: b, done: true };
    const billed = await this.billThrough(b, Math.min(n + 1, b.hours));
    if (!billed) return { ok: false, code: 'contention' };
    if (n + 1 < b.hours) return { ok: true, booking: billed, done: false };
    return this.complete(billed);
  }

  /** Every hour delivered and billed: completed, and the hold closed (its captures are the whole bill). */
  private async complete(b: Booking): Promise<StepResult> {
    const at = new Date(this.nowMs()).toISOString();
    const done = (await this.store.transition(b, ['running'], { status: 'completed', ended_at: at }, at)) ?? (await this.store.getBooking(b.id));
    if (!done) return { ok: false, code: 'not_found' };
    const closed = await this.credits.release(this.bookings.holdIdOf(done));
    if (!(closed.ok || closed.code === 'hold_closed')) return { ok: false, code: 'contention' };
    return { ok: true, booking: done, done: true };
  }

  /**
   * Bills hours [billed so far, upTo) as captures n, in order; the booking notes how many. Null on contention
   * (a retry continues: each capture is numbered, so none is taken twice).
   */
  private async billThrough(b: Booking, upTo: number): Promise<Booking | null> {
    const holdId = this.bookings.holdIdOf(b);
    const cost = hourEconomics(b).cost_micros;
    for (let n = b.billed_hours ?? 0; n < upTo; n++) {
      const r = await this.credits.capture(holdId, n, cost, hourRecord(b, n, holdId));
      if (!r.ok) return null;
    }
    if ((b.billed_hours ?? 0) >= upTo) return b;
    const at = new Date(this.nowMs()).toISOString();
    return (await this.store.transition(b, [b.status], { status: b.status, billed_hours: upTo }, at)) ?? this.store.getBooking(b.id);
  }

  /** The startup cancels: before start, released in full; while running, billed to the hour in course, the rest given back. */
  async cancel(startupId: string, id: string): Promise<ChangeResult> {
    let b = await this.bookings.get(startupId, id);
    if (!b) return { ok: false, code: 'not_found' };
    // Past its start but not yet begun (the state machine's Begin is on its way): it runs from its start.
    if (b.status === 'scheduled' && Date.parse(b.start) <= this.nowMs()) {
      const begun = await this.begin(id);
      if (!begun.ok) return begun;
      b = begun.booking;
    }
    if (b.status !== 'running') return this.bookings.cancel(startupId, id);
    const billed = await this.billThrough(b, Math.min(hoursSince(b, this.nowMs()) + 1, b.hours));
    if (!billed) return { ok: false, code: 'contention' };
    return this.bookings.finish(billed, ['running'], 'cancelled', 'not_cancellable', false);
  }

  /** The provider interrupts (maintenance, outage): before start, released in full; while running, hours not delivered in full are never billed. */
  async interrupt(providerId: string, id: string, reason: string): Promise<ChangeResult> {
    const b = await this.bookings.getForProvider(providerId, id);
    if (!b) return { ok: false, code: 'not_found' };
    if (b.status === 'interrupted') return { ok: true, booking: b };
    if (b.status !== 'running' && b.status !== 'scheduled') return { ok: false, code: 'not_cancellable', booking: b };
    const delivered = b.status === 'running' ? await this.billThrough(b, hoursSince(b, this.nowMs())) : b;
    if (!delivered) return { ok: false, code: 'contention' };
    const at = new Date(this.nowMs()).toISOString();
    const noted = (await this.store.transition(delivered, [delivered.status], { status: delivered.status, interruption: reason, ended_at: at }, at)) ?? delivered;
    return this.bookings.finish(noted, ['running', 'scheduled'], 'interrupted', 'not_cancellable', false);
  }

  /**
   * A capacity report lowered hours below what was booked in them (SPEC §6, §11): the provider can no longer deliver
   * those bookings, so they are interrupted, never silently dropped. For each short hour, the bookings covering it
   * (scheduled or running, in that pool) are interrupted newest first until the hour is no longer short. Bounded:
   * the provider's newest MAX_SHORTFALL_BOOKINGS bookings are looked at.
   */
  async interruptShortfall(providerId: string, short: readonly ShortHour[]): Promise<Booking[]> {
    if (short.length === 0) return [];
    const open = await this.openBookings(providerId);
    const interrupted: Booking[] = [];
    for (const s of short) {
      const atMs = hourMs(s.hour);
      const covering = open.filter((b) => b.pool === s.pool && Date.parse(b.start) <= atMs && atMs < Date.parse(b.end) && !interrupted.some((x) => x.id === b.id));
      for (const b of covering) {
        const now = await this.store.getHour(providerId, s.pool, s.hour);
        if (!now || now.free_gpus >= 0) break;
        const r = await this.interrupt(providerId, b.id, `capacity reduced below the booked GPUs at ${s.hour}:00Z`);
        if (r.ok) interrupted.push(r.booking);
      }
    }
    return interrupted;
  }

  /**
   * A capacity report's maintenance windows (SPEC §6) over booked hours: the provider cannot deliver the block it
   * sold, so each scheduled or running booking a window overlaps (a window not yet over) is interrupted when the
   * report applies, with the window as its reason: hours delivered in full are billed, the rest given back.
   */
  async interruptMaintenance(providerId: string, windows: readonly MaintenanceWindow[]): Promise<Booking[]> {
    const now = this.nowMs();
    const ahead = windows.filter((w) => Date.parse(w.end) > now);
    if (ahead.length === 0) return [];
    const interrupted: Booking[] = [];
    for (const b of await this.openBookings(providerId)) {
      const w = ahead.find((x) => overlaps(x, b));
      if (!w) continue;
      const r = await this.interrupt(providerId, b.id, `maintenance window ${w.start} to ${w.end}`);
      if (r.ok) interrupted.push(r.booking);
    }
    return interrupted;
  }

  /** The provider's scheduled and running bookings, newest first (at most MAX_SHORTFALL_BOOKINGS looked at). */
  private async openBookings(providerId: string): Promise<Booking[]> {
    const open: Booking[] = [];
    let seen = 0;
    let cursor: string | undefined;
    do {
      const page = await this.store.listByProvider(providerId, 100, cursor);
      seen += page.items.length;
      open.push(...page.items.filter((b) => b.status === 'scheduled' || b.status === 'running'));
      cursor = page.cursor ?? undefined;
    } while (cursor && seen < MAX_SHORTFALL_BOOKINGS);
    return open;
  }

}
