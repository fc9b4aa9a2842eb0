/** Startup-facing routes through the runtime: its own keys (create, list, revoke) and GET /v1/credits. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';

let rt: TestRuntime;
let call: ReturnType<typeof client>;

beforeAll(async () => {
  rt = await startTestRuntime('startup');
  call = client(rt.baseUrl);
});
afterAll(async () => rt?.stop());

/** A startup with a first key made by the operator, and a lender that funded it twice. */
async function fundedStartup() {
  const s = (await call('POST', '/v1/admin/startups', { key: rt.adminKey, body: { name: 'Sprout', segment: 'series_a' } })).body.id as string;
  const key = (await call('POST', `/v1/admin/startups/${s}/keys`, { key: rt.adminKey, body: { name: 'first' } })).body.key as string;
  const l = (await call('POST', '/v1/admin/lenders', { key: rt.adminKey, body: { name: 'Fund' } })).body;
  const open = (principal_micros: number, term_months: number) =>
    call('POST', '/v1/facilities', { key: l.key, body: { startup_id: s, principal_micros, multiplier: 1.25, term_months, origination_fee_bps: 100, servicing_fee_bps: 50 } });
  const late = (await open(8_000_000, 24)).body;
  const early = (await open(4_000_000, 6)).body;
  return { startup: s, key, lender: l, late, early };
}

describe('a startup manages its own keys', () => {
  it('creates a key with limits, sees it listed without secrets, and a revoked key stops working at once', async () => {
    // Prepare
    const { key } = await fundedStartup();
    // Act
    const made = await call('POST', '/v1/keys', { key, body: { name: 'batch jobs', budget_micros: 5_000_000, models: ['llama-3.1-70b-instruct'], rpm: 30, tpm: 20_000 } });
    const listed = await call('GET', '/v1/keys', { key });
    const works = await call('GET', '/v1/credits', { key: made.body.key });
    const revoked = await call('DELETE', `/v1/keys/${made.body.id}`, { key });
    const after = await call('GET', '/v1/credits', { key: made.body.key });
    const again = await call('DELETE', `/v1/keys/${made.body.id}`, { key });
    // Assess
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ name: 'batch jobs', budget_micros: 5_000_000, models: ['llama-3.1-70b-instruct'], rpm: 30, tpm: 20_000, revoked_at: null, key: expect.stringMatching(/^cx_startup_/) });
    expect(listed.body.data.map((k: { name: string }) => k.name)).toEqual(['batch jobs', 'first']);
    for (const k of listed.body.data) {
      expect(k).not.toHaveProperty('key');
      expect(k).not.toHaveProperty('key_sha256');
    }
    expect(works.status).toBe(200);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked_at).toEqual(expect.any(String));
    expect(after.status).toBe(401);
    expect(again.body.revoked_at).toBe(revoked.body.revoked_at);
  });

  it("cannot see or revoke another startup's key, and other roles may not use these routes", async () => {
    const a = await fundedStartup();
    const b = await fundedStartup();
    const bKeys = (await call('GET', '/v1/keys', { key: b.key })).body.data;
    expect((await call('DELETE', `/v1/keys/${bKeys[0].id}`, { key: a.key })).status).toBe(404);
    expect((await call('GET', '/v1/credits', { key: b.key })).status).toBe(200);
    expect((await call('GET', '/v1/keys', { key: a.lender.key })).status).toBe(403);
    expect((await call('GET', '/v1/credits', { key: rt.adminKey })).status).toBe(403);
  });

  it.each([
    ['rpm of zero', { name: 'x', rpm: 0 }, 'rpm'],
    ['a negative budget', { name: 'x', budget_micros: -1 }, 'budget_micros'],
    ['models that is not a list', { name: 'x', models: 'gpt-4' }, 'models'],
    ['no name', { rpm: 5 }, 'name'],
    ['an unknown field', { name: 'x', admin: true }, null],
  ])('refuses a key with %s, and makes none', async (_n, body, param) => {
    const { key } = await fundedStartup();
    const r = await call('POST', '/v1/keys', { key, body });
    expect(r.status).toBe(400);
    if (param) expect(r.body.error.param).toBe(param);
    expect((await call('GET', '/v1/keys', { key })).body.data).toHaveLength(1);
  });
});

describe('GET /v1/credits', () => {
  it('shows every facility in draw order with totals; a frozen facility is not available', async () => {
    // Prepare: 10 M + 5 M micros of credit; spend 2 M (drawn from the earliest term end first).
    const { startup, key, lender, early, late } = await fundedStartup();
    const h = await rt.credits.reserve({ startup_id: startup, amount_micros: 3_000_000, idempotency_key: 'x', request_hash: 'h' });
    if (!h.ok) throw new Error(h.code);
    await rt.credits.settle(h.hold.id, 2_000_000);
    // Act
    const before = (await call('GET', '/v1/credits', { key })).body;
    await call('POST', `/v1/facilities/${early.id}/freeze`, { key: lender.key, body: { reason: 'late payment' } });
    const after = (await call('GET', '/v1/credits', { key })).body;
    // Assess
    expect(before).toMatchObject({ object: 'credits', granted_micros: 15_000_000, spent_micros: 2_000_000, reserved_micros: 0, available_micros: 13_000_000, frozen_micros: 0 });
    expect(before.facilities.map((f: { id: string }) => f.id)).toEqual([early.id, late.id]);
    expect(before.facilities[0]).toMatchObject({ spent_micros: 2_000_000, available_micros: 3_000_000, burn_24h_micros: 2_000_000 });
    expect(after).toMatchObject({ available_micros: 10_000_000, frozen_micros: 3_000_000 });
    expect(after.facilities[0]).toMatchObject({ status: 'frozen' });
    expect(after.facilities[0]).not.toHaveProperty('lender_id');
  });
});
