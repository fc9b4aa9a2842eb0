/**
 * Capacity bookings (SPEC §11): quotes, bookings and the port that stores them. A booking holds its whole
 * price from the startup's credits (holds.ts) and takes its GPUs for every hour it covers, in chunks of hours:
 * one conditional transaction per chunk (DynamoDB takes at most 100 items a transaction).
 */
import type { SlaTier } from '../catalog.js';
import type { Page } from '../store.js';
import { HOUR_MS, hoursBetween, type PoolHour } from './blocks.js';
import type { MatchedOffer, QuoteAsk } from './matcher.js';

/** Hours one take or release transaction covers: with the chunk's marker and the booking's check, 100 items. */
export const HOURS_PER_CHUNK = 98;
export const QUOTE_VALID_S = 300;
/** A provider answers a booking within a day, and before it starts. */
export const ACCEPT_WINDOW_S = 24 * 3_600;
/** The booking's hold outlives its end by this: room for its last hour's billing. */
export const HOLD_GRACE_S = 24 * 3_600;
/** A booking still placing this long after it was asked (a handler runs at most 25 s) was abandoned: the sweep refuses it. */
export const PLACING_ABANDONED_S = 600;
/** The sweep expires a pending booking this long after its acceptance window, if its state machine has not. */
export const EXPIRY_BACKSTOP_S = 600;
/** A release that contention cut short is retried by the sweep this long after. */
export const RELEASE_RETRY_S = 60;
/** Bookings due for the sweep are spread over this many index partitions. */
export const BOOKING_SWEEP_SHARDS = 4;

/**
 * placing: hold and hours being taken (a retry with the same Idempotency-Key resumes it); refused: the hold or
 * the hours could not be had, or the placing was abandoned (nothing is kept); pending: waits for the provider;
 * scheduled: accepted; declined / expired (the acceptance window passed): released in full; running: from its
 * start, billed hour by hour (lifecycle.ts); completed: every hour delivered and billed; cancelled: by the startup,
 * before start (released in full) or during (billed to the hour it was cancelled in); interrupted: by the provider
 * (only the hours delivered in full are billed). The hours a released state did not use, and the rest of its hold,
 * are given back.
 */
export type BookingStatus = 'placing' | 'refused' | 'pending' | 'scheduled' | 'declined' | 'cancelled' | 'expired' | 'running' | 'completed' | 'interrupted';
export type BookingRefusal = 'exceeds_credit' | 'facility_frozen' | 'key_budget_exceeded' | 'capacity_unavailable' | 'abandoned';
/** The states whose hold and hours are given back. */
export const RELEASED_STATES: readonly BookingStatus[] = ['refused', 'declined', 'cancelled', 'expired', 'interrupted'];

export interface QuoteOffer extends MatchedOffer {
  id: string;
}

export interface Quote {
  id: string;
  startup_id: string;
  ask: QuoteAsk;
  offers: QuoteOffer[];
  created_at: string;
  expires_at: string;
}

export interface AccessDetails {
  endpoint: string;
  instructions?: string | undefined;
}

export interface Booking {
  id: string;
  startup_id: string;
  provider_id: string;
  provider_ref: string;
  pool: string;
  quote_id: string;
  offer_id: string;
  gpus: number;
  hours: number;
  start: string;
  end: string;
  price_micros_per_gpu_hour: number;
  total_micros: number;
  sla_tier: SlaTier;
  status: BookingStatus;
  refusal: BookingRefusal | null;
  hold_id: string | null;
  /** Set when the provider accepts; shown only to the booking's startup. */
  access: AccessDetails | null;
  accept_by: string;
  request_hash: string;
  /** A released state's hold and hours are all given back (until then the sweep retries the release). */
  released: boolean;
  /** The key budget slot of the startup key that booked (key-budgets.ts), when that key has a budget: the hold draws on it as a request's would. */
  budget_key: string | null;
  /** Hours billed so far (each a capture on the hold: lifecycle.ts); absent on a booking from before billing. */
  billed_hours?: number;
  /** When it stopped running (completed, cancelled during, interrupted); null before. */
  ended_at?: string | null;
  /** The provider's reason for an interruption. */
  interruption?: string | null;
  created_at: string;
  updated_at: string;
}

/** The hour keys of a booking's chunk `i` (chunk 0 first). */
export function chunkHours(b: Pick<Booking, 'start' | 'hours'>, i: number): string[] {
  const first = Date.parse(b.start) + i * HOURS_PER_CHUNK * HOUR_MS;
  const last = Math.min(Date.parse(b.start) + b.hours * HOUR_MS, first + HOURS_PER_CHUNK * HOUR_MS);
  return hoursBetween(first, last);
}
export const chunkCount = (b: Pick<Booking, 'hours'>): number => Math.ceil(b.hours / HOURS_PER_CHUNK);

/** An hour of a pool that a capacity reduction left with fewer GPUs listed than booked. */
export interface ShortHour { pool: string; hour: string }

/** What taking or releasing one chunk did. */
export type TakeOutcome = 'taken' | 'already_taken' | 'sold_out' | 'not_placing' | 'contention';
export type ReleaseOutcome = 'released' | 'not_taken' | 'contention';

/** Storage of quotes, bookings and the hour items they take. Every write is one conditional write or transaction. */
export interface BookingStore {
  putQuote(q: Quote): Promise<void>;
  getQuote(id: string): Promise<Quote | null>;
  /** Create-only; when the id exists, the booking found. */
  createBooking(b: Booking): Promise<{ created: true } | { created: false; existing: Booking }>;
  getBooking(id: string): Promise<Booking | null>;
  /** Moves a booking from one of `from` to `patch.status`; `startsAfter`: only while its start is later. Null when the condition failed. */
  transition(b: Booking, from: readonly BookingStatus[], patch: Partial<Booking> & { status: BookingStatus }, at: string, startsAfter?: string): Promise<Booking | null>;
  /** Takes `gpus` in each hour of chunk `i` (free ≥ gpus in every one), once, while the booking is placing. */
  takeChunk(b: Booking, i: number): Promise<TakeOutcome>;
  /** Gives chunk `i`'s GPUs back, once, if they were taken. */
  releaseChunk(b: Booking, i: number): Promise<ReleaseOutcome>;
  listByStartup(startupId: string, limit: number, cursor?: string): Promise<Page<Booking>>;
  listByProvider(providerId: string, limit: number, cursor?: string): Promise<Page<Booking>>;
  /** One hour item of a provider's pool (listed, booked, free), read consistently; null when never listed. */
  getHour(providerId: string, pool: string, hour: string): Promise<PoolHour | null>;
  /** Bookings of one sweep shard due before `nowIso` (see sweepDueAt), oldest first. */
  listDue(shard: number, nowIso: string, limit: number): Promise<Booking[]>;
}

/** When the sweep must look at a booking: abandoned placing, the acceptance window's end, a release to finish; null: never. */
export function sweepDueAt(b: Booking): string | null {
  if (b.status === 'placing') return new Date(Date.parse(b.created_at) + PLACING_ABANDONED_S * 1000).toISOString();
  // The lifecycle's state machine expires it at accept_by; the sweep is the backstop for an execution lost.
  if (b.status === 'pending') return new Date(Date.parse(b.accept_by) + EXPIRY_BACKSTOP_S * 1000).toISOString();
  if (RELEASED_STATES.includes(b.status) && !b.released) return new Date(Date.parse(b.updated_at) + RELEASE_RETRY_S * 1000).toISOString();
  return null;
}

/** A startup's view: never the provider's id or name; access details only for its own booking. */
export function startupView(b: Booking) {
  const { provider_id: _p, pool, request_hash: _h, hold_id: _hold, budget_key: _k, released: _rel, ...rest } = b;
  return { ...rest, ...poolFields(pool) };
}

/** The provider's view: the booking on its capacity, without the startup's access details or credit. */
export function providerView(b: Booking) {
  const { access: _a, request_hash: _h, hold_id: _hold, provider_ref: _r, budget_key: _k, released: _rel, pool, ...rest } = b;
  return { ...rest, ...poolFields(pool) };
}

function poolFields(pool: string) {
  const [accelerator, region, availability_zone, capacity_type, interconnect] = pool.split('|');
  return { accelerator: accelerator!, region: region!, availability_zone: availability_zone!, capacity_type: capacity_type!, interconnect: interconnect! };
}
