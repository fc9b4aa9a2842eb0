/**
 * The two sides of the tenant matrix (test/api/tenant-matrix.test.ts): side A is the demo world (its startup, lender
 * and the simulated provider Aurora), side B a second startup, lender and provider made through the public routes
 * (the provider by application, then the operator's approval). Each side owns one object of every kind a path or a
 * body can name; `unknown` holds ids of the same shapes that name nothing.
 */
import { foundLater, servedRequest } from '../served.js';
import { expect } from 'vitest';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DEMO_PROVIDERS } from '../../../local/demo.js';
import { HOUR_MS, floorHour, monthOf, nowIso, nowMs } from '../../../packages/core/src/index.js';
import type { TestRuntime } from '../runtime.js';
import type { client } from '../client.js';
import { itemCount } from '../table-items.js';

export type TenantRole = 'startup' | 'lender' | 'provider';
export type Side = 'A' | 'B';

/** The objects a request may name, by name; the same names on each side and in `unknown`. */
export interface Objects {
  startup: string;
  /** A key of the startup the matrix may revoke (never the one it calls with). */
  spareKey: string;
  facility: string;
  provider: string;
  /** A pending booking the startup cancels; another on the provider's capacity it accepts, interrupts, declines. */
  booking: string;
  providerBooking: string;
  /** A quote of the startup and its offer, still open: the owner books it. */
  quote: string;
  offer: string;
  /** Webhook endpoints of the startup: one the matrix deletes, one whose secret it rolls. */
  endpoint: string;
  endpointToRoll: string;
  /** An event of the startup (facility.frozen). */
  event: string;
  /** A chat request of the startup, recorded (its x-request-id). */
  request: string;
  /** Stored responses of the startup (POST /v1/responses): one the matrix reads and continues, one it deletes. */
  response: string;
  responseToDelete: string;
}

export interface Tenant {
  role: TenantRole;
  side: Side;
  id: string;
  key: string;
  /** Provider only: its capacity-webhook secret. */
  webhookSecret?: string;
}

export interface MatrixWorld {
  tenants: Record<Side, Record<TenantRole, Tenant>>;
  objects: Record<Side | 'unknown', Objects>;
  operatorKey: string;
  /** A key of startup A, revoked: it opens nothing. */
  revokedKey: string;
  /** A settled month (statements exist for it) and the month in course. */
  settledPeriod: string;
  openPeriod: string;
  /** Every id, key, secret and name of each side: no reply to the other side may hold one. */
  secrets: Record<Side, string[]>;
}

export const AURORA = DEMO_PROVIDERS[0]!;
const Q = 'QQQQQQQQQQQQQQQQQQQQ';
const UNKNOWN: Objects = {
  startup: `stu_${Q}`, spareKey: `key_${Q}`, facility: `fac_${Q}`, provider: `prv_${Q}`, booking: `bkg_${Q}`, providerBooking: `bkg_${Q}`,
  quote: `quo_${Q}`, offer: `ofr_${Q}`, endpoint: `whe_${Q}`, endpointToRoll: `whe_${Q}`, event: `evt_${Q}`,
  request: '00000000-0000-4000-8000-000000000000', response: `resp_${Q}`, responseToDelete: `resp_${Q}`,
};
const FACILITY_TERMS = { multiplier: 1.25, term_months: 12, origination_fee_bps: 200, servicing_fee_bps: 75 };
/** Endpoints subscribe to an event nothing here emits, so no delivery writes while the matrix counts items. */
const QUIET_EVENTS = ['sla.recovered'];

type Call = ReturnType<typeof client>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ok(p: Promise<{ status: number; body: any }>, status: number) {
  const r = await p;
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  return r.body;
}

/** The month two before the open one: settleable whatever the day and hour. */
function monthsBefore(period: string, n: number): string {
  const [y, m] = period.split('-').map(Number) as [number, number];
  const d = new Date(Date.UTC(y, m - 1 - n, 1));
  return d.toISOString().slice(0, 7);
}

export async function buildWorld(rt: TestRuntime, call: Call): Promise<MatrixWorld> {
  const w = rt.world!;
  const op = rt.adminKey;
  const secrets: Record<Side, string[]> = { A: ['Demo Startup', 'Demo Capital', AURORA.name], B: ['Matrix Startup Beta', 'Matrix Capital Beta', 'Matrix GPU Beta'] };

  // Side B: a startup with a facility from its own lender, and a provider by application and review.
  const startupB = (await ok(call('POST', '/v1/admin/startups', { key: op, body: { name: 'Matrix Startup Beta', segment: 'seed' } }), 201)).id as string;
  const startupBKey = (await ok(call('POST', `/v1/admin/startups/${startupB}/keys`, { key: op, body: { name: 'matrix b' } }), 201)).key as string;
  const lenderB = await ok(call('POST', '/v1/admin/lenders', { key: op, body: { name: 'Matrix Capital Beta' } }), 201);
  const facilityB = (await ok(call('POST', '/v1/facilities', { key: lenderB.key, body: { startup_id: startupB, principal_micros: 1_000_000_000, ...FACILITY_TERMS } }), 201)).id as string;
  const providerB = await ok(call('POST', '/v1/providers', { body: { name: 'Matrix GPU Beta', contact_email: 'ops@matrix-beta.example', regions: ['us-east-1'], accelerators: ['H100'] } }), 201);
  await ok(call('POST', `/v1/admin/providers/${providerB.id}/review`, { key: op, body: { decision: 'approve', notes: 'matrix' } }), 200);
  secrets.B.push('ops@matrix-beta.example');

  const tenants: MatrixWorld['tenants'] = {
    A: {
      startup: { role: 'startup', side: 'A', id: w.startupId, key: w.startupKey },
      lender: { role: 'lender', side: 'A', id: w.lenderId, key: w.lenderKey! },
      provider: { role: 'provider', side: 'A', id: AURORA.id, key: w.providerSecrets.get(AURORA.id)!.key!, webhookSecret: w.providerSecrets.get(AURORA.id)!.webhook_secret },
    },
    B: {
      startup: { role: 'startup', side: 'B', id: startupB, key: startupBKey },
      lender: { role: 'lender', side: 'B', id: lenderB.id, key: lenderB.key },
      provider: { role: 'provider', side: 'B', id: providerB.id, key: providerB.key, webhookSecret: providerB.webhook_secret },
    },
  };
  const facilities: Record<Side, string> = { A: w.facilityId, B: facilityB };

  const objects = { unknown: UNKNOWN } as MatrixWorld['objects'];
  for (const side of ['A', 'B'] as const) {
    const t = tenants[side];
    const spare = await ok(call('POST', '/v1/keys', { key: t.startup.key, body: { name: 'spare' } }), 201);
    // A freeze and an unfreeze: events for the startup and the lender.
    await ok(call('POST', `/v1/facilities/${facilities[side]}/freeze`, { key: t.lender.key, body: { reason: 'matrix' } }), 200);
    await ok(call('POST', `/v1/facilities/${facilities[side]}/unfreeze`, { key: t.lender.key }), 200);
    const events = await ok(call('GET', '/v1/events', { key: t.startup.key }), 200);
    const endpoint = await ok(call('POST', '/v1/webhook-endpoints', { key: t.startup.key, body: { url: 'http://127.0.0.1:9/matrix', events: QUIET_EVENTS } }), 201);
    const toRoll = await ok(call('POST', '/v1/webhook-endpoints', { key: t.startup.key, body: { url: 'http://127.0.0.1:9/matrix-roll', events: QUIET_EVENTS } }), 201);
    const keys = (await ok(call('GET', '/v1/keys', { key: t.startup.key }), 200)).data as Array<{ id: string }>;
    const request = await servedRequest(rt.baseUrl, t.startup.key, 'matrix');
    const response = await storedResponse(rt, call, t.startup.key);
    const responseToDelete = await storedResponse(rt, call, t.startup.key);
    objects[side] = {
      startup: t.startup.id, spareKey: spare.id, facility: facilities[side], provider: t.provider.id,
      booking: UNKNOWN.booking, providerBooking: UNKNOWN.booking, quote: UNKNOWN.quote, offer: UNKNOWN.offer,
      endpoint: endpoint.id, endpointToRoll: toRoll.id, event: events.data[0].id, request, response, responseToDelete,
    };
    secrets[side].push(
      ...Object.values(t).flatMap((x: Tenant) => [x.id, x.key, ...(x.webhookSecret ? [x.webhookSecret] : [])]),
      spare.key, facilities[side], endpoint.id, endpoint.secret, toRoll.id, toRoll.secret, request, response, responseToDelete,
      ...keys.map((k) => k.id), ...(events.data as Array<{ id: string }>).map((e) => e.id),
    );
  }
  Object.assign(objects.A, await bookingsOfA(call, tenants.A.startup.key));
  secrets.A.push(objects.A.booking, objects.A.providerBooking, objects.A.quote, objects.A.offer);

  const revoked = await ok(call('POST', '/v1/keys', { key: tenants.A.startup.key, body: { name: 'revoked' } }), 201);
  await ok(call('DELETE', `/v1/keys/${revoked.id}`, { key: tenants.A.startup.key }), 200);
  secrets.A.push(revoked.id, revoked.key);

  const openPeriod = monthOf(nowIso());
  const settledPeriod = monthsBefore(openPeriod, 2);
  await settle(rt, call, op, settledPeriod);
  await quiet(rt);
  return { tenants, objects, operatorKey: op, revokedKey: revoked.key, settledPeriod, openPeriod, secrets };
}

/** A response the startup stored (POST /v1/responses): its id, once GET finds it (it is stored just after the reply). */
async function storedResponse(rt: TestRuntime, call: Call, key: string): Promise<string> {
  const id = (await ok(call('POST', '/v1/responses', { key, body: { model: 'llama-3.1-70b-instruct', input: 'matrix', max_output_tokens: 16 } }), 200)).id as string;
  await ok(foundLater(rt.baseUrl, key, `/v1/responses/${id}`), 200);
  return id;
}

/** Two pending bookings of startup A on Aurora's blocks (one for the startup's rows, one for the provider's), and an open quote. */
async function bookingsOfA(call: Call, key: string): Promise<Pick<Objects, 'booking' | 'providerBooking' | 'quote' | 'offer'>> {
  const t0 = floorHour(nowMs()) + 3 * HOUR_MS;
  const quote = async (h: number) => {
    const body = { accelerator: 'H100', gpus: 1, hours: 1, earliest_start: new Date(t0 + h * HOUR_MS).toISOString(), latest_start: new Date(t0 + h * HOUR_MS).toISOString(), region: 'us-east-1' };
    const q = await ok(call('POST', '/v1/capacity/quotes', { key, body }), 201);
    expect(q.offers.length, JSON.stringify(q)).toBeGreaterThan(0);
    return { quote: q.id as string, offer: q.offers[0].id as string };
  };
  const book = async (h: number) => {
    const q = await quote(h);
    return (await ok(call('POST', '/v1/bookings', { key, body: { quote_id: q.quote, offer: q.offer }, headers: { 'idempotency-key': `matrix-${h}` } }), 201)).id as string;
  };
  return { booking: await book(0), providerBooking: await book(2), ...(await quote(4)) };
}

/** Settles a past month through the operator's route, so the providers have statements to read; waits for its execution to end. */
async function settle(rt: TestRuntime, call: Call, op: string, period: string): Promise<void> {
  const started = await ok(call('POST', `/v1/admin/settlements/${period}`, { key: op }), 202);
  const sfn = new SFNClient({ endpoint: rt.endpoints.sfn });
  const end = Date.now() + 60_000;
  try {
    for (;;) {
      const d = await sfn.send(new DescribeExecutionCommand({ executionArn: started.execution_id }));
      if (d.status === 'SUCCEEDED') return;
      if (d.status !== 'RUNNING' || Date.now() > end) throw new Error(`settlement of ${period}: ${d.status} ${d.error ?? ''} ${d.cause ?? ''}`);
      await sleep(100);
    }
  } finally {
    sfn.destroy();
  }
}

/** Waits until the table's item count holds still for a while: what the world started has finished writing. */
async function quiet(rt: TestRuntime): Promise<void> {
  const end = Date.now() + 30_000;
  let last = await itemCount(rt);
  for (let still = 0; still < 3; ) {
    if (Date.now() > end) throw new Error('the world kept writing for 30 s');
    await sleep(200);
    const n = await itemCount(rt);
    still = n === last ? still + 1 : 0;
    last = n;
  }
}
