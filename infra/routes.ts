/**
 * THE route table. stacks/ApiFunctions.ts deploys one Lambda per row (granted only the table access listed),
 * stacks/Api.ts one REST API method per row in front of it,
 * local/http.ts serves the same rows through the same handlers, and functions/openapi.ts documents
 * them from the same zod schemas the handlers validate with.
 *
 * handler: "<file without extension>.<export>", relative to the repo root (SST v2's own format).
 */
import type { z } from 'zod';
import type { RelayKeyUse, TableAccess } from './access.js';
import { CapacityReport } from '../events/capacity.js';
import * as S from '../functions/lib/schemas.js';
import * as O from '../functions/lib/openai.js';
import * as R from '../functions/lib/responses-schemas.js';
import * as P from '../functions/lib/provider-schemas.js';
import * as PR from '../functions/lib/pricing-schemas.js';
import * as D from '../functions/lib/dashboard-schemas.js';
import * as B from '../functions/lib/booking-schemas.js';
import * as W from '../functions/lib/webhook-schemas.js';
import * as C from '../functions/lib/covenant-schemas.js';
import * as L from '../functions/lib/loan-schemas.js';
import * as RQ from '../functions/lib/request-schemas.js';

export type Role = 'operator' | 'lender' | 'startup' | 'provider' | 'public';
export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteDef {
  method: Method;
  /** API Gateway path syntax: /v1/facilities/{id} */
  path: string;
  handler: string;
  /** Who may call it; 'public' needs no key. */
  auth: readonly Role[];
  access: readonly TableAccess[];
  summary: string;
  /** Served as a response stream (deployed: API Gateway REST response streaming, see stacks/Api.ts). */
  streaming?: boolean;
  /**
   * Browser callers from other origins (not the dashboards, which share the API's origin), under infra/cors.ts's
   * policy: stacks/Api.ts adds a CORS preflight (OPTIONS) on this path for this method, local/http.ts answers the
   * same preflight, and the handler's replies carry Access-Control-Allow-Origin and -Expose-Headers
   * (functions/lib/reply.ts). Off by default: each preflight costs a stack resource.
   */
  cors?: boolean;
  /**
   * An OpenAI-compatible route: every error it answers has OpenAI's types, codes and `param` paths
   * (functions/lib/openai-errors.ts), the key refusal included, so a client written for OpenAI reads them unchanged.
   * Other routes keep CompuX's management error types.
   */
  openai?: boolean;
  /** Money-moving: honours Idempotency-Key. */
  idempotent?: boolean;
  /**
   * The Lambda's timeout. Buffered rows: at most 25 s (default 25), under API Gateway's 29 s integration
   * timeout; streaming rows: the integration's timeout too, at most 15 min. Checked by `routeTimeouts` (both API stacks).
   */
  timeoutSeconds?: number;
  /**
   * Queues (infra/queues.ts names) this route sends to: stacks/ApiFunctions.ts grants it sqs:SendMessage on exactly
   * those queues and sets their QueueDef.urlEnv. Optional, additive (e.g. the capacity webhook).
   */
  sends?: readonly string[];
  /**
   * Workflows (infra/workflows.ts names) this route starts: stacks/ApiFunctions.ts grants it states:StartExecution
   * on exactly those state machines and sets their WorkflowDef.arnEnv. Optional, additive.
   */
  starts?: readonly string[];
  /**
   * The relay key-encryption key (infra/access.ts RelayKeyUse): 'sign' on the routes that sign relay tokens (the
   * inference routes), 'rotate' on the rotation. stacks/ApiFunctions.ts grants the KMS actions and sets its key id.
   */
  relayKey?: RelayKeyUse;
  body?: z.ZodType;
  /** The handler reads the body itself, as received (a signed webhook); `body` then only documents it. */
  rawBody?: boolean;
  query?: z.ZodType;
  reply?: z.ZodType;
  replyStatus?: number;
}

/** API Gateway's integration timeout for a buffered (non-streaming) REST route, without a quota increase. */
export const BUFFERED_INTEGRATION_TIMEOUT_SECONDS = 29;
/**
 * A buffered route's Lambda timeout: the default and the maximum of its `timeoutSeconds`. The function times out
 * before the integration does, with room for its error reply (`routeTimeouts` checks every row).
 */
export const BUFFERED_FUNCTION_TIMEOUT_SECONDS = 25;
/** API Gateway's cap for a streamed REST integration. */
export const STREAMING_TIMEOUT_SECONDS = 15 * 60;

/**
 * A route's Lambda timeout and its integration timeout, in seconds. Buffered: the integration waits API
 * Gateway's 29 s, the Lambda at most 25 s (default 25). Streamed: both are the row's timeoutSeconds (≤ 15 min).
 */
export function routeTimeouts(row: Pick<RouteDef, 'method' | 'path' | 'streaming' | 'timeoutSeconds'>): { functionSeconds: number; integrationSeconds: number } {
  if (row.streaming) {
    const timeout = row.timeoutSeconds ?? BUFFERED_INTEGRATION_TIMEOUT_SECONDS;
    if (timeout > STREAMING_TIMEOUT_SECONDS) {
      throw new Error(`${routeKey(row)}: timeoutSeconds ${timeout} exceeds API Gateway's ${STREAMING_TIMEOUT_SECONDS} s for streamed integrations`);
    }
    return { functionSeconds: timeout, integrationSeconds: timeout };
  }
  const timeout = row.timeoutSeconds ?? BUFFERED_FUNCTION_TIMEOUT_SECONDS;
  if (timeout > BUFFERED_FUNCTION_TIMEOUT_SECONDS) {
    throw new Error(
      `${routeKey(row)}: timeoutSeconds ${timeout} exceeds ${BUFFERED_FUNCTION_TIMEOUT_SECONDS} s: a buffered route's Lambda must time out ` +
        `before API Gateway's ${BUFFERED_INTEGRATION_TIMEOUT_SECONDS} s integration timeout`,
    );
  }
  return { functionSeconds: timeout, integrationSeconds: BUFFERED_INTEGRATION_TIMEOUT_SECONDS };
}

const LENDER_OR_OPERATOR = ['lender', 'operator'] as const;
/** Tenants that receive webhooks (SPEC §12): every role but the operator, who holds no tenant. */
const TENANTS = ['startup', 'lender', 'provider'] as const;
/** Routes that emit webhook events: they write the event and queue its deliveries (functions/lib/webhooks.ts). */
const EMITS = ['webhook-deliveries'] as const;
/** What a paid inference route touches: the key (read), facilities and catalog (query), the key's rate window (write), hold and settle (transact). */
const INFERENCE_ACCESS = ['read', 'query', 'write', 'transact'] as const;
/** Streams may run long; API Gateway REST streaming allows up to 15 minutes. The hold (600 s) outlives this. */
const INFERENCE_TIMEOUT_S = 300;
/** What giving a booking back touches: the booking (read, write), its hours and its hold (transact, read). */
const BOOKING_RELEASE_ACCESS = ['read', 'query', 'write', 'transact'] as const;

export const ROUTES: readonly RouteDef[] = [
  {
    method: 'GET', path: '/openapi.json', handler: 'functions/openapi.handler', auth: ['public'], access: [],
    summary: 'OpenAPI 3.1 description of every management route',
  },
  {
    method: 'POST', path: '/v1/admin/startups', handler: 'functions/admin.createStartup', auth: ['operator'],
    access: ['transact'], summary: 'Create a startup', body: S.CreateStartupBody, reply: S.CreateStartupReply, replyStatus: 201, idempotent: true,
  },
  {
    method: 'POST', path: '/v1/admin/startups/{id}/keys', handler: 'functions/admin.createStartupKey', auth: ['operator'],
    access: ['read', 'query', 'transact'], summary: 'Create an API key for a startup (shown once)', body: S.CreateKeyBody, reply: S.KeyReply, replyStatus: 201, idempotent: true,
  },
  {
    method: 'POST', path: '/v1/admin/lenders', handler: 'functions/admin.createLender', auth: ['operator'],
    access: ['transact'], summary: 'Create a lender and its API key (shown once)', body: S.CreateLenderBody, reply: S.CreateLenderReply, replyStatus: 201, idempotent: true,
  },
  {
    method: 'POST', path: '/v1/keys', handler: 'functions/keys.create', auth: ['startup'],
    access: ['read', 'query', 'transact'], summary: 'Create one of your keys (shown once)', body: S.CreateKeyBody, reply: S.KeyReply, replyStatus: 201, idempotent: true,
  },
  {
    method: 'GET', path: '/v1/keys', handler: 'functions/keys.list', auth: ['startup'],
    access: ['read', 'query'], summary: 'List your keys (never the secrets)', query: S.ListQuery, reply: S.Page(S.KeyReply),
  },
  {
    method: 'DELETE', path: '/v1/keys/{id}', handler: 'functions/keys.revoke', auth: ['startup'],
    access: ['read', 'query', 'transact'], summary: 'Revoke one of your keys: it stops working at once', reply: S.KeyReply,
  },
  {
    method: 'GET', path: '/v1/credits', handler: 'functions/credits.get', auth: ['startup'],
    access: ['read', 'query'], summary: 'Your credits: available, reserved, frozen, granted and spent, per facility', reply: S.CreditsReply,
  },
  {
    method: 'GET', path: '/v1/credits/alerts', handler: 'functions/credit-alerts.get', auth: ['startup'],
    access: ['read'], summary: 'Your credits.low thresholds per facility, with their state at the last evaluation', reply: C.CreditAlertsReply,
  },
  {
    method: 'PUT', path: '/v1/credits/alerts', handler: 'functions/credit-alerts.put', auth: ['startup'],
    access: ['read', 'query', 'write'], summary: 'Set credits.low thresholds on your facilities (an event when available credit falls below one), replacing the previous ones',
    body: C.SetCreditAlertsBody, reply: C.CreditAlertsReply,
  },
  {
    method: 'POST', path: '/v1/facilities', handler: 'functions/facilities.open', auth: LENDER_OR_OPERATOR,
    access: ['read', 'query', 'transact'], summary: 'Open a credit facility: grants floor(principal × multiplier) credits', body: S.OpenFacilityBody, reply: S.FacilityReply, replyStatus: 201, idempotent: true,
  },
  {
    method: 'GET', path: '/v1/facilities', handler: 'functions/facilities.list', auth: LENDER_OR_OPERATOR,
    access: ['read', 'query'], summary: "List the caller's facilities with visibility figures (an operator names lender_id)", query: S.FacilityListQuery, reply: S.Page(S.FacilityReply),
  },
  {
    method: 'GET', path: '/v1/facilities/{id}', handler: 'functions/facilities.get', auth: LENDER_OR_OPERATOR,
    access: ['read', 'query'], summary: "A facility's visibility figures", reply: S.FacilityReply,
  },
  {
    method: 'GET', path: '/v1/facilities/{id}/stream', handler: 'functions/facilities.stream', auth: LENDER_OR_OPERATOR,
    // Writes: the tenant's event-stream ticket (at most 10 open at once, packages/core/src/concurrency.ts).
    access: ['read', 'query', 'write', 'transact'], streaming: true, timeoutSeconds: 120,
    summary: "Server-sent events: the facility's visibility figures, pushed when they change (bounded to 60 s a connection)",
  },
  {
    method: 'POST', path: '/v1/facilities/{id}/freeze', handler: 'functions/facilities.freeze', auth: LENDER_OR_OPERATOR,
    access: ['read', 'query', 'transact'], sends: EMITS, summary: 'Freeze a facility: no new lease or reservation may draw on it; the reply bounds what leases may still spend; emits facility.frozen', body: S.FreezeBody, reply: S.FreezeReply, idempotent: true,
  },
  {
    method: 'POST', path: '/v1/facilities/{id}/unfreeze', handler: 'functions/facilities.unfreeze', auth: LENDER_OR_OPERATOR,
    access: ['read', 'query', 'transact'], sends: EMITS, summary: 'Unfreeze a facility; emits facility.unfrozen', reply: S.FacilityReply, idempotent: true,
  },
  {
    method: 'POST', path: '/v1/facilities/{id}/recover', handler: 'functions/facilities.recover', auth: LENDER_OR_OPERATOR,
    access: ['read', 'query', 'transact'], summary: "Recover a defaulted facility's unspent credits, valued at principal", reply: S.RecoveryReply, idempotent: true,
  },
  {
    method: 'GET', path: '/v1/facilities/{id}/covenants', handler: 'functions/covenants.get', auth: LENDER_OR_OPERATOR,
    access: ['read', 'query'], summary: "The facility's covenants and their state at the last evaluation", reply: C.CovenantsReply,
  },
  {
    method: 'GET', path: '/v1/facilities/{id}/statements/{period}', handler: 'functions/loans.statement', auth: LENDER_OR_OPERATOR,
    access: ['read', 'query'], reply: L.LoanStatementReply,
    summary: "The facility's loan statement for a UTC month: principal, the fees charged that month and owed to its end, credits spent and recovered",
  },
  {
    method: 'PUT', path: '/v1/facilities/{id}/covenants', handler: 'functions/covenants.put', auth: LENDER_OR_OPERATOR,
    access: ['read', 'query', 'write'], summary: "Set the facility's covenants (minimum runway, maximum 24 h spend, maximum burn ratio; each notify or freeze), replacing the previous set",
    body: C.SetCovenantsBody, reply: C.CovenantsReply,
  },
  {
    method: 'POST', path: '/v1/chat/completions', handler: 'functions/inference.chat', auth: ['startup'], access: INFERENCE_ACCESS, relayKey: 'sign',
    streaming: true, cors: true, openai: true, timeoutSeconds: INFERENCE_TIMEOUT_S, body: O.ChatBody,
    summary: "OpenAI chat completions (stream: true for server-sent events): held, routed, metered and billed to the caller's credits",
  },
  {
    method: 'POST', path: '/v1/completions', handler: 'functions/inference.completions', auth: ['startup'], access: INFERENCE_ACCESS, relayKey: 'sign',
    streaming: true, cors: true, openai: true, timeoutSeconds: INFERENCE_TIMEOUT_S, body: O.CompletionBody,
    summary: 'OpenAI (legacy) completions, streamed or not, billed like chat',
  },
  {
    method: 'POST', path: '/v1/embeddings', handler: 'functions/inference.embeddings', auth: ['startup'], access: INFERENCE_ACCESS, relayKey: 'sign',
    streaming: true, cors: true, openai: true, timeoutSeconds: 60, body: O.EmbeddingBody,
    summary: 'OpenAI embeddings, billed for their input tokens',
  },
  {
    // INFERENCE_ACCESS covers the stored responses too: the previous response's read (GetItem) and the store after the reply (PutItem).
    method: 'POST', path: '/v1/responses', handler: 'functions/inference.responses', auth: ['startup'], access: INFERENCE_ACCESS, relayKey: 'sign',
    streaming: true, cors: true, openai: true, timeoutSeconds: INFERENCE_TIMEOUT_S, body: R.ResponsesBody,
    summary: "OpenAI's Responses API (stream: true for its event stream), served as a chat completion: held, routed, metered and billed as chat; stored 30 days unless store: false",
  },
  {
    method: 'GET', path: '/v1/responses/{id}', handler: 'functions/responses.get', auth: ['startup'], access: ['read'], cors: true, openai: true,
    summary: 'A stored response (Responses API), for the startup that made it', reply: R.ResponseReply,
  },
  {
    // A delete leaves a tombstone (PutItem) until the item's TTL: no DeleteItem grant.
    method: 'DELETE', path: '/v1/responses/{id}', handler: 'functions/responses.remove', auth: ['startup'], access: ['read', 'write'], cors: true, openai: true,
    summary: 'Delete a stored response (Responses API)', reply: R.DeletedResponseReply,
  },
  {
    method: 'GET', path: '/v1/models', handler: 'functions/inference.listModels', auth: ['startup'], access: ['read', 'query'], cors: true, openai: true,
    summary: 'Models served by at least one live provider (OpenAI list shape)', reply: O.ModelList,
  },
  {
    method: 'GET', path: '/v1/models/{id+}', handler: 'functions/inference.getModel', auth: ['startup'], access: ['read', 'query'], cors: true, openai: true,
    summary: 'One model (ids may contain "/")', reply: O.ModelObject,
  },
  {
    method: 'GET', path: '/v1/usage', handler: 'functions/inference.usage', auth: ['startup'], access: ['read', 'query'],
    summary: 'Your usage and cost over [from, to] (whole UTC days), grouped by model, provider, day or key', query: O.UsageQuery, reply: O.UsageReply,
  },
  {
    method: 'GET', path: '/v1/requests/{id}', handler: 'functions/requests.get', auth: ['startup'], access: ['read'],
    summary: "One of your requests by its x-request-id: provider, model, tokens, GPU-seconds, cost, latency, time to first token, outcome", reply: RQ.RequestReply,
  },
  {
    method: 'POST', path: '/v1/providers', handler: 'functions/providers.apply', auth: ['public'], access: ['write', 'transact'],
    summary: 'Apply as a provider (rate limited per address): returns the provider key and webhook secret, once', body: P.ApplyProviderBody, reply: P.ApplyProviderReply, replyStatus: 201,
  },
  {
    method: 'POST', path: '/v1/admin/providers/{id}/review', handler: 'functions/providers.review', auth: ['operator'], access: ['read', 'transact'],
    summary: 'Approve or reject a provider application', body: P.ReviewBody, reply: P.ProviderReply,
  },
  {
    method: 'GET', path: '/v1/providers/{id}', handler: 'functions/providers.get', auth: ['provider', 'operator'], access: ['read'],
    summary: 'The provider: status and every onboarding step with its result', reply: P.ProviderReply,
  },
  {
    method: 'PUT', path: '/v1/providers/{id}/endpoints', handler: 'functions/providers.putEndpoints', auth: ['provider'], access: ['read', 'transact'],
    summary: 'Register endpoints (dedicated or shared, region, availability zone, accelerators)', body: P.EndpointsBody, reply: P.ProviderReply,
  },
  {
    method: 'PUT', path: '/v1/providers/{id}/models', handler: 'functions/providers.putModels', auth: ['provider'], access: ['read', 'transact'],
    summary: 'Sync the model catalog (model, architecture, context, accelerator, declared tokens per GPU-second)', body: P.ModelsBody, reply: P.ProviderReply,
  },
  {
    method: 'PUT', path: '/v1/providers/{id}/sla', handler: 'functions/providers.putSla', auth: ['provider'], access: ['read', 'transact'],
    summary: 'Choose the SLA tier (and the capacity report interval, at least 15 minutes)', body: P.SlaBody, reply: P.ProviderReply,
  },
  {
    method: 'POST', path: '/v1/providers/{id}/capacity', handler: 'functions/providers.capacity', auth: ['public'], access: ['read'], sends: ['capacity-webhooks'],
    rawBody: true, body: CapacityReport, replyStatus: 202,
    summary: 'Capacity webhook, signed: x-compux-signature: t=<unix>,v1=<HMAC-SHA256 hex of "t.body">; queued in order per provider',
  },
  {
    method: 'POST', path: '/v1/providers/{id}/webhook-secret/roll', handler: 'functions/providers.rollWebhookSecret', auth: ['provider'], access: ['read', 'write'],
    body: W.RollSecretBody, reply: P.WebhookSecretReply,
    summary: 'Roll your capacity-webhook secret: the new one is shown once; reports signed with the old one are accepted for expires_in_s more (default 1 h, at most 24 h), then refused',
  },
  {
    method: 'POST', path: '/v1/providers/{id}/validation', handler: 'functions/providers.startValidation', auth: ['provider', 'operator'], access: ['read', 'transact'],
    starts: ['provider-validation'], reply: P.ValidationReply, replyStatus: 202,
    summary: 'Start automated validation (relay handshake, reliability, throughput, SLA latency, pricing review, then live)',
  },
  {
    method: 'GET', path: '/v1/providers/{id}/sla', handler: 'functions/sla.get', auth: ['provider', 'operator'], access: ['read', 'query'],
    query: P.SlaQuery, reply: P.SlaReply,
    summary: 'SLA standing over the rolling 30 days (uptime, p95 time to first token, samples) and breach alerts, newest first',
  },
  {
    method: 'GET', path: '/v1/relay/keys', handler: 'functions/relay.jwks', auth: ['public'], access: ['read'], reply: P.RelayJwksReply,
    summary: "The marketplace's relay-token public keys (JWKS, Ed25519): providers verify forwarded requests with them",
  },
  {
    method: 'POST', path: '/v1/admin/relay-keys/rotate', handler: 'functions/relay.rotate', auth: ['operator'], access: ['read', 'write'], relayKey: 'rotate', reply: P.RelayRotateReply,
    summary: 'Rotate the relay-token signing key: the new key signs, the old one stays valid for 15 minutes',
  },
  {
    method: 'PUT', path: '/v1/admin/spot-prices/{accelerator}', handler: 'functions/pricing.setSpot', auth: ['operator'], access: ['read', 'query', 'write'],
    body: PR.SpotBody, reply: PR.SpotReply,
    summary: 'Set the spot index (USD micros per GPU-hour) for H100, A100 or H200 from now on; the history is kept',
  },
  {
    method: 'GET', path: '/v1/spot-prices', handler: 'functions/pricing.listSpot', auth: ['operator', 'lender', 'startup', 'provider'], access: ['read', 'query'], reply: PR.SpotList,
    summary: 'The spot price in force per accelerator',
  },
  {
    method: 'GET', path: '/v1/admin/spot-prices/{accelerator}/history', handler: 'functions/pricing.spotHistory', auth: ['operator'], access: ['read', 'query'],
    query: PR.SpotHistoryQuery, reply: PR.SpotHistory,
    summary: "An accelerator's spot price history, newest first",
  },
  {
    method: 'POST', path: '/v1/providers/revenue-estimate', handler: 'functions/pricing.revenueEstimate', auth: ['public'], access: ['query', 'write'],
    body: PR.RevenueBody, reply: PR.RevenueReply,
    summary: 'Public revenue calculator (no key; rate limited per address): expected monthly GPU-hours, volume tier and revenue for accelerators, GPU counts, listed hours and expected fill, at the spot prices in force',
  },
  {
    method: 'PUT', path: '/v1/admin/providers/{id}/custom-rate', handler: 'functions/settlement.setCustomRate', auth: ['operator'], access: ['read', 'transact'],
    body: PR.CustomRateBody, reply: PR.CustomRateReply,
    summary: "Set a provider's custom volume premium (basis points of base earnings), applied to months over 200,000 GPU-hours",
  },
  {
    method: 'POST', path: '/v1/admin/settlements/{period}', handler: 'functions/settlement.start', auth: ['operator'], access: ['read'],
    starts: ['provider-settlement'], reply: PR.StartSettlementReply, replyStatus: 202,
    summary: 'Settle a UTC month (YYYY-MM, from one hour after it ends): statements, volume true-ups and payables for every provider; a settled month is left unchanged',
  },
  {
    method: 'GET', path: '/v1/admin/settlements/{period}', handler: 'functions/settlement.getRun', auth: ['operator'], access: ['read'], reply: PR.SettlementRunReply,
    summary: "A month's settlement run: status, totals (startup spend = provider earnings + marketplace margin) and any failure's reasons",
  },
  {
    method: 'GET', path: '/v1/providers/{id}/statements', handler: 'functions/settlement.listStatements', auth: ['provider', 'operator'], access: ['read', 'query'],
    query: PR.StatementsQuery, reply: PR.StatementList,
    summary: "A provider's monthly statements, newest first",
  },
  {
    method: 'GET', path: '/v1/providers/{id}/statements/{period}', handler: 'functions/settlement.getStatement', auth: ['provider', 'operator'], access: ['read'],
    reply: PR.StatementReply,
    summary: 'One monthly statement: GPU-hours, tier, base earnings, premium, payable, due date, and lines by accelerator, client segment and workload',
  },
  {
    method: 'GET', path: '/v1/me', handler: 'functions/dashboard.me', auth: ['operator', 'lender', 'startup', 'provider'], access: ['read'], reply: D.MeReply,
    summary: "Who this key is: role and tenant (the dashboards' sign-in)",
  },
  {
    method: 'GET', path: '/v1/providers/{id}/utilization', handler: 'functions/dashboard.providerUtilization', auth: ['provider', 'operator'], access: ['read', 'query'],
    query: D.DaysQuery, reply: D.UtilizationReply,
    summary: 'Delivered against listed GPU-hours: heatmap by accelerator × hour of day (with the GPU-hours booked on capacity blocks), fill rate against the 80 % target, daily series, 30-day capacity forecast with the blocks listed and booked ahead',
  },
  {
    method: 'GET', path: '/v1/facilities/{id}/burn', handler: 'functions/dashboard.facilityBurn', auth: LENDER_OR_OPERATOR, access: ['read', 'query'],
    query: D.DaysQuery, reply: D.BurnReply,
    summary: "A facility's spend per UTC day (the burn chart)",
  },
  {
    method: 'GET', path: '/v1/admin/providers', handler: 'functions/dashboard.providerQueue', auth: ['operator'], access: ['read', 'query'],
    query: D.ReviewQuery, reply: D.ReviewReply,
    summary: 'Providers in one onboarding state, oldest first (pending_review: the review queue)',
  },
  {
    method: 'GET', path: '/v1/admin/settlements', handler: 'functions/dashboard.settlementRuns', auth: ['operator'], access: ['read'],
    query: D.RunsQuery, reply: D.RunsReply,
    summary: 'The settlement runs of the last months, newest first',
  },
  {
    method: 'POST', path: '/v1/capacity/quotes', handler: 'functions/bookings.quote', auth: ['startup'], access: ['read', 'query', 'write'],
    body: B.QuoteBody, reply: B.QuoteReply, replyStatus: 201,
    summary: "Quote a block of GPU-hours: offers from live providers' listed blocks in the window asked, priced at the spot in force, valid 5 minutes (never the provider's name)",
  },
  {
    method: 'POST', path: '/v1/bookings', handler: 'functions/bookings.book', auth: ['startup'], access: ['read', 'query', 'write', 'transact'], idempotent: true, sends: EMITS, starts: ['booking-lifecycle'],
    body: B.BookBody, reply: B.BookingReply, replyStatus: 201,
    summary: "Book an offer of a quote: holds its whole price from your credits and takes its GPUs for every hour it covers (pending until the provider accepts, expired if it has not by accept_by; emits booking.pending to the provider); starts its lifecycle",
  },
  {
    method: 'GET', path: '/v1/bookings', handler: 'functions/bookings.list', auth: ['startup'], access: ['read', 'query'],
    query: S.ListQuery, reply: S.Page(B.BookingReply),
    summary: 'Your bookings, newest first, with their state and cost',
  },
  {
    method: 'GET', path: '/v1/bookings/{id}', handler: 'functions/bookings.get', auth: ['startup'], access: ['read'], reply: B.BookingReply,
    summary: "One of your bookings, with the provider's access details once accepted",
  },
  {
    method: 'POST', path: '/v1/bookings/{id}/cancel', handler: 'functions/bookings.cancel', auth: ['startup'], access: BOOKING_RELEASE_ACCESS, sends: EMITS, reply: B.BookingReply,
    summary: 'Cancel a booking: before it starts, its hold and GPU-hours are released in full; while it runs, it is billed to the hour in course and the rest is released (emits booking.cancelled to the provider)',
  },
  {
    method: 'GET', path: '/v1/providers/{id}/bookings', handler: 'functions/bookings.listForProvider', auth: ['provider', 'operator'], access: ['read', 'query'],
    query: S.ListQuery, reply: S.Page(B.ProviderBookingReply),
    summary: "Bookings of the provider's capacity blocks, newest first",
  },
  {
    method: 'POST', path: '/v1/providers/{id}/bookings/{booking}/accept', handler: 'functions/bookings.accept', auth: ['provider'], access: ['read', 'query', 'write', 'transact'], sends: EMITS,
    starts: ['booking-lifecycle'], body: B.AcceptBody, reply: B.ProviderBookingReply,
    summary: 'Accept a pending booking with the access details only its startup can read (before accept_by; emits booking.accepted to the startup, without them); its lifecycle goes on: running at its start, billed hour by hour, completed at its end',
  },
  {
    method: 'POST', path: '/v1/providers/{id}/bookings/{booking}/interrupt', handler: 'functions/bookings.interrupt', auth: ['provider'], access: BOOKING_RELEASE_ACCESS, sends: EMITS,
    body: B.InterruptBody, reply: B.ProviderBookingReply,
    summary: 'Interrupt a scheduled or running booking (maintenance, outage): hours not delivered in full are never billed, the rest of the hold and the later GPU-hours are released (emits booking.interrupted to the startup)',
  },
  {
    method: 'POST', path: '/v1/providers/{id}/bookings/{booking}/decline', handler: 'functions/bookings.decline', auth: ['provider'], access: BOOKING_RELEASE_ACCESS, sends: EMITS, reply: B.ProviderBookingReply,
    summary: "Decline a pending booking: the startup's hold and the GPU-hours are released in full (emits booking.declined to the startup)",
  },
  {
    method: 'POST', path: '/v1/webhook-endpoints', handler: 'functions/webhooks.createEndpoint', auth: TENANTS, access: ['read', 'transact'],
    body: W.CreateEndpointBody, reply: W.EndpointReply, replyStatus: 201,
    summary: 'Register a webhook endpoint (https, a public address) for some events; the signing secret (whsec_…) is shown once. At most 16 per account',
  },
  {
    method: 'GET', path: '/v1/webhook-endpoints', handler: 'functions/webhooks.listEndpoints', auth: TENANTS, access: ['read', 'query'], reply: W.EndpointList,
    summary: 'Your webhook endpoints (never their secrets)',
  },
  {
    method: 'DELETE', path: '/v1/webhook-endpoints/{id}', handler: 'functions/webhooks.deleteEndpoint', auth: TENANTS, access: ['read', 'transact'], reply: W.EndpointReply,
    summary: 'Delete one of your webhook endpoints: nothing more is sent to it',
  },
  {
    method: 'POST', path: '/v1/webhook-endpoints/{id}/secret/roll', handler: 'functions/webhooks.rollEndpointSecret', auth: TENANTS, access: ['read', 'write'],
    body: W.RollSecretBody, reply: W.EndpointReply,
    summary: "Roll a webhook endpoint's signing secret: the new one is shown once; deliveries carry a signature by each secret for expires_in_s (default 1 h, at most 24 h), then by the new one only",
  },
  {
    method: 'GET', path: '/v1/events', handler: 'functions/webhooks.listEvents', auth: TENANTS, access: ['read', 'query'], query: S.ListQuery, reply: W.EventList,
    summary: "Your account's events (kept 30 days), newest first, each with its deliveries: status, attempts, last status code, next attempt",
  },
  {
    method: 'GET', path: '/v1/events/{id}', handler: 'functions/webhooks.getEvent', auth: TENANTS, access: ['read', 'query'], reply: W.EventReply,
    summary: "One of your account's events with its deliveries (another account's is a 404)",
  },
  {
    method: 'POST', path: '/v1/events/{id}/redeliver', handler: 'functions/webhooks.redeliver', auth: TENANTS, access: ['read', 'query', 'transact'], sends: EMITS,
    reply: W.EventReply, replyStatus: 202,
    summary: 'Send an event again to each of its endpoints that still exists: a new round of attempts (same event id), with its own 3-day backoff',
  },
];

export function routeKey(r: Pick<RouteDef, 'method' | 'path'>): string {
  return `${r.method} ${r.path}`;
}

/**
 * Rows whose list is paged with a `cursor` query parameter. Their cursors are sealed for the list and caller they
 * belong to (functions/lib/cursors.ts), so only these rows get the cursor secret (stacks/ApiFunctions.ts).
 */
export function takesCursor(row: Pick<RouteDef, 'query'>): boolean {
  const shape = (row.query as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape !== undefined && 'cursor' in shape;
}
