/**
 * What handlers need, built once per Lambda container from the environment. The DynamoDB endpoint
 * comes from the SDK's own AWS_ENDPOINT_URL_DYNAMODB, so the local runtime and AWS run this same code.
 */
import { BookingLifecycle, Bookings, CATALOG_CACHE_TTL_MS, CachedCatalog, Credits, nowMs, DEFAULT_LEASE_RESERVE_S, DEFAULT_LEASE_SPEND_S, DEFAULT_HOLDER_CONFIG, Gateway, KEY_CACHE_TTL_MS, LEASE_SWEEP_GRACE_S, LeaseCloser, LeaseHolder, Lending, MAX_CATALOG_CACHE_TTL_MS, MAX_KEY_CACHE_TTL_MS, MAX_LEASE_RESERVE_S, MAX_LEASE_SPEND_S, RelaySigner, Tenants, ttlFromEnv, type LeaseTiming } from '../../packages/core/src/index.js';
import { DynamoBookings, DynamoCatalog, DynamoCreditStore, DynamoProviders, DynamoRateLimiter, DynamoDashboard, DynamoRelayKeys, DynamoResponseStore, DynamoSettlement, DynamoSla, DynamoTickets, documentClient, routingEpoch } from '../../packages/core/src/adapters/dynamodb/index.js';
import { HttpUpstream } from '../../packages/core/src/adapters/http/upstream.js';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SFNClient } from '@aws-sdk/client-sfn';
import { guardClient } from '../../packages/core/src/adapters/clients.js';
import { logger, tracer } from './powertools.js';
import { holdTtlS, startupMaxInFlight } from './settings.js';
import { relayKeyWrapper } from './kek.js';

export interface Deps {
  doc: DynamoDBDocumentClient;
  table: string;
  store: DynamoCreditStore;
  credits: Credits;
  lending: Lending;
  tenants: Tenants;
  /** The catalog on the table, read fresh: for writers and background work. */
  catalog: DynamoCatalog;
  /** The request path's snapshot of it (routing, /v1/models), at most COMPUX_CATALOG_CACHE_TTL_MS old. */
  routingCatalog: CachedCatalog;
  gateway: Gateway;
  limiter: DynamoRateLimiter;
  /** Concurrency tickets (packages/core/src/concurrency.ts): requests in flight, open event streams. */
  tickets: DynamoTickets;
  providers: DynamoProviders;
  upstream: HttpUpstream;
  relayKeys: DynamoRelayKeys;
  relay: RelaySigner;
  sla: DynamoSla;
  settlement: DynamoSettlement;
  dashboard: DynamoDashboard;
  /** This container's lease holder; undefined when leases are off (COMPUX_LEASES=off). */
  holder: LeaseHolder | undefined;
  leases: LeaseCloser;
  leaseTiming: LeaseTiming;
  /** Capacity bookings (SPEC §11): quotes, bookings, and the hour items they take. */
  bookings: Bookings;
  /** A booking's life after acceptance: start, hourly billing, completion, cancellation during, interruption. */
  lifecycle: BookingLifecycle;
  bookingStore: DynamoBookings;
  /** Stored Responses API responses (packages/core/src/responses/store.ts). */
  responses: DynamoResponseStore;
}

/** A positive integer from the environment, or the default. */
function envMs(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isSafeInteger(v) && v > 0 ? v : fallback;
}

/** A whole number of seconds from the environment within [1, max], or the default. */
function envSeconds(name: string, fallback: number, max: number): number {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v >= 1 && v <= max ? v : fallback;
}

/**
 * Credit leases (SPEC §2): on unless COMPUX_LEASES=off. A lease reserves for COMPUX_LEASE_RESERVE_S and may
 * be spent for COMPUX_LEASE_SPEND_S more; the sweeper closes it COMPUX_LEASE_SWEEP_GRACE_S after that.
 */
export function leaseTiming(): LeaseTiming {
  return { reserve_s: envSeconds('COMPUX_LEASE_RESERVE_S', DEFAULT_LEASE_RESERVE_S, MAX_LEASE_RESERVE_S), spend_s: envSeconds('COMPUX_LEASE_SPEND_S', DEFAULT_LEASE_SPEND_S, MAX_LEASE_SPEND_S) };
}
export const leasesOn = (): boolean => process.env.COMPUX_LEASES !== 'off';

let cached: Deps | undefined;

export function deps(): Deps {
  if (cached) return cached;
  const table = process.env.TABLE_NAME;
  if (!table) throw new Error('TABLE_NAME is not set');
  const doc = documentClient();
  tracer.captureAWSv3Client(doc);
  const store = new DynamoCreditStore(doc, table);
  // A hold's expiry: COMPUX_HOLD_TTL_S, bounded (an error out of bounds, never a quiet default).
  const credits = new Credits(store, undefined, { hold_ttl_s: holdTtlS() });
  const catalog = new DynamoCatalog(doc, table);
  const routingCatalog = new CachedCatalog(catalog, { ttlMs: ttlFromEnv(process.env.COMPUX_CATALOG_CACHE_TTL_MS, CATALOG_CACHE_TTL_MS, MAX_CATALOG_CACHE_TTL_MS), epoch: routingEpoch });
  const limiter = new DynamoRateLimiter(doc, table);
  const upstream = new HttpUpstream();
  // The private keys are sealed at rest; only functions granted the key-encryption key open them (functions/lib/kek.ts).
  // A set still holding keys in clear is sealed back only when asked (a one-time migration), else refused.
  const relayKeys = new DynamoRelayKeys(doc, table, relayKeyWrapper(), { sealPlainKeys: () => process.env.COMPUX_RELAY_SEAL_PLAIN_KEYS === '1' });
  const relay = new RelaySigner(relayKeys);
  const sla = new DynamoSla(doc, table);
  const tickets = new DynamoTickets(doc, table);
  const log = (level: 'info' | 'warn' | 'error', message: string, data: Record<string, unknown>) => logger[level](message, data);
  const timing = leaseTiming();
  // AWS's Lambda runtime names the function: there a container serves one request at a time. Anywhere else (the
  // local runtime) one process serves every request in turn, and its flushes batch across them.
  const holder = leasesOn() ? new LeaseHolder(store, { ...DEFAULT_HOLDER_CONFIG, timing, flush_linger_idle: !process.env.AWS_LAMBDA_FUNCTION_NAME }, undefined, log) : undefined;
  const gateway = new Gateway(
    { credits, catalog: routingCatalog, limiter, upstream, relay, sla, log, tickets, ...(holder ? { holder, idempotency: store } : {}) },
    {
      first_byte_timeout_ms: envMs('COMPUX_UPSTREAM_FIRST_BYTE_TIMEOUT_MS', 30_000), idle_timeout_ms: envMs('COMPUX_UPSTREAM_IDLE_TIMEOUT_MS', 60_000), sla_flush_samples: envMs('COMPUX_SLA_FLUSH_SAMPLES', 32),
      startup_max_in_flight: startupMaxInFlight(),
    },
  );
  const tenants = new Tenants(store, process.env.COMPUX_ADMIN_KEY_SHA256, undefined, { keyCacheTtlMs: ttlFromEnv(process.env.COMPUX_KEY_CACHE_TTL_MS, KEY_CACHE_TTL_MS, MAX_KEY_CACHE_TTL_MS) });
  const bookingStore = new DynamoBookings(doc, table);
  const bookings = new Bookings(bookingStore, bookingStore, catalog, credits, nowMs);
  const lifecycle = new BookingLifecycle(bookingStore, bookings, credits, nowMs);
  cached = { bookings, lifecycle, bookingStore, doc, table, store, credits, lending: new Lending(store), tenants, catalog, routingCatalog, gateway, limiter, tickets, providers: new DynamoProviders(doc, table), upstream, relayKeys, relay, sla, responses: new DynamoResponseStore(doc, table), settlement: new DynamoSettlement(doc, table, store.ledger), dashboard: new DynamoDashboard(doc, table), holder, leaseTiming: timing,
    leases: new LeaseCloser(store, undefined, envSeconds('COMPUX_LEASE_SWEEP_GRACE_S', LEASE_SWEEP_GRACE_S, 3_600)) };
  return cached;
}

/** Tests and the bench wire their own store (e.g. with fault-injecting middleware). */
export function setDeps(d: Deps | undefined): void {
  cached = d;
}

let sqs: SQSClient | undefined;
let sfn: SFNClient | undefined;

/** The SQS client of this container (created on first use), with the call guard every handler client carries. */
export function sqsClient(): SQSClient {
  return (sqs ??= guardClient(new SQSClient({}), 'sqs'));
}

/** The Step Functions client of this container (created on first use), guarded likewise. */
export function sfnClient(): SFNClient {
  return (sfn ??= guardClient(new SFNClient({}), 'states'));
}
