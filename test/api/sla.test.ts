/**
 * SLA standing against the demo world (three live simulated providers of llama-3.1-70b-instruct on the
 * standard tier, Cirrus ranked first): real traffic and the sla-probe schedule's probes feed the 30-day
 * standing; a breach records an alert, lowers Cirrus's rank and moves traffic; meeting the tier again
 * raises it back, and the provider hears of both (sla.breach, sla.recovered). The schedule's handler is invoked as EventBridge would (the runtime's scheduler is off,
 * so runs happen exactly when the test says).
 */
import OpenAI from 'openai';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEDULES } from '../../infra/schedules.js';
import { DynamoSla } from '../../packages/core/src/adapters/dynamodb/index.js';
import { nowIso, nowMs } from '../../packages/core/src/clock.js';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';
import { Receiver, until } from './receiver.js';

let rt: TestRuntime;
let openai: OpenAI;
let call: ReturnType<typeof client>;
const LLAMA = 'llama-3.1-70b-instruct';
const CIRRUS = 'prv_demoCirrus01';

beforeAll(async () => {
  rt = await startTestRuntime('sla', { demo: {} });
  openai = new OpenAI({ apiKey: rt.world!.startupKey, baseURL: `${rt.baseUrl}/v1`, maxRetries: 0 });
  call = client(rt.baseUrl);
});
const hooks: Receiver[] = [];
afterAll(async () => {
  await Promise.all(hooks.map((h) => h.stop()));
  await rt?.world?.stop();
  await rt?.stop();
});

async function probeRun(): Promise<{ probes: number; failed: number; alerts: number }> {
  const row = SCHEDULES.find((s) => s.name === 'sla-probe')!;
  if (!('handler' in row.target)) throw new Error('sla-probe targets a handler');
  const h = await rt.resolveHandler(row.target.handler);
  return (await h({ 'detail-type': 'Scheduled Event', source: 'aws.events', time: nowIso(), detail: {} }, { awsRequestId: `probe-${nowMs()}`, functionName: 'sla-probe', getRemainingTimeInMillis: () => 60_000 })) as { probes: number; failed: number; alerts: number };
}
async function routing(id: string) {
  return (await rt.doc.send(new GetCommand({ TableName: rt.tableName, Key: { pk: 'ROUTING', sk: `PROVIDER#${id}` }, ConsistentRead: true }))).Item!.provider;
}
async function streamOnce(): Promise<string | null> {
  const { data, response } = await openai.chat.completions.create({ model: LLAMA, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, stream: true }).withResponse();
  for await (const _ of data) {
    // read to the end: the request settles and records its SLA sample
  }
  return response.headers.get('x-compux-provider');
}

describe('SLA standing', () => {
  it('a breach records an alert, lowers the rank and moves traffic; meeting the tier again moves it back', async () => {
    // Prepare: Cirrus listens for its SLA events; it serves; then its first token slows to 650 ms (standard
    // tier: p95 under 500 ms).
    const hook = new Receiver();
    hooks.push(hook);
    const made = await call('POST', '/v1/webhook-endpoints', { key: rt.world!.providerSecrets.get(CIRRUS)!.key!, body: { url: await hook.start(), events: ['sla.breach', 'sla.recovered'] } });
    hook.secret = made.body.secret;
    const before = await streamOnce();
    const cirrus = rt.world!.simulators.get(CIRRUS)!;
    cirrus.setOptions({ ttftMs: 650 });
    // Act: real traffic (24 streamed requests) lands on Cirrus, then one probe run judges the window.
    const slow = await Promise.all(Array.from({ length: 24 }, () => streamOnce()));
    const run = await probeRun();
    const breached = await routing(CIRRUS);
    const view = await call('GET', `/v1/providers/${CIRRUS}/sla`, { key: rt.adminKey });
    const after = await streamOnce();
    const quiet = await probeRun(); // nothing changed: no second alert
    // Act: Cirrus is fast again and a month of good probes outweighs the slow burst (recorded in bulk,
    // as the schedule would over days), then the next probe run judges the window.
    cirrus.setOptions({ ttftMs: 0 });
    const now = nowIso();
    await new DynamoSla(rt.doc, rt.tableName).record(Array.from({ length: 1_000 }, () => ({ provider_id: CIRRUS, endpoint_id: `${CIRRUS}_ep1`, source: 'probe' as const, ok: true, latency_ms: 40, at: now })));
    const recoveredRun = await probeRun();
    const recovered = await routing(CIRRUS);
    const back = await streamOnce();
    const alerts = (await call('GET', `/v1/providers/${CIRRUS}/sla?limit=10`, { key: rt.adminKey })).body.alerts;
    const told = await until('both SLA events delivered', () => hook.deliveries.map((d) => d.event?.type), (t) => t.length >= 2);
    // Assess
    expect(made.status).toBe(201);
    expect(told).toEqual(['sla.breach', 'sla.recovered']);
    expect(hook.deliveries.every((d) => d.verified)).toBe(true);
    expect(hook.deliveries[0]!.event!.data).toMatchObject({ provider_id: CIRRUS, kind: 'breach', tier: 'standard' });
    expect(before).toBe(CIRRUS);
    expect(slow.every((p) => p === CIRRUS)).toBe(true);
    expect(run).toMatchObject({ probes: 3, failed: 0, alerts: 1 });
    expect(breached.sla_meeting).toBe(false);
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ provider_id: CIRRUS, tier: 'standard', meeting: false, judged: true, routing_meeting: false, errors: 0 });
    expect(view.body.latency_ms_p95).toBeGreaterThanOrEqual(700); // 650 ms lies in the [600, 700) bucket
    expect(view.body.samples).toBeGreaterThanOrEqual(26); // 2 fast + 24 slow from traffic, 1 probe
    expect(view.body.reasons[0]).toMatch(/p95 time to first token is not under 500 ms/);
    expect(view.body.alerts[0]).toMatchObject({ kind: 'breach', tier: 'standard', latency_ms_p95: view.body.latency_ms_p95 });
    expect(after).not.toBe(CIRRUS);
    expect(quiet.alerts).toBe(0);
    expect(recoveredRun.alerts).toBe(1);
    expect(recovered.sla_meeting).toBe(true);
    expect(back).toBe(CIRRUS);
    expect(alerts.map((a: { kind: string }) => a.kind)).toEqual(['recovered', 'breach']);
  });

  it('a provider sees only its own SLA; errors count against uptime and show as recent errors', async () => {
    // Prepare: Basalt fails every request (its probes too).
    const basalt = 'prv_demoBasalt01';
    rt.world!.simulators.get(basalt)!.setOptions({ fault: 'http_503' });
    const key = rt.world!.providerSecrets.get('prv_demoAurora01')!.key!;
    const start = (await call('GET', `/v1/providers/${basalt}/sla`, { key: rt.adminKey })).body;
    // Act
    for (let i = 0; i < 3; i++) await probeRun();
    const mine = await call('GET', '/v1/providers/prv_demoAurora01/sla', { key });
    const theirs = await call('GET', `/v1/providers/${basalt}/sla`, { key });
    const view = await call('GET', `/v1/providers/${basalt}/sla`, { key: rt.adminKey });
    const r = await routing(basalt);
    rt.world!.simulators.get(basalt)!.setOptions({ fault: null });
    // Assess
    expect(mine.status).toBe(200);
    expect(theirs.status).toBe(404);
    const samples = start.samples + 3;
    const errors = start.errors + 3;
    const ppm = Math.floor(((samples - errors) * 1_000_000) / samples);
    const errorPpm = Math.floor((errors * 1_000_000) / samples);
    // All samples are from this hour, so the recent error rate is the window's.
    expect(view.body).toMatchObject({ samples, errors, uptime_ppm: ppm, judged: false, meeting: true, recent_error_ppm: errorPpm });
    expect(errors).toBeGreaterThan(0);
    expect(r.recent_error_ppm).toBe(errorPpm);
  });
});
