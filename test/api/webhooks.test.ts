/**
 * Outbound webhooks (SPEC §12) through the runtime: real HTTP, the same handlers, the webhook-deliveries queue and
 * its consumer, DynamoDB Local. Receivers are node:http servers in this test that verify every delivery with the
 * provider kit's verifyWebhook and apply each event id once (their dedupe), as the docs tell receivers to.
 *
 * The backoff is shortened to 1 s, 2 s, 4 s… (COMPUX_WEBHOOK_BACKOFF_BASE_S=1) and the sweeper's grace to 1 s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqsClient } from '../../functions/lib/deps.js';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';
import { Receiver, sleep, until } from './receiver.js';
import { runSchedule } from './schedule.js';

process.env.COMPUX_WEBHOOK_BACKOFF_BASE_S = '1';
process.env.COMPUX_WEBHOOK_SWEEP_GRACE_S = '1';

let rt: TestRuntime;
let call: ReturnType<typeof client>;

const receivers: Receiver[] = [];

let admin: string;
let lender: { id: string; key: string };
let startup: { id: string; key: string };
let provider: { id: string; key: string };

/** One of the caller's events with its deliveries, from its list (the newest 100). */
async function eventOf(key: string, id: string): Promise<{ body: any }> {
  const r = await call('GET', '/v1/events?limit=100', { key });
  return { body: r.body.data.find((e: { id: string }) => e.id === id) ?? {} };
}

async function openFacility(): Promise<string> {
  const r = await call('POST', '/v1/facilities', { key: lender.key, body: { startup_id: startup.id, principal_micros: 1_000_000_000, multiplier: 1.25, term_months: 12, origination_fee_bps: 200, servicing_fee_bps: 75 } });
  expect(r.status).toBe(201);
  return r.body.id;
}

/** Registers an endpoint for `key` at a new receiver; the receiver learns the secret shown once. */
async function endpoint(key: string, events: string[], plan: number[] = []) {
  const rec = new Receiver(plan);
  receivers.push(rec);
  const url = await rec.start();
  const r = await call('POST', '/v1/webhook-endpoints', { key, body: { url, events } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  expect(r.body.secret).toMatch(/^whsec_[A-Za-z0-9]{32}$/);
  rec.secret = r.body.secret;
  return { rec, id: r.body.id as string };
}

beforeAll(async () => {
  rt = await startTestRuntime('webhooks');
  call = client(rt.baseUrl);
  admin = rt.adminKey;
  const l = await call('POST', '/v1/admin/lenders', { key: admin, body: { name: 'Hook Capital' } });
  lender = { id: l.body.id, key: l.body.key };
  const s = await call('POST', '/v1/admin/startups', { key: admin, body: { name: 'Hook AI', segment: 'seed' } });
  const k = await call('POST', `/v1/admin/startups/${s.body.id}/keys`, { key: admin, body: { name: 'main' } });
  startup = { id: s.body.id, key: k.body.key };
  const p = await call('POST', '/v1/providers', { body: { name: 'Hook GPU', contact_email: 'ops@hook.example', regions: ['us-east-1'], accelerators: ['H100'] } });
  provider = { id: p.body.id, key: p.body.key };
});
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.stop()));
  await rt?.stop();
});

describe('facility events', () => {
  it("a freeze reaches the lender's and the startup's endpoints, signed, once; an unfreeze follows", async () => {
    // Prepare
    const fac = await openFacility();
    const lenderHook = await endpoint(lender.key, ['facility.frozen', 'facility.unfrozen']);
    const startupHook = await endpoint(startup.key, ['*']);
    // Act
    const frozen = await call('POST', `/v1/facilities/${fac}/freeze`, { key: lender.key, body: { reason: 'missed payment' } });
    await until('both frozen deliveries', () => lenderHook.rec.deliveries.length + startupHook.rec.deliveries.length, (n) => n >= 2);
    const again = await call('POST', `/v1/facilities/${fac}/freeze`, { key: lender.key, body: { reason: 'missed payment' } }); // a retry
    await call('POST', `/v1/facilities/${fac}/unfreeze`, { key: lender.key });
    await until('the unfrozen delivery', () => lenderHook.rec.deliveries.length, (n) => n >= 2);
    await sleep(1_500); // anything duplicated would have arrived by now
    const events = await call('GET', '/v1/events', { key: lender.key });
    // Assess
    expect(frozen.status).toBe(200);
    expect(again.status).toBe(200);
    const [l1, l2] = lenderHook.rec.deliveries;
    expect(lenderHook.rec.deliveries).toHaveLength(2);
    expect(l1).toMatchObject({ verified: true, status: 200, event: { type: 'facility.frozen', object: 'event', data: { facility_id: fac, frozen_reason: 'missed payment', status: 'frozen' } } });
    expect(l1!.eventId).toBe(l1!.event!.id);
    expect(l2).toMatchObject({ verified: true, event: { type: 'facility.unfrozen', data: { facility_id: fac, status: 'active' } } });
    const [s1] = startupHook.rec.deliveries;
    expect(startupHook.rec.deliveries.map((d) => d.event?.type)).toEqual(['facility.frozen', 'facility.unfrozen']);
    expect(s1!.event!.data).not.toHaveProperty('frozen_reason'); // the lender's note stays the lender's
    expect(s1!.eventId).not.toBe(l1!.eventId); // one event per tenant
    expect(events.body.data.map((e: { type: string }) => e.type)).toEqual(['facility.unfrozen', 'facility.frozen']); // newest first, the retry added none
    expect(events.body.data[1]).toMatchObject({ id: l1!.eventId, deliveries: [{ endpoint_id: lenderHook.id, status: 'succeeded', attempts: 1, last_status_code: 200, next_attempt_at: null }] });
  });
});

describe('delivery', () => {
  it('retries after 500s with a growing wait, then delivers; a redelivery has the same id and no duplicate effect', async () => {
    // Prepare
    const fac = await openFacility();
    const hook = await endpoint(lender.key, ['facility.frozen'], [500, 500]);
    // Act
    await call('POST', `/v1/facilities/${fac}/freeze`, { key: lender.key, body: { reason: 'covenant' } });
    await until('three attempts', () => hook.rec.deliveries.length, (n) => n >= 3);
    const id = hook.rec.deliveries[0]!.eventId;
    // The lender's endpoints of earlier tests get this event too: read this endpoint's delivery by its id.
    const mine = (r: { body: { deliveries?: { endpoint_id: string; status: string; round: number }[] } }) => r.body.deliveries?.find((x) => x.endpoint_id === hook.id);
    const done = await until('the delivery recorded', () => eventOf(lender.key, id), (r) => mine(r)?.status === 'succeeded');
    const redelivered = await call('POST', `/v1/events/${id}/redeliver`, { key: lender.key });
    await until('the redelivery', () => hook.rec.deliveries.length, (n) => n >= 4);
    const after = await until('the redelivery recorded', () => eventOf(lender.key, id), (r) => mine(r)?.round === 2 && mine(r)?.status === 'succeeded');
    // Assess
    const d = hook.rec.deliveries;
    expect(d.map((x) => x.status)).toEqual([500, 500, 200, 200]);
    expect(d.every((x) => x.verified && x.eventId === id)).toBe(true);
    expect(d[1]!.at - d[0]!.at).toBeGreaterThanOrEqual(900); // 1 s, then 2 s (SQS delays are whole seconds)
    expect(d[2]!.at - d[1]!.at).toBeGreaterThanOrEqual(1_900);
    expect(mine(done)).toMatchObject({ status: 'succeeded', round: 1, attempts: 3, last_status_code: 200 });
    expect(redelivered.status).toBe(202);
    expect(mine(after)).toMatchObject({ status: 'succeeded', round: 2, attempts: 1 });
    expect(hook.rec.applied.get(id)).toBe(1); // the receiver's dedupe: applied once
  });

  it('an event whose dispatch crashed after it was written is dispatched by the sweeper', async () => {
    // Prepare: the emission's enqueue fails (as if the function died between the write and the send).
    const fac = await openFacility();
    const hook = await endpoint(lender.key, ['facility.frozen']);
    const sqs = sqsClient();
    sqs.middlewareStack.add(() => async () => { throw new Error('crashed before the send'); }, { step: 'initialize', name: 'crashSend' });
    let frozen;
    try {
      frozen = await call('POST', `/v1/facilities/${fac}/freeze`, { key: lender.key, body: { reason: 'sweeper' } });
    } finally {
      sqs.middlewareStack.remove('crashSend');
    }
    await sleep(1_500);
    const before = hook.rec.deliveries.length;
    // Act: the schedule's handler, under its row's grant, as the scheduler runs it.
    const swept = await runSchedule<{ dispatched: number }>(rt, 'webhook-sweeper', 30_000);
    await until('the swept delivery', () => hook.rec.deliveries.length, (n) => n >= 1);
    // Assess
    expect(frozen.status).toBe(200); // the request path never waits on delivery
    expect(before).toBe(0);
    expect(swept.dispatched).toBeGreaterThanOrEqual(1);
    expect(hook.rec.deliveries[0]).toMatchObject({ verified: true, event: { type: 'facility.frozen', data: { facility_id: fac } } });
    expect(rt.denials).toEqual([]);
  });
});

describe('where webhooks may go (SSRF), with the local runtime allowance off', () => {
  it('refuses http, loopback, private and link-local targets, IPv4 and IPv6, at registration and at delivery', async () => {
    // Prepare: an endpoint registered while allowed (http on 127.0.0.1), then the allowance turned off.
    const fac = await openFacility();
    const hook = await endpoint(lender.key, ['facility.frozen']);
    process.env.COMPUX_WEBHOOK_ALLOW_LOCAL = '0';
    try {
      // Act
      const refused = await Promise.all(
        ['https://127.0.0.1/h', 'https://[::1]/h', 'https://10.0.0.8/h', 'https://169.254.169.254/latest', 'https://[fd00::1]/h', 'https://[::ffff:127.0.0.1]/h', 'https://localhost/h', 'http://example.com/h'].map(
          async (url) => [url, (await call('POST', '/v1/webhook-endpoints', { key: lender.key, body: { url, events: ['*'] } })).body.error?.code],
        ),
      );
      await call('POST', `/v1/facilities/${fac}/freeze`, { key: lender.key, body: { reason: 'ssrf' } });
      const events = await call('GET', '/v1/events?limit=1', { key: lender.key });
      const mineOf = (r: { body: { deliveries?: Array<{ endpoint_id: string; attempts: number }> } }) => r.body.deliveries?.find((d) => d.endpoint_id === hook.id);
      const ev = await until('the refused attempt', () => eventOf(lender.key, events.body.data[0].id), (r) => (mineOf(r)?.attempts ?? 0) >= 1);
      // Assess
      expect(Object.fromEntries(refused)).toEqual({
        'https://127.0.0.1/h': 'private_address', 'https://[::1]/h': 'private_address', 'https://10.0.0.8/h': 'private_address', 'https://169.254.169.254/latest': 'private_address',
        'https://[fd00::1]/h': 'private_address', 'https://[::ffff:127.0.0.1]/h': 'private_address', 'https://localhost/h': 'private_address', 'http://example.com/h': 'insecure_scheme',
      });
      expect(mineOf(ev)).toMatchObject({ status: 'pending', last_status_code: null, last_error: 'insecure_scheme' });
      expect(hook.rec.deliveries).toHaveLength(0);
    } finally {
      process.env.COMPUX_WEBHOOK_ALLOW_LOCAL = '1';
      await call('DELETE', `/v1/webhook-endpoints/${hook.id}`, { key: lender.key }); // its retries end as failed
    }
  });
});

describe('tenancy and limits', () => {
  it('every route: no key 401, an operator 403, another tenant 404 (or an empty list)', async () => {
    // Prepare
    const mine = await endpoint(provider.key, ['sla.breach']);
    const lenderEvent = (await call('GET', '/v1/events?limit=1', { key: lender.key })).body.data[0].id as string;
    const routes: Array<[string, string]> = [
      ['POST', '/v1/webhook-endpoints'], ['GET', '/v1/webhook-endpoints'], ['DELETE', `/v1/webhook-endpoints/${mine.id}`],
      ['GET', '/v1/events'], ['GET', `/v1/events/${lenderEvent}`], ['POST', `/v1/events/${lenderEvent}/redeliver`],
    ];
    const body = (m: string, p: string) => (m === 'POST' && p.endsWith('endpoints') ? { url: 'https://hooks.example.com/x', events: ['*'] } : undefined);
    // Act
    const noKey = await Promise.all(routes.map(([m, p]) => call(m, p, { body: body(m, p) })));
    const operator = await Promise.all(routes.map(([m, p]) => call(m, p, { key: admin, body: body(m, p) })));
    const otherDelete = await call('DELETE', `/v1/webhook-endpoints/${mine.id}`, { key: startup.key });
    const otherGet = await call('GET', `/v1/events/${lenderEvent}`, { key: provider.key });
    const ownGet = await call('GET', `/v1/events/${lenderEvent}`, { key: lender.key });
    const otherRedeliver = await call('POST', `/v1/events/${lenderEvent}/redeliver`, { key: startup.key });
    const otherList = await call('GET', '/v1/events', { key: provider.key });
    const otherEndpoints = await call('GET', '/v1/webhook-endpoints', { key: lender.key });
    const lenderCursor = (await call('GET', '/v1/events?limit=1', { key: lender.key })).body.next_cursor as string;
    const forgedCursor = await call('GET', `/v1/events?cursor=${lenderCursor}`, { key: startup.key });
    const stillThere = await call('GET', '/v1/webhook-endpoints', { key: provider.key });
    // Assess
    expect(noKey.map((r) => r.status)).toEqual(routes.map(() => 401));
    expect(operator.map((r) => r.status)).toEqual(routes.map(() => 403));
    expect([otherDelete.status, otherGet.status, otherRedeliver.status]).toEqual([404, 404, 404]);
    expect(ownGet.status).toBe(200);
    expect(ownGet.body).toMatchObject({ id: lenderEvent, object: 'event', deliveries: expect.any(Array) });
    expect(otherList.body.data).toEqual([]); // the provider sees none of the lender's events
    expect(otherEndpoints.body.data.map((e: { id: string }) => e.id)).not.toContain(mine.id);
    expect(lenderCursor).toBeTruthy();
    expect(forgedCursor.status).toBe(400);
    expect(stillThere.body.data).toEqual([{ id: mine.id, object: 'webhook_endpoint', url: expect.any(String), events: ['sla.breach'], created_at: expect.any(String), secret_rolled_at: null, previous_secret_expires_at: null }]);
  });

  it('at most 16 endpoints a tenant; a deleted one frees its place; bad subscriptions are refused', async () => {
    // Prepare
    const s2 = await call('POST', '/v1/admin/startups', { key: admin, body: { name: 'Limit AI', segment: 'seed' } });
    const key = (await call('POST', `/v1/admin/startups/${s2.body.id}/keys`, { key: admin, body: { name: 'k' } })).body.key as string;
    const make = () => call('POST', '/v1/webhook-endpoints', { key, body: { url: 'https://hooks.example.com/compux', events: ['credits.low'] } });
    // Act
    const made = [];
    for (let i = 0; i < 16; i++) made.push(await make());
    const over = await make();
    const del = await call('DELETE', `/v1/webhook-endpoints/${made[0]!.body.id}`, { key });
    const delAgain = await call('DELETE', `/v1/webhook-endpoints/${made[0]!.body.id}`, { key });
    const again = await make();
    const unknown = await call('POST', '/v1/webhook-endpoints', { key, body: { url: 'https://hooks.example.com/x', events: ['facility.exploded'] } });
    const none = await call('POST', '/v1/webhook-endpoints', { key, body: { url: 'https://hooks.example.com/x', events: [] } });
    const list = await call('GET', '/v1/webhook-endpoints', { key });
    // Assess
    expect(made.map((r) => r.status)).toEqual(made.map(() => 201));
    expect(over.status).toBe(409);
    expect(over.body.error.code).toBe('too_many_endpoints');
    expect([del.status, del.body.deleted, delAgain.status]).toEqual([200, true, 404]);
    expect(again.status).toBe(201);
    expect([unknown.status, none.status]).toEqual([400, 400]);
    expect(list.body.data).toHaveLength(16);
    expect(list.body.data.every((e: Record<string, unknown>) => !('secret' in e))).toBe(true);
  });
});

describe('grants', () => {
  it('no handler stepped outside its row (routes, the consumer, the sweeper)', () => expect(rt.denials).toEqual([]));
});
