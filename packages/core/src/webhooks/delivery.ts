/**
 * The state of one event's delivery to one endpoint, and what an attempt's outcome does to it. Pure: the
 * consumer (functions/webhooks.ts) makes the request and stores what this decides.
 *
 * `round` counts redeliveries: POST /v1/events/{id}/redeliver starts a new round (attempts from 0, a new
 * 3-day window), and a queued message of an older round is dropped. Within a round, attempt n is made by the
 * message that carries n; one that finds `attempts >= n` is a duplicate and does nothing (idempotent per
 * event, endpoint, round and attempt).
 */
import { nextAttemptMs, type BackoffSchedule } from './backoff.js';

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

export interface DeliveryState {
  endpoint_id: string;
  status: DeliveryStatus;
  round: number;
  attempts: number;
  first_attempt_at: string | null;
  last_attempt_at: string | null;
  last_status_code: number | null;
  /** Why the last attempt failed without a status (timeout, refused address…). */
  last_error: string | null;
  next_attempt_at: string | null;
}

export function pendingDelivery(endpointId: string, round: number, at: string): DeliveryState {
  return { endpoint_id: endpointId, status: 'pending', round, attempts: 0, first_attempt_at: null, last_attempt_at: null, last_status_code: null, last_error: null, next_attempt_at: at };
}

/** What a queued message asks for: attempt `attempt` of round `round`, not before `not_before`. */
export interface DeliveryJob {
  tenant_id: string;
  event_id: string;
  endpoint_id: string;
  round: number;
  attempt: number;
  not_before: string;
}

export type JobVerdict = 'attempt' | 'wait' | 'drop';

/** Whether a received job should attempt now, wait (hop again), or be dropped (stale, done, duplicate). */
export function judgeJob(d: DeliveryState | undefined, job: DeliveryJob, nowMs: number): JobVerdict {
  if (!d || d.status !== 'pending' || d.round !== job.round || d.attempts >= job.attempt) return 'drop';
  return Date.parse(job.not_before) > nowMs ? 'wait' : 'attempt';
}

export interface AttemptOutcome {
  status_code: number | null;
  error: string | null;
}

export const delivered = (o: AttemptOutcome) => o.status_code !== null && o.status_code >= 200 && o.status_code < 300;

/** The state after attempt `job.attempt` ended with `o` at `nowMs`. */
export function afterAttempt(d: DeliveryState, job: DeliveryJob, o: AttemptOutcome, nowMs: number, schedule: BackoffSchedule): DeliveryState {
  const at = new Date(nowMs).toISOString();
  const first = d.first_attempt_at ?? at;
  const base = { ...d, attempts: job.attempt, first_attempt_at: first, last_attempt_at: at, last_status_code: o.status_code, last_error: o.error };
  if (delivered(o)) return { ...base, status: 'succeeded', next_attempt_at: null };
  const next = nextAttemptMs(Date.parse(first), job.attempt, nowMs, schedule);
  return next === null ? { ...base, status: 'failed', next_attempt_at: null } : { ...base, next_attempt_at: new Date(next).toISOString() };
}

/** SQS's longest DelaySeconds: a later attempt hops through the queue more than once. */
export const MAX_SQS_DELAY_S = 900;

export function delayUntilS(notBefore: string, nowMs: number): number {
  return Math.max(0, Math.min(MAX_SQS_DELAY_S, Math.ceil((Date.parse(notBefore) - nowMs) / 1000)));
}
