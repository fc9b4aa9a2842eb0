/**
 * Scheduled (infra/schedules.ts "hold-sweeper"): releases holds whose expiry passed without a settlement, closes leases left
 * by vanished holders, and gives back what capacity bookings no longer need (abandoned, expired, an unfinished release).
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { ScheduledEvent } from 'aws-lambda';
import { deps } from './lib/deps.js';
import { logger, metrics } from './lib/powertools.js';
import { emitBookingEvent } from './lib/webhooks.js';

export const sweepHolds = middy(async (_event: ScheduledEvent) => {
  const result = await deps().credits.sweepExpired();
  metrics.addMetric('holds_expired', MetricUnit.Count, result.expired);
  if (result.expired > 0) logger.info('released expired holds', { ...result });
  // Leases whose holder vanished (a dropped container, a crash): closed from what their holder flushed.
  const leases = await deps().leases.sweep();
  metrics.addMetric('leases_swept', MetricUnit.Count, leases.closed);
  if (leases.closed > 0) logger.warn('closed leases left by vanished holders', { ...leases });
  // Capacity bookings: abandoned placings, acceptance windows passed, releases to finish (SPEC §11).
  const bookings = await deps().bookings.sweep(50, (b) => emitBookingEvent('booking.expired', b));
  if (bookings.abandoned + bookings.expired + bookings.released > 0) logger.info('swept bookings', { ...bookings });
  return { ...result, leases, bookings };
})
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
