/**
 * The management API (SPEC §10) through the one-machine runtime: real HTTP, the same handlers the stack
 * deploys, DynamoDB Local. Operator and lender routes, validation, tenancy, idempotency, freeze, recovery.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../infra/routes.js';
import { facilityAccount } from '../../packages/core/src/index.js';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';

let rt: TestRuntime;
let call: ReturnType<typeof client>;

beforeAll(async () => {
  rt = await startTestRuntime('mgmt');
  call = client(rt.baseUrl);
});
afterAll(async () => rt?.stop());

const op = () => rt.adminKey;

async function startup(name = 'Acme AI') {
  const r = await call('POST', '/v1/admin/startups', { key: op(), body: { name, segment: 'seed' } });
  expect(r.status).toBe(201);
  return r.body.id as string;
}

async function lender(name = 'Capital One') {
  const r = await call('POST', '/v1/admin/lenders', { key: op(), body: { name } });
  expect(r.status).toBe(201);
  return { id: r.body.id as string, key: r.body.key as string };
}

const terms = (startup_id: string, over: Record<string, unknown> = {}) => ({
  startup_id, principal_micros: 1_000_000_000, multiplier: 1.25, term_months: 12, origination_fee_bps: 200, servicing_fee_bps: 75, ...over,
});

describe('meta', () => {
  it('describes every route in /openapi.json from the validating schemas', async () => {
    // Act
    const r = await call('GET', '/openapi.json');
    // Assess
    expect(r.status).toBe(200);
    for (const route of ROUTES) expect(r.body.paths[route.path]?.[route.method.toLowerCase()], `${route.method} ${route.path}`).toBeDefined();
    const open = r.body.paths['/v1/facilities'].post.requestBody.content['application/json'].schema;
    expect(open.properties.multiplier).toMatchObject({ minimum: 1.25, maximum: 1.5 });
    expect(open.additionalProperties).toBe(false);
    expect(r.headers.get('x-request-id')).toBeTruthy();
  });

  it.each([
    ['no key', undefined, 401, 'invalid_api_key'],
    ['a wrong key', 'cx_lender_not-a-real-key', 401, 'invalid_api_key'],
  ])('refuses %s with OpenAI-shaped errors', async (_n, key, status, code) => {
    const r = await call('POST', '/v1/admin/startups', { key, body: { name: 'x', segment: 'seed' } });
    expect(r.status).toBe(status);
    expect(r.body).toEqual({ error: { message: expect.any(String), type: 'authentication_error', param: null, code } });
  });

  it('answers an unknown route with a 404 in the error shape, carrying x-request-id', async () => {
    const r = await call('GET', '/v1/nothing-here');
    expect(r.status).toBe(404);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', code: 'not_found' });
    expect(r.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses a lender key on an operator route with 403', async () => {
    const l = await lender();
    const r = await call('POST', '/v1/admin/startups', { key: l.key, body: { name: 'x', segment: 'seed' } });
    expect(r.status).toBe(403);
    expect(r.body.error.type).toBe('permission_error');
  });
});

describe('keys are shown once and stored only as a hash', () => {
  it('a replayed lender or key creation returns the same object without the secret; no item holds a secret', async () => {
    // Prepare
    const headers = { 'idempotency-key': 'lender-once' };
    const s = await startup();
    // Act
    const first = await call('POST', '/v1/admin/lenders', { key: op(), body: { name: 'Once' }, headers });
    const again = await call('POST', '/v1/admin/lenders', { key: op(), body: { name: 'Once' }, headers });
    const k1 = await call('POST', `/v1/admin/startups/${s}/keys`, { key: op(), body: { name: 'ci', rpm: 60 }, headers: { 'idempotency-key': 'key-once' } });
    const k2 = await call('POST', `/v1/admin/startups/${s}/keys`, { key: op(), body: { name: 'ci', rpm: 60 }, headers: { 'idempotency-key': 'key-once' } });
    // Assess
    expect(first.body.key).toMatch(/^cx_lender_[A-Za-z0-9]{32}$/);
    expect(again.status).toBe(201);
    expect(again.body).toEqual({ ...first.body, key: null });
    expect(k1.body).toMatchObject({ name: 'ci', rpm: 60, budget_micros: null, key: expect.stringMatching(/^cx_startup_/) });
    expect(k1.body).not.toHaveProperty('key_sha256');
    expect(k2.body).toEqual({ ...k1.body, key: null });
    const { ScanCommand } = await import('@aws-sdk/lib-dynamodb');
    const dump = JSON.stringify((await rt.doc.send(new ScanCommand({ TableName: rt.tableName }))).Items);
    expect(dump).not.toContain(first.body.key);
    expect(dump).not.toContain(k1.body.key);
    // The secret works; the lender's id in the replay is the same lender.
    expect((await call('GET', '/v1/facilities', { key: first.body.key })).status).toBe(200);
  });

  it('refuses a key for an unknown startup with 404', async () => {
    const r = await call('POST', '/v1/admin/startups/stu_doesnotexist00000/keys', { key: op(), body: { name: 'x' } });
    expect(r.status).toBe(404);
  });
});

describe('facilities', () => {
  it('opens a facility granting floor(principal × multiplier) and shows the figures', async () => {
    // Prepare
    const s = await startup();
    const l = await lender();
    // Act
    const r = await call('POST', '/v1/facilities', { key: l.key, body: terms(s, { principal_micros: 1_000_003, multiplier: 1.3333 }) });
    // Assess
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      lender_id: l.id, startup_id: s, granted_micros: 1_333_303, available_micros: 1_333_303, spent_micros: 0, reserved_micros: 0, frozen_micros: 0,
      multiplier: 1.3333, multiplier_bps: 13_333, status: 'active', runway_days: null,
    });
    const got = await call('GET', `/v1/facilities/${r.body.id}`, { key: l.key });
    expect(got.status).toBe(200);
    expect(got.body).toEqual(r.body);
  });

  it.each([
    ['multiplier below 1.25', { multiplier: 1.24 }, 'multiplier'],
    ['multiplier above 1.50', { multiplier: 1.51 }, 'multiplier'],
    ['multiplier with 5 decimals', { multiplier: 1.33333 }, 'multiplier'],
    ['multiplier as a string', { multiplier: '1.25' }, 'multiplier'],
    ['zero principal', { principal_micros: 0 }, 'principal_micros'],
    ['negative principal', { principal_micros: -5 }, 'principal_micros'],
    ['fractional principal', { principal_micros: 1_000_000.5 }, 'principal_micros'],
    ['huge principal', { principal_micros: 10 ** 16 }, 'principal_micros'],
    ['origination fee of 0.5 %', { origination_fee_bps: 50 }, 'origination_fee_bps'],
    ['origination fee of 3.01 %', { origination_fee_bps: 301 }, 'origination_fee_bps'],
    ['servicing fee of 1.5 %', { servicing_fee_bps: 150 }, 'servicing_fee_bps'],
    ['term of 0 months', { term_months: 0 }, 'term_months'],
    ['an unknown field', { colour: 'red' }, null],
    ['a malformed startup id', { startup_id: 'robert"); drop' }, 'startup_id'],
  ])('refuses %s with a 400 naming the field, and opens nothing', async (_n, over, param) => {
    // Prepare
    const s = await startup();
    const l = await lender();
    // Act
    const r = await call('POST', '/v1/facilities', { key: l.key, body: terms(s, over) });
    // Assess
    expect(r.status).toBe(400);
    expect(r.body.error.type).toBe('invalid_request_error');
    if (param) {
      expect(r.body.error.param).toBe(param);
      expect(r.body.error.message).toContain(param);
    }
    expect((await call('GET', '/v1/facilities', { key: l.key })).body.data).toEqual([]);
  });

  it.each([
    ['not JSON', '{"startup_id": '],
    ['a JSON array', '[]'],
    ['empty', ''],
  ])('refuses a body that is %s', async (_n, raw) => {
    const l = await lender();
    const r = await call('POST', '/v1/facilities', { key: l.key, raw });
    expect(r.status).toBe(400);
    expect((await call('GET', '/v1/facilities', { key: l.key })).body.data).toEqual([]);
  });

  it('404s a facility for an unknown startup', async () => {
    const l = await lender();
    const r = await call('POST', '/v1/facilities', { key: l.key, body: terms('stu_doesnotexist00000') });
    expect(r.status).toBe(404);
  });

  it('replays an Idempotency-Key and 409s the same key with another body', async () => {
    // Prepare
    const s = await startup();
    const l = await lender();
    const headers = { 'idempotency-key': 'open-once-123' };
    // Act
    const first = await call('POST', '/v1/facilities', { key: l.key, body: terms(s), headers });
    const again = await call('POST', '/v1/facilities', { key: l.key, body: terms(s), headers });
    const other = await call('POST', '/v1/facilities', { key: l.key, body: terms(s, { principal_micros: 5_000_000 }), headers });
    // Assess
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('idempotency_conflict');
    const list = await call('GET', '/v1/facilities', { key: l.key });
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0].granted_micros).toBe(1_250_000_000);
  });

  it("gives 404 to another lender for every facility route, and lets an operator in", async () => {
    // Prepare
    const s = await startup();
    const a = await lender('A');
    const b = await lender('B');
    const f = (await call('POST', '/v1/facilities', { key: a.key, body: terms(s) })).body;
    // Act + Assess
    for (const [method, path, body] of [
      ['GET', `/v1/facilities/${f.id}`, undefined],
      ['POST', `/v1/facilities/${f.id}/freeze`, { reason: 'mine now' }],
      ['POST', `/v1/facilities/${f.id}/unfreeze`, undefined],
      ['POST', `/v1/facilities/${f.id}/recover`, undefined],
      ['GET', `/v1/facilities/${f.id}/stream`, undefined],
    ] as const) {
      const r = await call(method, path, { key: b.key, body });
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.body.error.type).toBe('not_found_error');
    }
    expect((await call('GET', '/v1/facilities', { key: b.key })).body.data).toEqual([]);
    expect((await call('GET', `/v1/facilities/${f.id}`, { key: a.key })).body.status).toBe('active');
    expect((await call('GET', `/v1/facilities/${f.id}`, { key: op() })).status).toBe(200);
    expect((await call('GET', `/v1/facilities?lender_id=${a.id}`, { key: op() })).body.data.map((x: { id: string }) => x.id)).toEqual([f.id]);
  });

  it('pages with limit and cursor, and refuses a forged cursor', async () => {
    // Prepare
    const l = await lender();
    const other = await lender();
    for (let i = 0; i < 3; i++) expect((await call('POST', '/v1/facilities', { key: l.key, body: terms(await startup()) })).status).toBe(201);
    await call('POST', '/v1/facilities', { key: other.key, body: terms(await startup()) });
    // Act
    const p1 = await call('GET', '/v1/facilities?limit=2', { key: l.key });
    const p2 = await call('GET', `/v1/facilities?limit=2&cursor=${p1.body.next_cursor}`, { key: l.key });
    const forged = await call('GET', `/v1/facilities?cursor=${p1.body.next_cursor}`, { key: other.key });
    const junk = await call('GET', '/v1/facilities?cursor=bm9wZQ', { key: l.key });
    const tooMany = await call('GET', '/v1/facilities?limit=1000', { key: l.key });
    // Assess
    expect(p1.body.data).toHaveLength(2);
    expect(p1.body.next_cursor).toEqual(expect.any(String));
    expect(p2.body.data).toHaveLength(1);
    expect(new Set([...p1.body.data, ...p2.body.data].map((x: { id: string }) => x.id)).size).toBe(3);
    expect(forged.status).toBe(400);
    expect(junk.status).toBe(400);
    expect(tooMany.status).toBe(400);
  });
});

describe('freeze, unfreeze, recover', () => {
  it('freezing blocks new reservations at once; unfreeze restores; figures follow spend', async () => {
    // Prepare
    const s = await startup();
    const l = await lender();
    const f = (await call('POST', '/v1/facilities', { key: l.key, body: terms(s) })).body;
    const hold = await rt.credits.reserve({ startup_id: s, amount_micros: 300_000_000, idempotency_key: 'h1', request_hash: 'h' });
    if (!hold.ok) throw new Error(hold.code);
    await rt.credits.settle(hold.hold.id, 100_000_000);
    const open = await rt.credits.reserve({ startup_id: s, amount_micros: 50_000_000, idempotency_key: 'h2', request_hash: 'h' });
    // Act
    const frozen = await call('POST', `/v1/facilities/${f.id}/freeze`, { key: l.key, body: { reason: 'missed payment' } });
    const refused = await rt.credits.reserve({ startup_id: s, amount_micros: 1, idempotency_key: 'h3', request_hash: 'h' });
    // Assess
    expect(frozen.status).toBe(200);
    expect(frozen.body).toMatchObject({
      status: 'frozen', frozen_reason: 'missed payment', spent_micros: 100_000_000, reserved_micros: 50_000_000,
      available_micros: 1_100_000_000, frozen_micros: 1_100_000_000, burn_24h_micros: 100_000_000, granted_micros: 1_250_000_000,
    });
    expect(frozen.body.runway_days).toBe(11);
    expect(refused).toEqual({ ok: false, code: 'facility_frozen' });
    // A hold taken before the freeze still settles.
    if (!open.ok) throw new Error(open.code);
    expect(await rt.credits.settle(open.hold.id, 50_000_000)).toMatchObject({ ok: true });
    const unfrozen = await call('POST', `/v1/facilities/${f.id}/unfreeze`, { key: l.key });
    expect(unfrozen.body).toMatchObject({ status: 'active', frozen_micros: 0, spent_micros: 150_000_000 });
    expect(await rt.credits.reserve({ startup_id: s, amount_micros: 1, idempotency_key: 'h4', request_hash: 'h' })).toMatchObject({ ok: true });
  });

  it.each([
    ['an empty reason', { reason: '' }],
    ['no reason', {}],
    ['a 501-character reason', { reason: 'x'.repeat(501) }],
  ])('refuses a freeze with %s and leaves the facility active', async (_n, body) => {
    const s = await startup();
    const l = await lender();
    const f = (await call('POST', '/v1/facilities', { key: l.key, body: terms(s) })).body;
    const r = await call('POST', `/v1/facilities/${f.id}/freeze`, { key: l.key, body });
    expect(r.status).toBe(400);
    expect((await call('GET', `/v1/facilities/${f.id}`, { key: l.key })).body.status).toBe('active');
  });

  it('recovers only a frozen facility, values unspent credit at principal, and replays', async () => {
    // Prepare: 1,000 USD at 1.25 → 1,250 USD credit; 250 USD spent.
    const s = await startup();
    const l = await lender();
    const f = (await call('POST', '/v1/facilities', { key: l.key, body: terms(s) })).body;
    const h = await rt.credits.reserve({ startup_id: s, amount_micros: 250_000_000, idempotency_key: 'spend', request_hash: 'h' });
    if (!h.ok) throw new Error(h.code);
    await rt.credits.settle(h.hold.id, 250_000_000);
    // Act
    const notFrozen = await call('POST', `/v1/facilities/${f.id}/recover`, { key: l.key });
    await call('POST', `/v1/facilities/${f.id}/freeze`, { key: l.key, body: { reason: 'default' } });
    const headers = { 'idempotency-key': 'recover-1' };
    const rec = await call('POST', `/v1/facilities/${f.id}/recover`, { key: l.key, headers });
    const replay = await call('POST', `/v1/facilities/${f.id}/recover`, { key: l.key, headers });
    const again = await call('POST', `/v1/facilities/${f.id}/recover`, { key: l.key, headers: { 'idempotency-key': 'recover-2' } });
    // Assess
    expect(notFrozen.status).toBe(409);
    expect(notFrozen.body.error.code).toBe('facility_not_frozen');
    expect(rec.status).toBe(200);
    expect(rec.body).toMatchObject({ unspent_credits_micros: 1_000_000_000, recovered_principal_micros: 800_000_000, principal_micros: 1_000_000_000, recovery_ratio: 0.8, recovery_ratio_ppm: 800_000 });
    expect(replay.body).toEqual(rec.body);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('already_recovered');
    const after = (await call('GET', `/v1/facilities/${f.id}`, { key: l.key })).body;
    expect(after).toMatchObject({ status: 'recovered', available_micros: 0, recovered_micros: 1_000_000_000, spent_micros: 250_000_000 });
    const bal = await rt.store.getBalances([facilityAccount(f.id, 'recovered')]);
    expect(bal.get(facilityAccount(f.id, 'recovered'))?.balance_micros).toBe(1_000_000_000);
  });

  it('streams the figures as server-sent events and pushes a freeze', async () => {
    // Prepare
    const s = await startup();
    const l = await lender();
    const f = (await call('POST', '/v1/facilities', { key: l.key, body: terms(s) })).body;
    const abort = new AbortController();
    // Act
    const res = await fetch(`${rt.baseUrl}/v1/facilities/${f.id}/stream`, { headers: { authorization: `Bearer ${l.key}` }, signal: abort.signal });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const frames = async (n: number) => {
      while ((text.match(/event: figures/g) ?? []).length < n) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
    };
    await frames(1);
    await call('POST', `/v1/facilities/${f.id}/freeze`, { key: l.key, body: { reason: 'watching' } });
    await frames(2);
    abort.abort();
    // Assess
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events = [...text.matchAll(/event: figures\ndata: (.*)\n\n/g)].map((m) => JSON.parse(m[1]!));
    expect(events[0]).toMatchObject({ id: f.id, status: 'active', available_micros: 1_250_000_000 });
    expect(events[1]).toMatchObject({ id: f.id, status: 'frozen', frozen_micros: 1_250_000_000 });
  });
});
