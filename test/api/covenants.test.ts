/**
 * Covenants (SPEC §12) through the runtime: the lender sets them on its facility, the covenant-check schedule
 * evaluates them from the facility's own figures, a `freeze` breach freezes the facility (the startup's next
 * request is refused) and is told once, signed, to the lender's endpoint; `notify` only tells. Only the
 * facility's lender sees or sets them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';
import { Receiver, until } from './receiver.js';
import { runSchedule } from './schedule.js';

process.env.COMPUX_WEBHOOK_BACKOFF_BASE_S = '1';

const LLAMA = 'llama-3.1-70b-instruct';
let rt: TestRuntime;
let call: ReturnType<typeof client>;
let lenderKey: string;
const receivers: Receiver[] = [];

beforeAll(async () => {
  rt = await startTestRuntime('covenants', { demo: {} });
  call = client(rt.baseUrl);
  lenderKey = rt.world!.lenderKey!;
});
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.stop()));
  await rt?.stop();
});

/** One run of the covenant-check schedule, as the scheduler runs it (its handler, under its grant). */
const runCheck = () => runSchedule<{ breaches_told: number; frozen: number }>(rt, 'covenant-check');

async function lenderHook(events: string[]) {
  const rec = new Receiver();
  receivers.push(rec);
  const r = await call('POST', '/v1/webhook-endpoints', { key: lenderKey, body: { url: await rec.start(), events } });
  expect(r.status).toBe(201);
  rec.secret = r.body.secret;
  return rec;
}

const chat = () => call('POST', '/v1/chat/completions', { key: rt.world!.startupKey, body: { model: LLAMA, messages: [{ role: 'user', content: 'spend a little' }], max_tokens: 16 } });
const facility = () => call('GET', `/v1/facilities/${rt.world!.facilityId}`, { key: lenderKey });

describe('covenants', () => {
  it('a notify covenant tells its breach once, signed, and leaves the facility as it is', async () => {
    // Prepare: some spend today, and a covenant it breaches
    const hook = await lenderHook(['facility.covenant_breached']);
    expect((await chat()).status).toBe(200);
    const set = await call('PUT', `/v1/facilities/${rt.world!.facilityId}/covenants`, { key: lenderKey, body: { covenants: [{ kind: 'max_spend_24h_micros', threshold: 1, action: 'notify' }] } });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    // Act: two runs of the schedule
    const first = await runCheck();
    const second = await runCheck();
    await until('the breach delivered', () => hook.deliveries.length, (n) => n >= 1);
    // Assess
    expect(first.breaches_told).toBe(1);
    expect(second.breaches_told).toBe(0);
    const read = await call('GET', `/v1/facilities/${rt.world!.facilityId}/covenants`, { key: lenderKey });
    expect(read.body.covenants[0]).toMatchObject({ kind: 'max_spend_24h_micros', action: 'notify', state: { breached: true, breached_since: expect.any(String) } });
    expect(read.body.covenants[0].state.value).toBeGreaterThan(1);
    expect(hook.deliveries.every((d) => d.verified)).toBe(true);
    expect(hook.applied.size).toBe(1);
    expect(hook.deliveries[0]!.event).toMatchObject({ type: 'facility.covenant_breached', data: { covenant: 'max_spend_24h_micros', action: 'notify', threshold: 1 } });
    expect((await facility()).body.status).toBe('active');
  });

  it('a freeze covenant freezes the facility with the covenant as reason, and the startup\'s next request is refused', async () => {
    // Prepare: all of the week's spend is today's, so the 24 h burn is 7× the 7-day daily average
    expect((await chat()).status).toBe(200);
    const set = await call('PUT', `/v1/facilities/${rt.world!.facilityId}/covenants`, { key: lenderKey, body: { covenants: [{ kind: 'max_burn_ratio', threshold: 2, action: 'freeze' }] } });
    expect(set.status).toBe(200);
    // Act
    const run = await runCheck();
    const refused = await chat();
    // Assess
    expect(run).toMatchObject({ breaches_told: 1, frozen: 1 });
    const f = (await facility()).body;
    expect(f.status).toBe('frozen');
    expect(f.frozen_reason).toBe('covenant max_burn_ratio: 7 against threshold 2');
    expect(refused.status).toBe(403);
    // Prepare the next test: the lender lifts the freeze and the covenant
    expect((await call('POST', `/v1/facilities/${rt.world!.facilityId}/unfreeze`, { key: lenderKey })).status).toBe(200);
    expect((await call('PUT', `/v1/facilities/${rt.world!.facilityId}/covenants`, { key: lenderKey, body: { covenants: [] } })).status).toBe(200);
  });

  it('refuses thresholds out of bounds and a kind twice, naming the field', async () => {
    // Act
    const zero = await call('PUT', `/v1/facilities/${rt.world!.facilityId}/covenants`, { key: lenderKey, body: { covenants: [{ kind: 'max_burn_ratio', threshold: 0.5, action: 'notify' }] } });
    const twice = await call('PUT', `/v1/facilities/${rt.world!.facilityId}/covenants`, { key: lenderKey, body: { covenants: [{ kind: 'min_runway_days', threshold: 5, action: 'notify' }, { kind: 'min_runway_days', threshold: 9, action: 'freeze' }] } });
    const fraction = await call('PUT', `/v1/facilities/${rt.world!.facilityId}/covenants`, { key: lenderKey, body: { covenants: [{ kind: 'max_spend_24h_micros', threshold: 1.5, action: 'notify' }] } });
    // Assess
    expect(zero.status).toBe(400);
    expect(zero.body.error).toMatchObject({ code: 'invalid_covenant', param: 'covenants[0].threshold' });
    expect(twice.body.error).toMatchObject({ code: 'invalid_covenant', param: 'covenants[1].kind' });
    expect(fraction.body.error).toMatchObject({ code: 'invalid_covenant', param: 'covenants[0].threshold' });
  });

  it('only the facility\'s lender sees or sets them: another lender gets 404, the startup 403', async () => {
    // Prepare
    const other = await call('POST', '/v1/admin/lenders', { key: rt.adminKey, body: { name: 'Other Capital' } });
    const path = `/v1/facilities/${rt.world!.facilityId}/covenants`;
    // Act
    const otherGet = await call('GET', path, { key: other.body.key });
    const otherPut = await call('PUT', path, { key: other.body.key, body: { covenants: [{ kind: 'min_runway_days', threshold: 5, action: 'freeze' }] } });
    const startupGet = await call('GET', path, { key: rt.world!.startupKey });
    // Assess
    expect(otherGet.status).toBe(404);
    expect(otherPut.status).toBe(404);
    expect(startupGet.status).toBe(403);
    expect((await call('GET', path, { key: lenderKey })).body.covenants).toEqual([]);
  });
});

describe('credits.low', () => {
  it("tells the startup once when a facility's available credit falls below its threshold", async () => {
    // Prepare: a threshold above what the facility has left, and the startup's endpoint
    const rec = new Receiver();
    receivers.push(rec);
    const hook = await call('POST', '/v1/webhook-endpoints', { key: rt.world!.startupKey, body: { url: await rec.start(), events: ['credits.low'] } });
    rec.secret = hook.body.secret;
    const set = await call('PUT', '/v1/credits/alerts', { key: rt.world!.startupKey, body: { alerts: [{ facility_id: rt.world!.facilityId, threshold_micros: 1_000_000_000_000 }] } });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    // Act: two runs of the schedule
    const first = await runCheck();
    const second = await runCheck();
    await until('the credits.low delivery', () => rec.deliveries.length, (n) => n >= 1);
    // Assess
    expect(first).toMatchObject({ credits_low: { told: 1 } });
    expect(second).toMatchObject({ credits_low: { told: 0 } });
    expect(rec.applied.size).toBe(1);
    expect(rec.deliveries[0]!.event).toMatchObject({ type: 'credits.low', data: { facility_id: rt.world!.facilityId, threshold_micros: 1_000_000_000_000 } });
    const read = await call('GET', '/v1/credits/alerts', { key: rt.world!.startupKey });
    expect(read.body.alerts[0].state).toMatchObject({ low: true, low_since: expect.any(String) });
    expect(read.body.alerts[0].state.available_micros).toBeLessThan(1_000_000_000_000);
  });

  it("takes thresholds only on the startup's own facilities, whole micros in bounds; other roles get 403", async () => {
    // Act
    const fraction = await call('PUT', '/v1/credits/alerts', { key: rt.world!.startupKey, body: { alerts: [{ facility_id: rt.world!.facilityId, threshold_micros: 0.5 }] } });
    const foreign = await call('PUT', '/v1/credits/alerts', { key: rt.world!.startupKey, body: { alerts: [{ facility_id: 'fac_notthisstartups01', threshold_micros: 5 }] } });
    const lender = await call('GET', '/v1/credits/alerts', { key: lenderKey });
    // Assess
    expect(fraction.body.error).toMatchObject({ code: 'invalid_alert', param: 'alerts[0].threshold_micros' });
    expect(foreign.status).toBe(404);
    expect(lender.status).toBe(403);
  });
});

