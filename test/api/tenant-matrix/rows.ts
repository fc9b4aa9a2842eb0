/**
 * The tenant matrix's one line per route row (keyed by `routeKey`): whose object the request names, and a request
 * that would succeed for its owner (or meet only a domain refusal, a 409 or a 400 that is not about who asks). It must
 * cover infra/routes.ts exactly: a new row without a line here fails the matrix with the line to add, and a row whose
 * path names a tenant's object (a facility, a booking, ...) must say whose it is.
 */
import { DEMO_SPOT } from '../../../local/demo.js';
import { HOUR_MS, floorHour, nowMs } from '../../../packages/core/src/index.js';
import type { Role } from '../../../infra/routes.js';
import type { MatrixWorld, Objects, Side, TenantRole } from './world.js';

/** What a cell sends: path parameters by name, a JSON body, a query string (without `?`). */
export interface Request {
  params?: Record<string, string>;
  body?: unknown;
  query?: string;
}

export interface MatrixEntry {
  /**
   * The role whose tenant owns what the request names (path or body): another tenant naming it must get what an
   * unknown id gets, 404. `operator`: an operator's route naming the world's objects. null: the request names no
   * tenant's object, so each caller names its own and the check is that its reply holds nothing of the other side.
   */
  owner: TenantRole | 'operator' | null;
  /** The side whose tenant owns it (default A, the demo world): B where the owner must be in a state A is not. */
  side?: Side;
  /** The request, from the objects named (the owner's, the caller's own, or unknown ones) and the calling role. */
  request?: (o: Objects, w: MatrixWorld, as: Role) => Request;
  /** A path parameter naming the caller itself: the other tenant also tries its own value there, the owner's elsewhere. */
  self?: string;
  /** A signed webhook: the "key" is a provider's webhook secret signing the body. */
  signed?: true;
  /**
   * The code of the domain refusal the allowed callers meet by design (the world's state, not who asks): any other
   * reply but a 2xx fails, so a request that stopped being valid for its owner is noticed.
   */
  domain?: string;
  /**
   * What an id that names nothing gets when it is not 404: OpenAI answers an unknown `previous_response_id` in a body
   * 400 `previous_response_not_found`. Another tenant's id must still get exactly that reply.
   */
  missing?: 400;
}

const at = (h: number) => new Date(floorHour(nowMs()) + h * HOUR_MS).toISOString();
const FACILITY_TERMS = { principal_micros: 5_000_000, multiplier: 1.25, term_months: 12, origination_fee_bps: 200, servicing_fee_bps: 75 };
const CHAT_MODEL = 'llama-3.1-70b-instruct';

/** Nouns of functions/lib/params.ts whose values belong to a tenant; the other kinds (a model, a month, an accelerator) are everyone's. */
export const OWNED_NOUNS = new Set(['startup', 'key', 'facility', 'provider', 'booking', 'webhook endpoint', 'event', 'request', 'response']);

export const MATRIX: Readonly<Record<string, MatrixEntry>> = {
  'GET /openapi.json': { owner: null },
  'POST /v1/admin/startups': { owner: 'operator', request: () => ({ body: { name: 'Matrix Startup Gamma', segment: 'seed' } }) },
  'POST /v1/admin/startups/{id}/keys': { owner: 'operator', request: (o) => ({ params: { id: o.startup }, body: { name: 'matrix operator' } }) },
  'POST /v1/admin/lenders': { owner: 'operator', request: () => ({ body: { name: 'Matrix Capital Gamma' } }) },
  'POST /v1/keys': { owner: null, request: () => ({ body: { name: 'matrix' } }) },
  'GET /v1/keys': { owner: null },
  'DELETE /v1/keys/{id}': { owner: 'startup', request: (o) => ({ params: { id: o.spareKey } }) },
  'GET /v1/credits': { owner: null },
  'GET /v1/credits/alerts': { owner: null },
  // The body names a facility: the startup's own, or another's (as unknown).
  'PUT /v1/credits/alerts': { owner: 'startup', request: (o) => ({ body: { alerts: [{ facility_id: o.facility, threshold_micros: 1_000_000 }] } }) },
  'POST /v1/facilities': {
    owner: null,
    request: (o, w, as) => ({ body: { startup_id: o.startup, ...FACILITY_TERMS, ...(as === 'operator' ? { lender_id: w.tenants.A.lender.id } : {}) } }),
  },
  'GET /v1/facilities': { owner: null, request: (_o, w, as) => (as === 'operator' ? { query: `lender_id=${w.tenants.A.lender.id}` } : {}) },
  'GET /v1/facilities/{id}': { owner: 'lender', request: (o) => ({ params: { id: o.facility } }) },
  'GET /v1/facilities/{id}/stream': { owner: 'lender', request: (o) => ({ params: { id: o.facility } }) },
  'POST /v1/facilities/{id}/freeze': { owner: 'lender', request: (o) => ({ params: { id: o.facility }, body: { reason: 'matrix' } }) },
  'POST /v1/facilities/{id}/unfreeze': { owner: 'lender', request: (o) => ({ params: { id: o.facility } }) },
  // Unfrozen again by the row before: recovering is refused, after the facility is found.
  'POST /v1/facilities/{id}/recover': { owner: 'lender', domain: 'facility_not_frozen', request: (o) => ({ params: { id: o.facility } }) },
  'GET /v1/facilities/{id}/covenants': { owner: 'lender', request: (o) => ({ params: { id: o.facility } }) },
  'GET /v1/facilities/{id}/statements/{period}': { owner: 'lender', request: (o, w) => ({ params: { id: o.facility, period: w.openPeriod } }) },
  'PUT /v1/facilities/{id}/covenants': { owner: 'lender', request: (o) => ({ params: { id: o.facility }, body: { covenants: [] } }) },
  'POST /v1/chat/completions': { owner: null, request: () => ({ body: { model: CHAT_MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 } }) },
  'POST /v1/completions': { owner: null, request: () => ({ body: { model: CHAT_MODEL, prompt: 'hi', max_tokens: 4 } }) },
  // The body names a stored response to continue: the owner's, or another's (as unknown). Nothing is stored.
  'POST /v1/responses': { owner: 'startup', request: (o) => ({ body: { model: CHAT_MODEL, input: 'and then?', max_output_tokens: 16, previous_response_id: o.response, store: false } }), missing: 400 },
  'GET /v1/responses/{id}': { owner: 'startup', request: (o) => ({ params: { id: o.response } }) },
  'DELETE /v1/responses/{id}': { owner: 'startup', request: (o) => ({ params: { id: o.responseToDelete } }) },
  'POST /v1/embeddings': { owner: null, request: () => ({ body: { model: 'text-embedding-3-small', input: 'hi' } }) },
  'GET /v1/models': { owner: null },
  'GET /v1/models/{id+}': { owner: null, request: () => ({ params: { id: CHAT_MODEL } }) },
  'GET /v1/usage': { owner: null, request: () => ({ query: 'group_by=key' }) },
  'GET /v1/requests/{id}': { owner: 'startup', request: (o) => ({ params: { id: o.request } }) },
  'POST /v1/providers': {
    owner: null, request: () => ({ body: { name: 'Matrix GPU Gamma', contact_email: 'ops@matrix-gamma.example', regions: ['us-east-1'], accelerators: ['H100'] } }),
  },
  // Aurora is live: the review is a 409, after the id is found.
  'POST /v1/admin/providers/{id}/review': { owner: 'operator', domain: 'not_pending_review', request: (o) => ({ params: { id: o.provider }, body: { decision: 'approve', notes: 'matrix' } }) },
  'GET /v1/providers/{id}': { owner: 'provider', request: (o) => ({ params: { id: o.provider } }) },
  // Integration steps: owned by provider B (approved, integrating), so the owner's call is the real step.
  'PUT /v1/providers/{id}/endpoints': {
    owner: 'provider', side: 'B',
    request: (o) => ({ params: { id: o.provider }, body: { endpoints: [{ id: 'e1', url: 'http://127.0.0.1:9/v1', region: 'us-east-1', availability_zone: 'us-east-1a', capacity_type: 'dedicated', accelerators: ['H100'] }] } }),
  },
  'PUT /v1/providers/{id}/models': {
    owner: 'provider', side: 'B',
    request: (o) => ({
      params: { id: o.provider },
      body: { models: [{ model: 'llama-3.1-8b-instruct', kind: 'chat', architecture: 'llama', context_length: 8_192, accelerator: 'H100', prompt_tokens_per_gpu_second: 1_000, completion_tokens_per_gpu_second: 50 }] },
    }),
  },
  'PUT /v1/providers/{id}/sla': { owner: 'provider', side: 'B', request: (o) => ({ params: { id: o.provider }, body: { tier: 'standard' } }) },
  'POST /v1/providers/{id}/capacity': {
    owner: 'provider', signed: true,
    request: (o) => ({
      params: { id: o.provider },
      body: {
        event_id: `evt_matrix_${nowMs()}`, provider_id: o.provider, reported_at: at(0),
        capacity: [{ accelerator: 'H100', region: 'us-east-1', availability_zone: 'us-east-1a', available_gpu_hours: 1_500 }], burst_windows: [], maintenance_windows: [],
      },
    }),
  },
  'POST /v1/providers/{id}/webhook-secret/roll': { owner: 'provider', request: (o) => ({ params: { id: o.provider }, body: { expires_in_s: 3_600 } }) },
  // Aurora is live: validation is a 409, after the id is found.
  'POST /v1/providers/{id}/validation': { owner: 'provider', domain: 'already_live', request: (o) => ({ params: { id: o.provider } }) },
  'GET /v1/providers/{id}/sla': { owner: 'provider', request: (o) => ({ params: { id: o.provider } }) },
  'GET /v1/relay/keys': { owner: null },
  'POST /v1/admin/relay-keys/rotate': { owner: 'operator' },
  'PUT /v1/admin/spot-prices/{accelerator}': { owner: 'operator', request: () => ({ params: { accelerator: 'H100' }, body: { usd_per_gpu_hour_micros: DEMO_SPOT.H100 } }) },
  'GET /v1/spot-prices': { owner: null },
  'GET /v1/admin/spot-prices/{accelerator}/history': { owner: 'operator', request: () => ({ params: { accelerator: 'H100' } }) },
  'POST /v1/providers/revenue-estimate': { owner: null, request: () => ({ body: { lines: [{ accelerator: 'H100', gpus: 8, listed_hours: 720, expected_fill_ppm: 800_000 }] } }) },
  'PUT /v1/admin/providers/{id}/custom-rate': { owner: 'operator', request: (o) => ({ params: { id: o.provider }, body: { premium_bps: null } }) },
  'POST /v1/admin/settlements/{period}': { owner: 'operator', request: (_o, w) => ({ params: { period: w.settledPeriod } }) },
  'GET /v1/admin/settlements/{period}': { owner: 'operator', request: (_o, w) => ({ params: { period: w.settledPeriod } }) },
  'GET /v1/providers/{id}/statements': { owner: 'provider', request: (o) => ({ params: { id: o.provider } }) },
  'GET /v1/providers/{id}/statements/{period}': { owner: 'provider', request: (o, w) => ({ params: { id: o.provider, period: w.settledPeriod } }) },
  'GET /v1/me': { owner: null },
  'GET /v1/providers/{id}/utilization': { owner: 'provider', request: (o) => ({ params: { id: o.provider } }) },
  'GET /v1/facilities/{id}/burn': { owner: 'lender', request: (o) => ({ params: { id: o.facility } }) },
  'GET /v1/admin/providers': { owner: 'operator' },
  'GET /v1/admin/settlements': { owner: 'operator' },
  'POST /v1/capacity/quotes': { owner: null, request: () => ({ body: { accelerator: 'H100', gpus: 1, hours: 1, earliest_start: at(10), latest_start: at(12) } }) },
  // The body names a quote: the startup's own, or another's (as unknown).
  'POST /v1/bookings': { owner: 'startup', request: (o) => ({ body: { quote_id: o.quote, offer: o.offer } }) },
  'GET /v1/bookings': { owner: null },
  'GET /v1/bookings/{id}': { owner: 'startup', request: (o) => ({ params: { id: o.booking } }) },
  'POST /v1/bookings/{id}/cancel': { owner: 'startup', request: (o) => ({ params: { id: o.booking } }) },
  'GET /v1/providers/{id}/bookings': { owner: 'provider', request: (o) => ({ params: { id: o.provider } }) },
  'POST /v1/providers/{id}/bookings/{booking}/accept': {
    owner: 'provider', self: 'id', request: (o) => ({ params: { id: o.provider, booking: o.providerBooking }, body: { access: { endpoint: 'ssh matrix@10.0.0.1' } } }),
  },
  'POST /v1/providers/{id}/bookings/{booking}/interrupt': {
    owner: 'provider', self: 'id', request: (o) => ({ params: { id: o.provider, booking: o.providerBooking }, body: { reason: 'matrix' } }),
  },
  // Interrupted by the row before: declining is refused, after the booking is found.
  'POST /v1/providers/{id}/bookings/{booking}/decline': { owner: 'provider', self: 'id', domain: 'not_pending', request: (o) => ({ params: { id: o.provider, booking: o.providerBooking } }) },
  'POST /v1/webhook-endpoints': { owner: null, request: () => ({ body: { url: 'http://127.0.0.1:9/matrix-new', events: ['sla.recovered'] } }) },
  'GET /v1/webhook-endpoints': { owner: null },
  'DELETE /v1/webhook-endpoints/{id}': { owner: 'startup', request: (o) => ({ params: { id: o.endpoint } }) },
  'POST /v1/webhook-endpoints/{id}/secret/roll': { owner: 'startup', request: (o) => ({ params: { id: o.endpointToRoll }, body: { expires_in_s: 60 } }) },
  'GET /v1/events': { owner: null },
  'GET /v1/events/{id}': { owner: 'startup', request: (o) => ({ params: { id: o.event } }) },
  // The event's endpoints are gone (its deliveries went nowhere): redelivery is refused, after the event is found.
  'POST /v1/events/{id}/redeliver': { owner: 'startup', domain: 'no_endpoints', request: (o) => ({ params: { id: o.event } }) },
};
