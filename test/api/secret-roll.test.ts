/**
 * Rolling webhook secrets with an overlap (issue 14 point 3) through the runtime: a provider's capacity-webhook
 * secret (`POST /v1/providers/{id}/webhook-secret/roll`) and an outbound endpoint's signing secret (`POST
 * /v1/webhook-endpoints/{id}/secret/roll`). Overlaps of 4 s are waited out on the real clock: the old secret works
 * until its expiry and is refused after it; the new one works throughout; only the owner may roll; items written
 * before rolls existed (no version) roll too.
 */
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nowIso, nowMs, nowS, signPayload } from '../../packages/core/src/index.js';
import { verifyWebhook } from '../../packages/provider-kit/src/index.js';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';
import { Receiver, sleep, until } from './receiver.js';

process.env.COMPUX_APPLICATIONS_PER_MINUTE = '12';
process.env.COMPUX_WEBHOOK_BACKOFF_BASE_S = '1';

/** The overlap the timed tests ask for: long enough for a few requests on a busy machine, short enough to wait out. */
const OVERLAP_S = 4;

let rt: TestRuntime;
let call: ReturnType<typeof client>;
let lender: { id: string; key: string };
let startup: { id: string; key: string };
const receivers: Receiver[] = [];

type Provider = { id: string; key: string; webhook_secret: string };

beforeAll(async () => {
  rt = await startTestRuntime('secretroll');
  call = client(rt.baseUrl);
  const l = await call('POST', '/v1/admin/lenders', { key: rt.adminKey, body: { name: 'Roll Capital' } });
  lender = { id: l.body.id, key: l.body.key };
  const s = await call('POST', '/v1/admin/startups', { key: rt.adminKey, body: { name: 'Roll AI', segment: 'seed' } });
  const k = await call('POST', `/v1/admin/startups/${s.body.id}/keys`, { key: rt.adminKey, body: { name: 'main' } });
  startup = { id: s.body.id, key: k.body.key };
});
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.stop()));
  await rt?.stop();
});

async function provider(name: string): Promise<Provider> {
  const app = await call('POST', '/v1/providers', { body: { name, contact_email: 'ops@roll.example', regions: ['us-east-1'], accelerators: ['H100'] } });
  expect(app.status).toBe(201);
  await call('POST', `/v1/admin/providers/${app.body.id}/review`, { key: rt.adminKey, body: { decision: 'approve', notes: 'ok' } });
  return app.body;
}

/** A report signed with `secrets` (one v1 entry each), sent as is: status and the body's bytes. */
async function report(id: string, secrets: string | string[]) {
  const raw = JSON.stringify({
    event_id: `evt_${Math.random().toString(36).slice(2)}`, provider_id: id, reported_at: nowIso(),
    capacity: [{ accelerator: 'H100', region: 'us-east-1', availability_zone: 'us-east-1a', available_gpu_hours: 800 }], burst_windows: [], maintenance_windows: [],
  });
  const res = await fetch(`${rt.baseUrl}/v1/providers/${id}/capacity`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-compux-signature': signPayload(secrets, nowS(), raw) }, body: raw });
  return { status: res.status, body: await res.text() };
}

const rollProvider = (p: Provider, body: unknown, key = p.key) => call('POST', `/v1/providers/${p.id}/webhook-secret/roll`, { key, body });
const rollEndpoint = (id: string, body: unknown, key = lender.key) => call('POST', `/v1/webhook-endpoints/${id}/secret/roll`, { key, body });

/** Waits on the CompuX clock until `iso` has passed. */
async function after(iso: string) {
  while (nowMs() <= Date.parse(iso)) await sleep(50);
}

describe("a provider's capacity-webhook secret", () => {
  it('rolled with an overlap: the old secret is accepted until it ends, then refused like any bad signature; the new one always', async () => {
    // Prepare
    const p = await provider('Roll GPU');
    const old = p.webhook_secret;
    // Act
    const rolled = await rollProvider(p, { expires_in_s: OVERLAP_S });
    const fresh = rolled.body.secret as string;
    const during = { old: await report(p.id, old), fresh: await report(p.id, fresh), both: await report(p.id, [fresh, old]) };
    const duringEndedMs = nowMs();
    await after(rolled.body.previous_secret_expires_at);
    const afterwards = { old: await report(p.id, old), fresh: await report(p.id, fresh) };
    const unknownProvider = await report('prv_doesNotExist01', old);
    // Assess
    expect(rolled.status).toBe(200);
    expect(rolled.body).toEqual({ object: 'webhook_secret', provider_id: p.id, secret: expect.stringMatching(/^whsec_[A-Za-z0-9]{32}$/), rolled_at: expect.any(String), previous_secret_expires_at: expect.any(String) });
    expect(fresh).not.toBe(old);
    expect(Date.parse(rolled.body.previous_secret_expires_at) - Date.parse(rolled.body.rolled_at)).toBe(OVERLAP_S * 1000);
    expect(duringEndedMs, 'the overlap checks ran within the overlap').toBeLessThan(Date.parse(rolled.body.previous_secret_expires_at));
    expect([during.old.status, during.fresh.status, during.both.status]).toEqual([202, 202, 202]);
    expect(afterwards.fresh.status).toBe(202);
    expect(afterwards.old.status).toBe(401);
    expect(afterwards.old).toEqual(unknownProvider); // an expired secret tells nothing more than an unknown provider
  });

  it('a roll during the overlap is refused (409); one keeping no overlap ends both old secrets at once; the default is an hour', async () => {
    // Prepare
    const p = await provider('Leaky GPU');
    // Act
    const first = await rollProvider(p, {});
    const again = await rollProvider(p, { expires_in_s: 60 });
    const emergency = await rollProvider(p, { expires_in_s: 0 });
    const signedWith = { original: await report(p.id, p.webhook_secret), first: await report(p.id, first.body.secret), emergency: await report(p.id, emergency.body.secret) };
    // Assess
    expect(first.status).toBe(200);
    expect(Date.parse(first.body.previous_secret_expires_at) - Date.parse(first.body.rolled_at)).toBe(3_600_000);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('rotation_in_progress');
    expect(emergency.status).toBe(200);
    expect(emergency.body.previous_secret_expires_at).toBeNull();
    expect([signedWith.original.status, signedWith.first.status, signedWith.emergency.status]).toEqual([401, 401, 202]);
  });

  it('the body is checked: the overlap is a whole number of seconds in 0..86,400, and a body is required', async () => {
    // Prepare
    const p = await provider('Careful GPU');
    // Act
    const replies = await Promise.all([{ expires_in_s: 86_401 }, { expires_in_s: -1 }, { expires_in_s: 1.5 }, { expires_in_s: '60' }, { overlap: 60 }].map((b) => rollProvider(p, b)));
    const noBody = await rollProvider(p, undefined);
    const unchanged = await report(p.id, p.webhook_secret);
    // Assess
    expect(replies.map((r) => r.status)).toEqual([400, 400, 400, 400, 400]);
    expect(replies.slice(0, 4).map((r) => r.body.error.param)).toEqual(['expires_in_s', 'expires_in_s', 'expires_in_s', 'expires_in_s']);
    expect(noBody.status).toBe(400);
    expect(unchanged.status).toBe(202); // nothing was rolled
  });

  it('only the provider itself: no key 401, another role 403, another provider 404; nothing changes', async () => {
    // Prepare
    const p = await provider('Owner GPU');
    const other = await provider('Other GPU');
    // Act
    const noKey = await call('POST', `/v1/providers/${p.id}/webhook-secret/roll`, { body: {} });
    const roles = await Promise.all([rt.adminKey, lender.key, startup.key].map((key) => rollProvider(p, {}, key)));
    const otherProvider = await rollProvider(p, {}, other.key);
    const unknown = await call('POST', '/v1/providers/prv_doesNotExist01/webhook-secret/roll', { key: p.key, body: {} });
    const unchanged = await report(p.id, p.webhook_secret);
    const own = await rollProvider(p, { expires_in_s: 0 });
    // Assess
    expect(noKey.status).toBe(401);
    expect(roles.map((r) => r.status)).toEqual([403, 403, 403]);
    expect([otherProvider.status, unknown.status]).toEqual([404, 404]);
    expect(otherProvider.body).toEqual(unknown.body); // another provider's id looks like none
    expect(unchanged.status).toBe(202);
    expect(own.status).toBe(200);
  });
});

describe("an endpoint's signing secret", () => {
  async function facility(): Promise<string> {
    const r = await call('POST', '/v1/facilities', { key: lender.key, body: { startup_id: startup.id, principal_micros: 1_000_000_000, multiplier: 1.25, term_months: 12, origination_fee_bps: 200, servicing_fee_bps: 75 } });
    expect(r.status).toBe(201);
    return r.body.id;
  }

  async function endpoint(key = lender.key) {
    const rec = new Receiver();
    receivers.push(rec);
    const r = await call('POST', '/v1/webhook-endpoints', { key, body: { url: await rec.start(), events: ['facility.frozen', 'facility.unfrozen'] } });
    expect(r.status).toBe(201);
    rec.secret = r.body.secret;
    return { rec, id: r.body.id as string, secret: r.body.secret as string };
  }

  /** Which of `secrets` verify a delivery as received (the provider kit's verifier, one secret at a time). */
  const verifiedBy = (d: { body: string; signature: string; eventId: string }, secrets: string[]) =>
    secrets.map((s) => verifyWebhook({ 'x-compux-signature': d.signature, 'x-compux-event-id': d.eventId }, d.body, s, { nowSeconds: nowS() }).ok);

  it('rolled with an overlap: a delivery during it verifies with either secret, one after it with the new secret only', async () => {
    // Prepare
    const fac = await facility();
    const hook = await endpoint();
    // Act
    const rolled = await rollEndpoint(hook.id, { expires_in_s: OVERLAP_S });
    hook.rec.secret = rolled.body.secret; // the receiver switches at once; either secret would verify until the expiry
    await call('POST', `/v1/facilities/${fac}/freeze`, { key: lender.key, body: { reason: 'roll test' } });
    await until('the delivery during the overlap', () => hook.rec.deliveries.length, (n) => n >= 1);
    const listed = await call('GET', '/v1/webhook-endpoints', { key: lender.key });
    await after(rolled.body.previous_secret_expires_at);
    await call('POST', `/v1/facilities/${fac}/unfreeze`, { key: lender.key });
    await until('the delivery after the overlap', () => hook.rec.deliveries.length, (n) => n >= 2);
    // Assess
    const [during, afterwards] = hook.rec.deliveries;
    expect(rolled.status).toBe(200);
    expect(rolled.body).toMatchObject({ id: hook.id, object: 'webhook_endpoint', secret: expect.stringMatching(/^whsec_/), secret_rolled_at: expect.any(String), previous_secret_expires_at: expect.any(String) });
    expect(rolled.body.secret).not.toBe(hook.secret);
    expect(during!.signature.match(/v1=/g)).toHaveLength(2);
    expect(verifiedBy(during!, [hook.secret, rolled.body.secret])).toEqual([true, true]);
    expect(afterwards!.signature.match(/v1=/g)).toHaveLength(1);
    expect(verifiedBy(afterwards!, [hook.secret, rolled.body.secret])).toEqual([false, true]);
    expect([during!.status, afterwards!.status]).toEqual([200, 200]);
    const mine = listed.body.data.find((e: { id: string }) => e.id === hook.id);
    expect(mine).toEqual({ id: hook.id, object: 'webhook_endpoint', url: expect.any(String), events: ['facility.frozen', 'facility.unfrozen'], created_at: expect.any(String), secret_rolled_at: rolled.body.secret_rolled_at, previous_secret_expires_at: rolled.body.previous_secret_expires_at });
  });

  it('a roll during the overlap is refused (409); one keeping no overlap leaves only the new secret signing', async () => {
    // Prepare
    const fac = await facility();
    const hook = await endpoint();
    // Act
    const first = await rollEndpoint(hook.id, {});
    const again = await rollEndpoint(hook.id, { expires_in_s: 60 });
    const emergency = await rollEndpoint(hook.id, { expires_in_s: 0 });
    hook.rec.secret = emergency.body.secret;
    await call('POST', `/v1/facilities/${fac}/freeze`, { key: lender.key, body: { reason: 'leak' } });
    await until('the delivery', () => hook.rec.deliveries.length, (n) => n >= 1);
    // Assess
    expect(first.status).toBe(200);
    expect(Date.parse(first.body.previous_secret_expires_at) - Date.parse(first.body.secret_rolled_at)).toBe(3_600_000);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('rotation_in_progress');
    expect(emergency.status).toBe(200);
    expect(emergency.body.previous_secret_expires_at).toBeNull();
    expect(verifiedBy(hook.rec.deliveries[0]!, [hook.secret, first.body.secret, emergency.body.secret])).toEqual([false, false, true]);
  });

  it('only the owning tenant: no key 401, an operator 403, another tenant 404, a deleted endpoint 404; nothing changes', async () => {
    // Prepare
    const fac = await facility();
    const hook = await endpoint();
    const gone = await endpoint();
    await call('DELETE', `/v1/webhook-endpoints/${gone.id}`, { key: lender.key });
    const p = await provider('Tenant GPU');
    // Act
    const noKey = await call('POST', `/v1/webhook-endpoints/${hook.id}/secret/roll`, { body: {} });
    const operator = await rollEndpoint(hook.id, {}, rt.adminKey);
    const others = await Promise.all([startup.key, p.key].map((key) => rollEndpoint(hook.id, {}, key)));
    const unknown = await rollEndpoint('whe_doesNotExist0001', {});
    const deleted = await rollEndpoint(gone.id, {});
    await call('POST', `/v1/facilities/${fac}/freeze`, { key: lender.key, body: { reason: 'tenancy' } });
    await until('the delivery', () => hook.rec.deliveries.length, (n) => n >= 1);
    // Assess
    expect(noKey.status).toBe(401);
    expect(operator.status).toBe(403);
    expect(others.map((r) => r.status)).toEqual([404, 404]);
    expect(others[0]!.body).toEqual(unknown.body); // another tenant's endpoint looks like none
    expect(deleted.status).toBe(404);
    const d = hook.rec.deliveries[0]!;
    expect(d.signature.match(/v1=/g)).toHaveLength(1); // not rolled
    expect(verifiedBy(d, [hook.secret])).toEqual([true]);
  });
});

describe('secrets stored before rolls existed', () => {
  it('a provider secret item and an endpoint item without a version roll like the others, then are versioned', async () => {
    // Prepare: the items as they were written before this change (no version, no previous secret).
    const p = await provider('Legacy GPU');
    await rt.doc.send(new PutCommand({ TableName: rt.tableName, Item: { pk: `PROVIDER#${p.id}`, sk: 'SECRET', type: 'provider_secret', webhook_secret: p.webhook_secret, created_at: nowIso() } }));
    const ep = await call('POST', '/v1/webhook-endpoints', { key: lender.key, body: { url: 'http://127.0.0.1:9/legacy', events: ['credits.low'] } });
    await rt.doc.send(new UpdateCommand({ TableName: rt.tableName, Key: { pk: `WEBHOOKS#${lender.id}`, sk: `EP#${ep.body.id}` }, UpdateExpression: 'REMOVE secret_version, previous_secret, previous_secret_expires_at, rolled_at' }));
    const legacyList = await call('GET', '/v1/webhook-endpoints', { key: lender.key });
    // Act
    const providerRoll = await rollProvider(p, { expires_in_s: 60 });
    const signedWith = { old: await report(p.id, p.webhook_secret), fresh: await report(p.id, providerRoll.body.secret) };
    const providerAgain = await rollProvider(p, { expires_in_s: 60 });
    const endpointRoll = await rollEndpoint(ep.body.id, { expires_in_s: 60 });
    const endpointAgain = await rollEndpoint(ep.body.id, { expires_in_s: 60 });
    // Assess
    expect(legacyList.body.data.find((e: { id: string }) => e.id === ep.body.id)).toMatchObject({ secret_rolled_at: null, previous_secret_expires_at: null });
    expect(providerRoll.status).toBe(200);
    expect([signedWith.old.status, signedWith.fresh.status]).toEqual([202, 202]);
    expect(providerAgain.status).toBe(409);
    expect(endpointRoll.status).toBe(200);
    expect(endpointRoll.body.secret).not.toBe(ep.body.secret);
    expect(endpointAgain.status).toBe(409);
  });
});

describe('grants', () => {
  it('no handler stepped outside its row', () => expect(rt.denials).toEqual([]));
});
