/**
 * Task handlers of the booking-lifecycle state machine (infra/asl/booking-lifecycle.asl.json; core:
 * packages/core/src/bookings/lifecycle.ts). Each returns the seconds the next Wait state waits, computed on the
 * CompuX clock (a Wait with a timestamp would read the interpreter's own clock), and whether the booking is done.
 * Started when the booking is placed (pending), one execution per booking (its id names the execution).
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { z } from 'zod';
import { HOUR_MS, nowMs } from '../packages/core/src/index.js';
import { deps } from './lib/deps.js';
import { logger } from './lib/powertools.js';
import { emitBookingEvent } from './lib/webhooks.js';

const BookingId = z.string().regex(/^bkg_[A-Za-z0-9]{1,64}$/);
const Step = z.object({ booking_id: BookingId, n: z.number().int().min(0).max(10_000).optional() });

/** Whole seconds from now to `atMs`, never negative. */
const secondsUntil = (atMs: number): number => Math.max(0, Math.ceil((atMs - nowMs()) / 1000));

async function bookingOrThrow(id: string) {
  const b = await deps().bookingStore.getBooking(id);
  if (!b) throw new Error(`booking ${id} does not exist`);
  return b;
}

/** The longest single wait: under the local interpreter's timer limit (24.8 days), far under Step Functions' year. */
export const MAX_WAIT_S = 20 * 86_400;

/**
 * The acceptance window: `answer` pending → wait `wait_s` (to accept_by) and ask again; accepted → on to the start;
 * expired → the startup is told (the hold and hours were given back); ended → nothing more to run.
 */
export const awaitAnswer = middy(async (event: unknown) => {
  const { booking_id } = Step.parse(event);
  const r = await deps().lifecycle.awaitAnswer(booking_id);
  if (!r.ok) throw new Error(`booking ${booking_id}: ${r.code}`);
  // Its event id derives from the booking's state: a retried task tells the startup once.
  if (r.answer === 'expired') await emitBookingEvent('booking.expired', r.booking);
  return { booking_id, answer: r.answer, wait_s: r.answer === 'pending' ? Math.min(secondsUntil(Date.parse(r.booking.accept_by)), MAX_WAIT_S) : 0 };
}).use(injectLambdaContext(logger));

/** The seconds to the booking's start; `ready`: it starts within one wait (else the machine waits MAX_WAIT_S and asks again). */
export const untilStart = middy(async (event: unknown) => {
  const { booking_id } = Step.parse(event);
  const b = await bookingOrThrow(booking_id);
  const wait = secondsUntil(Date.parse(b.start));
  return { booking_id, wait_s: Math.min(wait, MAX_WAIT_S), ready: wait <= MAX_WAIT_S };
}).use(injectLambdaContext(logger));

export const begin = middy(async (event: unknown) => {
  const { booking_id } = Step.parse(event);
  const r = await deps().lifecycle.begin(booking_id);
  if (!r.ok) throw new Error(`booking ${booking_id}: ${r.code}`);
  return { booking_id, n: 0, done: r.done, wait_s: secondsUntil(Date.parse(r.booking.start) + HOUR_MS) };
}).use(injectLambdaContext(logger));

export const billHour = middy(async (event: unknown) => {
  const { booking_id, n = 0 } = Step.parse(event);
  const r = await deps().lifecycle.billHour(booking_id, n);
  // Contention is retried by the state machine's Retry (the capture is numbered: never twice).
  if (!r.ok) throw new Error(`booking ${booking_id} hour ${n}: ${r.code}`);
  if (r.done && r.booking.status === 'completed') await emitBookingEvent('booking.completed', r.booking);
  return { booking_id, n: n + 1, done: r.done, wait_s: secondsUntil(Date.parse(r.booking.start) + (n + 2) * HOUR_MS) };
}).use(injectLambdaContext(logger));
