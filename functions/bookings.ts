/**
 * Capacity bookings (SPEC §11): a startup's quotes and bookings, and a provider's answer to them. Only the
 * booking's startup sees it (with the access details); only its provider (or an operator) sees the provider's
 * view; anyone else gets 404.
 */
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { z } from 'zod';
import { budgetSlot, now, providerView, startupView, type Booking, type BookResult, type ChangeResult, type Quote } from '../packages/core/src/index.js';
import { apiRoute, providerIdOf, startupIdOf } from './lib/api.js';
import { deps, sfnClient } from './lib/deps.js';
import { HttpError, badRequest, busy, conflict, notFound } from './lib/errors.js';
import type { AcceptBody, BookBody, InterruptBody, QuoteBody } from './lib/booking-schemas.js';
import type { ListQuery } from './lib/schemas.js';
import { emitBookingEvent, type BookingEventType } from './lib/webhooks.js';

const bookingJson = (b: Booking) => ({ object: 'booking' as const, ...startupView(b) });
const providerBookingJson = (b: Booking) => ({ object: 'booking' as const, ...providerView(b) });

function quoteJson(q: Quote) {
  return {
    id: q.id, object: 'capacity_quote' as const, ask: q.ask, created_at: q.created_at, expires_at: q.expires_at,
    offers: q.offers.map((o) => {
      const [accelerator, region, availability_zone, capacity_type, interconnect] = o.pool.split('|');
      return {
        id: o.id, provider_ref: o.provider_ref, sla_tier: o.sla_tier, accelerator, region, availability_zone, capacity_type, interconnect,
        gpus: o.gpus, hours: o.hours, start: o.start, end: o.end, price_micros_per_gpu_hour: o.price_micros_per_gpu_hour, total_micros: o.total_micros, reason: o.reason,
      };
    }),
  };
}

export const quote = apiRoute<z.infer<typeof QuoteBody>>('functions/bookings.quote', async (req) => {
  const r = await deps().bookings.quote(startupIdOf(req), req.body);
  if (!r.ok) throw badRequest(`Invalid ask: ${r.message}.`, null, 'invalid_ask');
  return { status: 201, body: quoteJson(r.quote) };
});

/** A refused booking: why, in the status a paid request's refusal has (docs/api.md). */
function refusal(r: Extract<BookResult, { ok: false }>): HttpError {
  const id = 'booking' in r ? ` (booking ${r.booking.id})` : '';
  switch (r.code) {
    case 'quote_not_found': return notFound('quote');
    case 'quote_expired': return conflict('This quote has expired; ask for a new one.', 'quote_expired');
    case 'offer_not_found': return badRequest('The quote has no such offer.', 'offer', 'offer_not_found');
    case 'idempotency_conflict': return conflict('This Idempotency-Key was already used with a different request.', 'idempotency_conflict');
    case 'contention': return busy();
    case 'exceeds_credit': return new HttpError(402, `The booking's total does not fit in the unfrozen credit${id}.`, 'exceeds_credit');
    case 'key_budget_exceeded': return new HttpError(402, `The booking's total does not fit in what is left of this key's budget${id}.`, 'key_budget_exceeded');
    case 'facility_frozen': return new HttpError(403, `The credit that would pay for it is frozen by its lender: a frozen facility takes no new bookings${id}.`, 'credits_frozen', 'permission_error');
    case 'capacity_unavailable': return conflict(`Those GPUs were booked by someone else meanwhile; ask for a new quote${id}.`, 'capacity_unavailable');
    case 'abandoned': return conflict(`This booking was left unfinished for 10 minutes and was released; book again with a new Idempotency-Key${id}.`, 'booking_abandoned');
  }
}

export const book = apiRoute<z.infer<typeof BookBody>>('functions/bookings.book', async (req) => {
  const key = req.principal!.key;
  const budgetKey = key ? budgetSlot(key, now()) : null;
  const r = await deps().bookings.book(startupIdOf(req), { quote_id: req.body.quote_id, offer: req.body.offer }, { key: req.idempotency!.key, request_hash: req.idempotency!.request_hash }, budgetKey);
  if (!r.ok) throw refusal(r);
  if (!r.replayed) await emitBookingEvent('booking.pending', r.booking);
  // A replay starts it too: the first reply may have been lost before its start (starting twice starts one).
  if (r.booking.status === 'pending') await startLifecycle(r.booking);
  return { status: r.replayed ? 200 : 201, body: bookingJson(r.booking), ...(r.replayed ? { headers: { 'idempotent-replayed': 'true' } } : {}) };
});

export const list = apiRoute<unknown, z.infer<typeof ListQuery>>('functions/bookings.list', async (req) => {
  const page = await deps().bookings.listForStartup(startupIdOf(req), req.query.limit, req.query.cursor);
  return { status: 200, body: { data: page.items.map(bookingJson), next_cursor: page.cursor } };
});

export const get = apiRoute('functions/bookings.get', async (req) => {
  const b = await deps().bookings.get(startupIdOf(req), req.params.id!);
  if (!b) throw notFound('booking');
  return { status: 200, body: bookingJson(b) };
});

/** A change that went through tells the other side; a refused one says why. */
async function changed(r: ChangeResult, type: BookingEventType): Promise<ChangeResult> {
  if (r.ok) await emitBookingEvent(type, r.booking);
  return r;
}

/** A change refused: the booking's state says why. */
function changeReply(r: ChangeResult, view: (b: Booking) => unknown) {
  if (r.ok) return { status: 200, body: view(r.booking) };
  switch (r.code) {
    case 'not_found': throw notFound('booking');
    case 'contention': throw busy();
    case 'already_started': throw conflict('This booking has started; it can no longer be cancelled in full.', r.code);
    case 'acceptance_window_passed': throw conflict(`The acceptance window closed at ${r.booking.accept_by}.`, r.code);
    default: throw conflict(`This booking is ${r.booking.status}.`, r.code);
  }
}

export const cancel = apiRoute('functions/bookings.cancel', async (req) => changeReply(await changed(await deps().lifecycle.cancel(startupIdOf(req), req.params.id!), 'booking.cancelled'), bookingJson));

export const listForProvider = apiRoute<unknown, z.infer<typeof ListQuery>>('functions/bookings.listForProvider', async (req) => {
  const page = await deps().bookings.listForProvider(providerIdOf(req), req.query.limit, req.query.cursor);
  return { status: 200, body: { data: page.items.map(providerBookingJson), next_cursor: page.cursor } };
});

export const accept = apiRoute<z.infer<typeof AcceptBody>>('functions/bookings.accept', async (req) => {
  const r = await changed(await deps().bookings.accept(providerIdOf(req), req.params.booking!, req.body.access), 'booking.accepted');
  if (r.ok) await startLifecycle(r.booking);
  return changeReply(r, providerBookingJson);
});

/**
 * Starts the booking's lifecycle (infra/asl/booking-lifecycle.asl.json), named by the booking, when it is placed.
 * The accept starts it again, which starts nothing new (Step Functions answers a running execution of the same name
 * and input as the first time) unless the first was lost: then it takes the booking from where it is.
 */
async function startLifecycle(b: Booking): Promise<void> {
  const arn = process.env.BOOKING_LIFECYCLE_ARN;
  if (!arn) throw new Error('BOOKING_LIFECYCLE_ARN is not set');
  try {
    await sfnClient().send(new StartExecutionCommand({ stateMachineArn: arn, name: b.id, input: JSON.stringify({ booking_id: b.id }) }));
  } catch (err) {
    // Already started and ended (an accept repeated after the booking finished): nothing to run again.
    if ((err as { name?: string }).name !== 'ExecutionAlreadyExists') throw err;
  }
}

export const interrupt = apiRoute<z.infer<typeof InterruptBody>>('functions/bookings.interrupt', async (req) =>
  changeReply(await changed(await deps().lifecycle.interrupt(providerIdOf(req), req.params.booking!, req.body.reason), 'booking.interrupted'), providerBookingJson));

export const decline = apiRoute('functions/bookings.decline', async (req) => changeReply(await changed(await deps().bookings.decline(providerIdOf(req), req.params.booking!), 'booking.declined'), providerBookingJson));
