/**
 * Outbound webhooks (SPEC §12): endpoints, emission, dispatch, delivery attempts and redelivery, over two
 * ports (storage and the delivery queue) and a sender. Expected failures are result codes; only broken
 * infrastructure throws.
 *
 * Emission never waits on a receiver: it writes the event (marked undispatched, with one pending delivery per
 * subscribed endpoint), enqueues one job per delivery, then clears the mark. A crash or a failed enqueue in
 * between leaves the mark, and the sweeper dispatches it later; the event's id is derived from what happened,
 * so a second emission of the same happening finds the first and only completes its dispatch.
 */
import { randomBytes } from 'node:crypto';
import { signPayload, SIGNATURE_HEADER } from '../../../provider-kit/src/signature.js';
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER } from '../../../provider-kit/src/webhook.js';
import type { Page } from '../store.js';
import { rollSecrets, validSecrets, type RollSecretCode, type RollSecretResult, type SigningSecrets } from '../signing-secrets.js';
import { DEFAULT_BACKOFF, type BackoffSchedule } from './backoff.js';
import { afterAttempt, delayUntilS, judgeJob, pendingDelivery, type AttemptOutcome, type DeliveryJob, type DeliveryState } from './delivery.js';
import { MAX_ENDPOINTS_PER_TENANT, newEndpoint, type EndpointInputCode, type WebhookEndpoint } from './endpoints.js';
import { eventBody, newEvent, subscribes, type EventTenant, type EventType, type WebhookEvent } from './events.js';
import { checkWebhookUrl, type LookupAll, type UrlCode, type UrlPolicy } from './url.js';

export { EVENT_ID_HEADER, EVENT_TYPE_HEADER };
/** A receiver gets this long to answer; a slower one is a failed attempt, retried later. */
export const DELIVERY_TIMEOUT_MS = 10_000;

export interface StoredEvent extends WebhookEvent {
  /** By endpoint id: one per endpoint subscribed when the event was emitted (at most MAX_ENDPOINTS_PER_TENANT). */
  deliveries: Record<string, DeliveryState>;
  /**
   * Set while some delivery's next job is written but not known to be queued (the sweeper's work); cleared only
   * by the writer that set this token, so one writer's clear never hides another's unfinished dispatch.
   */
  dispatch_token: string | null;
}

export interface WebhookStore {
  /** Create-only, refused at `max` live endpoints for the tenant. */
  createEndpoint(e: WebhookEndpoint, max: number): Promise<{ ok: true } | { ok: false; code: 'too_many_endpoints' }>;
  listEndpoints(tenantId: string): Promise<WebhookEndpoint[]>;
  getEndpoint(tenantId: string, id: string): Promise<WebhookEndpoint | null>;
  /**
   * Replaces a live endpoint's secrets with what `decide` makes of the stored ones, written only over what it read (a
   * concurrent roll is read and decided again, a few times; still losing, rotation_in_progress); not_found when the
   * tenant has no such live endpoint.
   */
  updateSecrets(tenantId: string, id: string, decide: (cur: SigningSecrets) => RollSecretResult): Promise<RollEndpointResult>;
  /** Null when the tenant has no such live endpoint. */
  deleteEndpoint(tenantId: string, id: string, at: string): Promise<WebhookEndpoint | null>;
  /** Create-only by event id: 'exists' returns what is stored. */
  putEvent(e: StoredEvent): Promise<{ created: true } | { created: false; existing: StoredEvent }>;
  getEvent(tenantId: string, id: string): Promise<StoredEvent | null>;
  listEvents(tenantId: string, limit: number, cursor?: string): Promise<Page<StoredEvent>>;
  /** Clears the undispatched mark if it still carries `token`. */
  markDispatched(e: StoredEvent, token: string): Promise<void>;
  /** Undispatched events written before `beforeIso`, oldest first. */
  undispatched(beforeIso: string, limit: number): Promise<StoredEvent[]>;
  /**
   * Saves one delivery's state if it is still at `expect` (same round, that many attempts), and with a token marks
   * the event undispatched in the same write; false when another attempt got there first.
   */
  saveDelivery(e: StoredEvent, d: DeliveryState, expect: { round: number; attempts: number }, token: string | null): Promise<boolean>;
  /** Replaces every delivery (a redelivery round) and marks the event undispatched with `token`. */
  startRound(e: StoredEvent, deliveries: Record<string, DeliveryState>, token: string): Promise<StoredEvent>;
}

export interface DeliveryQueue {
  enqueue(jobs: readonly DeliveryJob[], delay_s: number): Promise<void>;
}

export interface WebhookSender {
  post(url: string, body: string, headers: Record<string, string>, timeout_ms: number): Promise<AttemptOutcome>;
}

export interface WebhookConfig {
  policy: UrlPolicy;
  lookup: LookupAll;
  backoff: BackoffSchedule;
  now: () => number;
  /** How long an undispatched event is left to the writer before the sweeper takes it (tests shorten it). */
  sweep_grace_ms: number;
  log?: (level: 'info' | 'warn' | 'error', message: string, data: Record<string, unknown>) => void;
}

export type CreateEndpointResult = { ok: true; endpoint: WebhookEndpoint } | { ok: false; code: UrlCode | EndpointInputCode | 'too_many_endpoints' };
export type RollEndpointResult = { ok: true; endpoint: WebhookEndpoint } | { ok: false; code: RollSecretCode | 'not_found' };
export type JobResult = 'dropped' | 'waited' | 'succeeded' | 'retrying' | 'failed';

const newToken = () => randomBytes(8).toString('hex');

/** How long an undispatched event is left to the request path that wrote it before the sweeper takes it. */
export const SWEEP_GRACE_MS = 30_000;
const SWEEP_BATCH = 100;

export class Webhooks {
  private readonly config: WebhookConfig;
  constructor(
    private readonly store: WebhookStore,
    private readonly queue: DeliveryQueue,
    private readonly sender: WebhookSender,
    config: Partial<WebhookConfig> & Pick<WebhookConfig, 'policy' | 'lookup'>,
  ) {
    this.config = { backoff: DEFAULT_BACKOFF, now: Date.now, sweep_grace_ms: SWEEP_GRACE_MS, ...config };
  }

  private iso(): string {
    return new Date(this.config.now()).toISOString();
  }

  async createEndpoint(tenant: EventTenant, url: string, events: readonly string[]): Promise<CreateEndpointResult> {
    const checked = await checkWebhookUrl(url, this.config.policy, this.config.lookup);
    if (!checked.ok) return checked;
    const made = newEndpoint(tenant, checked.url.toString(), events, this.iso());
    if (!made.ok) return made;
    const stored = await this.store.createEndpoint(made.endpoint, MAX_ENDPOINTS_PER_TENANT);
    return stored.ok ? made : stored;
  }

  listEndpoints(tenantId: string) {
    return this.store.listEndpoints(tenantId);
  }

  deleteEndpoint(tenantId: string, id: string) {
    return this.store.deleteEndpoint(tenantId, id, this.iso());
  }

  /** A new signing secret for the endpoint; the current one keeps signing too for `expiresInS` (signing-secrets.ts). */
  rollEndpointSecret(tenantId: string, id: string, expiresInS: number): Promise<RollEndpointResult> {
    const at = this.iso();
    return this.store.updateSecrets(tenantId, id, (cur) => rollSecrets(cur, at, expiresInS));
  }

  getEvent(tenantId: string, id: string) {
    return this.store.getEvent(tenantId, id);
  }

  listEvents(tenantId: string, limit: number, cursor?: string) {
    return this.store.listEvents(tenantId, limit, cursor);
  }

  /** Records an event for `tenant` and queues its deliveries; the same facts give the same event, once. */
  async emit(type: EventType, tenant: EventTenant, facts: readonly string[], data: Record<string, unknown>): Promise<{ ok: true; event: StoredEvent } | { ok: false; code: 'unknown_event_type' | 'data_too_large' }> {
    const at = this.iso();
    const made = newEvent(type, tenant, facts, data, at);
    if (!made.ok) return made;
    const endpoints = (await this.store.listEndpoints(tenant.id)).filter((e) => subscribes(e.events, type));
    const deliveries = Object.fromEntries(endpoints.map((e) => [e.id, pendingDelivery(e.id, 1, at)]));
    const stored: StoredEvent = { ...made.event, deliveries, dispatch_token: endpoints.length > 0 ? newToken() : null };
    const put = await this.store.putEvent(stored);
    const event = put.created ? stored : put.existing;
    if (event.dispatch_token) await this.dispatch(event);
    return { ok: true, event };
  }

  /** Queues a job for every pending delivery, then clears the mark. A failure leaves the mark for the sweeper. */
  async dispatch(e: StoredEvent): Promise<boolean> {
    const now = this.config.now();
    const jobs = Object.values(e.deliveries)
      .filter((d) => d.status === 'pending')
      .map((d): DeliveryJob => ({ tenant_id: e.tenant.id, event_id: e.id, endpoint_id: d.endpoint_id, round: d.round, attempt: d.attempts + 1, not_before: d.next_attempt_at ?? new Date(now).toISOString() }));
    try {
      // Each job waits for its own time (a redispatch by the sweeper may find some mid-backoff).
      for (const j of jobs) await this.queue.enqueue([j], delayUntilS(j.not_before, now));
      if (e.dispatch_token) await this.store.markDispatched(e, e.dispatch_token);
      return true;
    } catch (err) {
      this.config.log?.('warn', 'webhook dispatch failed; the sweeper will retry', { event_id: e.id, error: (err as Error).message });
      return false;
    }
  }

  /** The schedule: dispatches events left undispatched (a crash between write and enqueue). */
  async sweep(): Promise<{ dispatched: number; failed: number }> {
    const before = new Date(this.config.now() - this.config.sweep_grace_ms).toISOString();
    let dispatched = 0, failed = 0;
    for (const e of await this.store.undispatched(before, SWEEP_BATCH)) {
      if (await this.dispatch(e)) dispatched++;
      else failed++;
    }
    return { dispatched, failed };
  }

  /** A new round of attempts to every endpoint of the event that still exists (Stripe's "resend"). */
  async redeliver(tenantId: string, id: string): Promise<{ ok: true; event: StoredEvent } | { ok: false; code: 'not_found' | 'no_endpoints' }> {
    const e = await this.store.getEvent(tenantId, id);
    if (!e) return { ok: false, code: 'not_found' };
    const live = new Set((await this.store.listEndpoints(tenantId)).map((x) => x.id));
    const at = this.iso();
    const deliveries = Object.fromEntries(
      Object.values(e.deliveries).filter((d) => live.has(d.endpoint_id)).map((d) => [d.endpoint_id, pendingDelivery(d.endpoint_id, d.round + 1, at)]),
    );
    if (Object.keys(deliveries).length === 0) return { ok: false, code: 'no_endpoints' };
    const next = await this.store.startRound(e, deliveries, newToken());
    await this.dispatch(next);
    return { ok: true, event: next };
  }

  /** One queued job: an attempt (signed POST), a hop while its time has not come, or nothing (stale). */
  async handle(job: DeliveryJob): Promise<JobResult> {
    const e = await this.store.getEvent(job.tenant_id, job.event_id);
    const d = e?.deliveries[job.endpoint_id];
    const verdict = judgeJob(d, job, this.config.now());
    if (verdict === 'drop' || !e || !d) return 'dropped';
    if (verdict === 'wait') {
      await this.queue.enqueue([job], delayUntilS(job.not_before, this.config.now()));
      return 'waited';
    }
    const endpoint = await this.store.getEndpoint(job.tenant_id, job.endpoint_id);
    const outcome: AttemptOutcome = endpoint ? await this.attempt(e, endpoint) : { status_code: null, error: 'endpoint_deleted' };
    const nowMs = this.config.now();
    let next = afterAttempt(d, job, outcome, nowMs, this.config.backoff);
    if (!endpoint) next = { ...next, status: 'failed', next_attempt_at: null };
    // Saved first, conditioned on this attempt being the one expected: of two copies of a job only one goes on,
    // so a retry chain never doubles. A retry's state carries the undispatched mark until its job is queued, so a
    // crash between the save and the enqueue is the sweeper's to finish.
    const token = next.status === 'pending' ? newToken() : null;
    if (!(await this.store.saveDelivery(e, next, { round: d.round, attempts: job.attempt - 1 }, token))) return 'dropped';
    if (token) {
      await this.queue.enqueue([{ ...job, attempt: job.attempt + 1, not_before: next.next_attempt_at! }], delayUntilS(next.next_attempt_at!, nowMs));
      await this.store.markDispatched(e, token);
    }
    return next.status === 'succeeded' ? 'succeeded' : next.status === 'failed' ? 'failed' : 'retrying';
  }

  private async attempt(e: StoredEvent, endpoint: WebhookEndpoint): Promise<AttemptOutcome> {
    const body = eventBody(e);
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'CompuX-Webhooks/1',
      [EVENT_ID_HEADER]: e.id,
      [EVENT_TYPE_HEADER]: e.type,
      // One v1 entry per valid secret: during a roll's overlap a receiver on the old or the new secret verifies.
      [SIGNATURE_HEADER]: signPayload(validSecrets(endpoint, this.config.now()), Math.floor(this.config.now() / 1000), body),
    };
    try {
      return await this.sender.post(endpoint.url, body, headers, DELIVERY_TIMEOUT_MS);
    } catch (err) {
      return { status_code: null, error: (err as Error).message.slice(0, 200) };
    }
  }
}
