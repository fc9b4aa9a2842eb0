/**
 * The gateway's ports and its public request/result shapes. The core never imports AWS or HTTP: the
 * adapters sit behind Upstream (the provider), ResponseSink (the client), CatalogSource and RateLimiter.
 */
import { DEFAULT_STARTUP_MAX_IN_FLIGHT } from '../concurrency.js';
import { MAX_ATTEMPTS_PER_REQUEST } from '../routing.js';
import type { ApiKeyRecord } from '../store.js';
import type { Outcome, UsageRecord } from '../usage.js';
import type { GatewayCall } from './call.js';
import type { RoutingPreferences } from './preferences.js';

// ---------- the provider side ----------

export interface UpstreamRequest {
  /** The endpoint's base URL (…/v1). */
  base_url: string;
  path: '/chat/completions' | '/completions' | '/embeddings';
  body: string;
  headers: Record<string, string>;
  signal: AbortSignal;
  /** Until the response headers. */
  headers_timeout_ms: number;
}

export type UpstreamOpen =
  | { ok: true; status: number; headers: Record<string, string>; body: AsyncIterable<Uint8Array> }
  | { ok: false; failure: 'timeout' | 'connection' | 'aborted'; message: string };

export interface Upstream {
  open(req: UpstreamRequest): Promise<UpstreamOpen>;
}

/** Mints the relay token each forwarded request carries (SPEC §6). */
export interface RelayTokens {
  token(providerId: string, requestId: string): Promise<string>;
}

// ---------- the client side ----------

/**
 * Where the reply goes. Exactly one of reply() or open() is called, first.
 * write() resolves false when the client has gone; `signal` aborts then too.
 */
export interface ResponseSink {
  readonly signal: AbortSignal;
  reply(status: number, headers: Record<string, string>, body: string): void;
  open(status: number, headers: Record<string, string>): void;
  write(chunk: string): Promise<boolean>;
  end(): void;
  /** Resolves once the reply's last byte has been handed on (or the client has gone): after-reply work waits for it. */
  readonly finished?: Promise<void>;
}

export interface GatewayConfig {
  /** Until a provider's response headers (and for streams, its first event). */
  first_byte_timeout_ms: number;
  /** Longest silence between two stream events. */
  idle_timeout_ms: number;
  max_attempts: number;
  /** SLA samples buffered before they are written (sla-buffer.ts); 1 writes after every reply. */
  sla_flush_samples: number;
  /** Requests one startup may have in flight at once, over all its keys (concurrency.ts). */
  startup_max_in_flight: number;
}

export const DEFAULT_GATEWAY_CONFIG: GatewayConfig = {
  first_byte_timeout_ms: 30_000, idle_timeout_ms: 60_000, max_attempts: MAX_ATTEMPTS_PER_REQUEST, sla_flush_samples: 32, startup_max_in_flight: DEFAULT_STARTUP_MAX_IN_FLIGHT,
};

export interface GatewayRequest {
  call: GatewayCall;
  startup_id: string;
  key: ApiKeyRecord;
  request_id: string;
  /** Idempotency-Key header, else one derived from the request id: the hold derives from it. */
  idempotency_key: string;
  /** The caller sent the Idempotency-Key (a replay must be told apart); false or absent: derived, unique. */
  caller_idempotency_key?: boolean;
  request_hash: string;
  /**
   * The request's own routing preferences (`provider`, `models`; preferences.ts), as it sent them: merged with
   * its key's defaults field by field in admission. Absent: the key's, else the default ranking.
   */
  routing?: RoutingPreferences;
  /** Wall-clock deadline (ms since epoch) after which nothing new is started: the function's own timeout minus room to settle. */
  deadline_ms: number;
}

/** One provider tried: its endpoint and how it went ('ok', 'circuit_open', 'status_502', 'timeout', …). */
export interface AttemptRecord {
  endpoint_id: string;
  result: string;
}

export interface GatewayResult {
  status: number;
  outcome: Outcome | 'refused';
  code: string | null;
  record: UsageRecord | null;
  settled: boolean;
  attempts: AttemptRecord[];
}

export type GatewayLog = (level: 'info' | 'warn' | 'error', message: string, data: Record<string, unknown>) => void;

/**
 * Two clocks, as today: `elapsedMs` is the machine's wall clock (Date.now), which the caller's deadline,
 * the timings and the circuit breakers use; `now` is business time (clock.ts, COMPUX_NOW-shiftable), which
 * the records, the SLA samples and the rate windows carry.
 */
export interface GatewayClock {
  elapsedMs(): number;
  now(): Date;
}
