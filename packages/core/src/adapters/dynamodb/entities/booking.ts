/**
 * Capacity booking entities (SPEC §11): a provider's hour items (one per pool and UTC hour: listed, booked and
 * free GPUs, free = listed − booked, negative when a reduction left bookings short), quotes, bookings and the
 * marker of each chunk of hours a booking took.
 */
import { BOOKING_SWEEP_SHARDS, sweepDueAt, type Booking, type Quote } from '../../../bookings/booking.js';
import { shardOf, type Key } from './keys.js';

/** All of a provider's hour items in one partition, hour first: a quote reads a window with one Query. */
export const capacityHoursPk = (providerId: string): string => `CAPHOURS#${providerId}`;
export const capacityHourKey = (providerId: string, hour: string, pool: string): Key => ({ pk: capacityHoursPk(providerId), sk: `HOUR#${hour}#${pool}` });
export const hourSkPrefix = (hour: string): string => `HOUR#${hour}`;

export const quoteKey = (id: string): Key => ({ pk: `QUOTE#${id}`, sk: 'QUOTE' });
export const bookingKey = (id: string): Key => ({ pk: `BOOKING#${id}`, sk: 'BOOKING' });
/** `taken` while chunk `i` of the booking holds its GPUs: taking sets it, releasing clears it, so each happens once. */
export const chunkKey = (id: string, i: number): Key => ({ pk: `BOOKING#${id}`, sk: `TAKE#${i}` });

/** A startup's bookings on byStartup (gsi2), a provider's on byLender (gsi1, keyed by provider): newest first. */
export const startupBookingsPk = (startupId: string): string => `STARTUP#${startupId}`;
export const providerBookingsPk = (providerId: string): string => `PROVIDERBOOKINGS#${providerId}`;
export const BOOKING_SK_PREFIX = 'BOOKING#';

/** Bookings the sweep must look at, on openHoldsByExpiry (gsi3) beside the open holds: sparse, sharded, by due time. */
export const bookingDueShardKey = (shard: number): string => `BOOKINGDUE#${shard}`;

export function bookingItem(b: Booking) {
  const due = sweepDueAt(b);
  return {
    ...(due ? { gsi3pk: bookingDueShardKey(shardOf(b.id, BOOKING_SWEEP_SHARDS)), gsi3sk: `${due}#${b.id}` } : {}),
    ...bookingKey(b.id),
    type: 'booking',
    booking: b,
    status: b.status,
    gsi2pk: startupBookingsPk(b.startup_id),
    gsi2sk: `${BOOKING_SK_PREFIX}${b.created_at}#${b.id}`,
    gsi1pk: providerBookingsPk(b.provider_id),
    gsi1sk: `${BOOKING_SK_PREFIX}${b.created_at}#${b.id}`,
  };
}

/** Quotes vanish a day after they expire (TTL): nothing refers to them once booked, the booking copies the offer. */
export function quoteItem(q: Quote) {
  return { ...quoteKey(q.id), type: 'quote', quote: q, ttl: Math.floor(Date.parse(q.expires_at) / 1000) + 86_400 };
}
