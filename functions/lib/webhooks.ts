/**
 * The outbound-webhook service of this container (SPEC §12), built on first use from deps() and the
 * environment, and the emission helpers the places where things happen call. Kept apart from deps.ts: only
 * the functions that emit or deliver build it.
 *
 * Settings: COMPUX_WEBHOOK_ALLOW_LOCAL=1 (the local runtime sets it) allows http and non-public targets, read at
 * every check so a test can turn it off; COMPUX_WEBHOOK_BACKOFF_BASE_S (first retry wait, default 60) and
 * COMPUX_WEBHOOK_SWEEP_GRACE_S (default 30) only shorten, for tests.
 */
import { promises as dns } from 'node:dns';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { DEFAULT_BACKOFF, SWEEP_GRACE_MS, Webhooks, nowMs, urlPolicyFromEnv, type DeliveryJob, type DeliveryQueue, type EventTenant, type EventType, type Facility, type SlaAlert, type UrlPolicy, type Booking, providerView, startupView } from '../../packages/core/src/index.js';
import { MAX_EVENT_DATA_BYTES, type ProviderRecord, type Statement } from '../../packages/core/src/index.js';
import { DynamoWebhookStore } from '../../packages/core/src/adapters/dynamodb/index.js';
import { HttpWebhookSender } from '../../packages/core/src/adapters/http/webhook-sender.js';
import { deps, sqsClient } from './deps.js';
import { logger } from './powertools.js';

/** Queues delivery jobs on webhook-deliveries, each with its own delay (at most SQS's 900 s). */
class SqsDeliveryQueue implements DeliveryQueue {
  async enqueue(jobs: readonly DeliveryJob[], delay_s: number): Promise<void> {
    const url = process.env.WEBHOOK_QUEUE_URL;
    if (!url) throw new Error('WEBHOOK_QUEUE_URL is not set');
    for (let i = 0; i < jobs.length; i += 10) {
      const out = await sqsClient().send(
        new SendMessageBatchCommand({ QueueUrl: url, Entries: jobs.slice(i, i + 10).map((j, n) => ({ Id: String(n), MessageBody: JSON.stringify(j), DelaySeconds: delay_s })) }),
      );
      if (out.Failed?.length) throw new Error(`webhook-deliveries refused ${out.Failed.length} message(s): ${out.Failed[0]?.Code}`);
    }
  }
}

/** A live view of the allowance: the policy is read from the environment at every check. */
const livePolicy: UrlPolicy = { get allow_local() { return urlPolicyFromEnv().allow_local; } };

/** A whole number of seconds in [1, max] from the environment, else the default: settings only shorten. */
function shorterS(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v >= 1 && v <= fallback ? v : fallback;
}

let cached: Webhooks | undefined;

export function webhooks(): Webhooks {
  if (cached) return cached;
  const { doc, table } = deps();
  cached = new Webhooks(new DynamoWebhookStore(doc, table), new SqsDeliveryQueue(), new HttpWebhookSender(livePolicy), {
    policy: livePolicy,
    lookup: (host) => dns.lookup(host, { all: true, verbatim: true }),
    backoff: { ...DEFAULT_BACKOFF, base_s: shorterS('COMPUX_WEBHOOK_BACKOFF_BASE_S', DEFAULT_BACKOFF.base_s) },
    sweep_grace_ms: shorterS('COMPUX_WEBHOOK_SWEEP_GRACE_S', SWEEP_GRACE_MS / 1000) * 1000,
    now: nowMs,
    log: (level, message, data) => logger[level](message, data),
  });
  return cached;
}

/**
 * Tells the facility's lender and startup (SPEC §12). `facts` make the event's id: the same change emitted again
 * (a retried request) is the same event. The startup is not told the lender's reason: that is the lender's note.
 */
export async function emitFacilityEvent(type: Extract<EventType, `facility.${string}`>, f: Facility, facts: readonly string[]): Promise<void> {
  const shared = { facility_id: f.id, lender_id: f.lender_id, startup_id: f.startup_id, status: f.status, frozen_at: f.frozen_at };
  const w = webhooks();
  const to = [
    [{ role: 'lender', id: f.lender_id }, { ...shared, frozen_reason: f.frozen_reason }],
    [{ role: 'startup', id: f.startup_id }, shared],
  ] as const;
  // Both at once: the request waits for two table writes and two sends, not four of each in a row.
  await Promise.all(
    to.map(async ([tenant, data]) => {
      const r = await w.emit(type, tenant, [f.id, ...facts], data);
      if (!r.ok) logger.error('webhook event refused', { type, facility_id: f.id, code: r.code });
    }),
  );
}

/**
 * Emits an event about a change already stored, where the change must stand whatever happens to its event: a
 * refusal or a failure is logged, never thrown (the state can still be read, e.g. GET /v1/providers/{id}/sla).
 */
async function emitAfter(type: EventType, tenant: EventTenant, facts: readonly string[], data: Record<string, unknown>, about: Record<string, unknown>): Promise<void> {
  try {
    const r = await webhooks().emit(type, tenant, facts, data);
    if (!r.ok) logger.error('webhook event refused', { type, ...about, code: r.code });
  } catch (err) {
    logger.error('could not emit the webhook event', { type, ...about, error: err as Error });
  }
}

/** Tells a provider its SLA standing changed (SPEC §6, §12): `sla.breach` or `sla.recovered`, once per alert (its instant makes the id). */
export function emitSlaAlert(alert: SlaAlert): Promise<void> {
  const type = alert.kind === 'breach' ? 'sla.breach' : 'sla.recovered';
  return emitAfter(type, { role: 'provider', id: alert.provider_id }, [alert.at], { ...alert }, { provider_id: alert.provider_id });
}

/** A step's detail is kept whole up to this many characters in provider.validation.completed; halved until the event fits. */
const VALIDATION_DETAIL_CHARS = 2_000;

const cut = (text: string, max: number) => (text.length <= max ? text : max < 2 ? '' : `${text.slice(0, max - 1)}…`);

/**
 * The provider.validation.completed data of a validation run that ended `result`, read from the provider's record, or
 * null when the record does not show that end: its last step must be the run's end (`live` passed, written by goLive;
 * `validation` failed, written by returnToIntegration) and its status the one that end sets. The steps are the run's
 * (those after its "validation started"), each detail cut so the data stays within MAX_EVENT_DATA_BYTES.
 */
export function validationCompletedData(p: ProviderRecord, result: 'passed' | 'failed'): Record<string, unknown> | null {
  const end = p.steps.at(-1);
  const ended = result === 'passed' ? end?.step === 'live' && end.result === 'passed' && p.status === 'live' : end?.step === 'validation' && end.result === 'failed' && p.status === 'integration';
  if (!end || !ended) return null;
  const run = p.steps.slice(p.steps.findLastIndex((s) => s.step === 'validation' && s.result === 'recorded') + 1);
  for (let max = VALIDATION_DETAIL_CHARS; ; max = Math.floor(max / 2)) {
    const steps = run.map((s) => ({ step: s.step, result: s.result, at: s.at, detail: cut(s.detail, max) }));
    const data = { provider_id: p.id, result, status: p.status, steps, completed_at: end.at };
    if (max === 0 || Buffer.byteLength(JSON.stringify(data)) <= MAX_EVENT_DATA_BYTES) return data;
  }
}

/**
 * Tells a provider its validation run ended (SPEC §6, §12), once per run: the run's end (result and instant) makes
 * the id, so a retried task that finds the same end emits the same event. Nothing when the record shows no such end.
 */
export async function emitValidationCompleted(p: ProviderRecord, result: 'passed' | 'failed'): Promise<void> {
  const data = validationCompletedData(p, result);
  if (!data) return;
  await emitAfter('provider.validation.completed', { role: 'provider', id: p.id }, [p.id, result, String(data.completed_at)], data, { provider_id: p.id });
}

/**
 * Tells a provider its monthly statement is issued (SPEC §7, §12): the statement's figures as GET
 * /v1/providers/{id}/statements/{period} shows them, without its lines (read them there). Once per statement: the
 * provider and period make the id, so a retried task or a run over a failed month emits the same event.
 */
export function emitStatementIssued(s: Statement): Promise<void> {
  const { lines, ...figures } = s;
  return emitAfter('statement.issued', { role: 'provider', id: s.provider_id }, [s.provider_id, s.period], { ...figures, line_count: lines.length }, { provider_id: s.provider_id, period: s.period });
}

/** The booking events and whom each tells: the side that did not act (the other one has the reply). */
const BOOKING_EVENT_TO = {
  'booking.pending': 'provider',
  'booking.cancelled': 'provider',
  'booking.accepted': 'startup',
  'booking.declined': 'startup',
  'booking.interrupted': 'startup',
  'booking.completed': 'startup',
  // The provider did not answer within the acceptance window: the startup's hold is given back.
  'booking.expired': 'startup',
} as const;
export type BookingEventType = keyof typeof BOOKING_EVENT_TO;

/**
 * Tells the other side of a booking that it changed (SPEC §11, §12), with that side's view of it. Never the access
 * details: only GET /v1/bookings/{id} shows them, to the booking's startup.
 */
export function emitBookingEvent(type: BookingEventType, b: Booking): Promise<void> {
  if (BOOKING_EVENT_TO[type] === 'provider') {
    return emitAfter(type, { role: 'provider', id: b.provider_id }, [b.id, b.status, b.updated_at], { object: 'booking', ...providerView(b) }, { booking_id: b.id });
  }
  const { access: _access, ...view } = startupView(b);
  return emitAfter(type, { role: 'startup', id: b.startup_id }, [b.id, b.status, b.updated_at], { object: 'booking', ...view }, { booking_id: b.id });
}
