/**
 * The webhook events the state machines emit (SPEC §12), through the local runtime: the real routes start the
 * provider-validation and provider-settlement ASL in the local interpreter, whose task handlers run under their
 * rows' grants (table access and `sends`, as on AWS) and emit to the webhook-deliveries queue; its consumer posts
 * to receivers here, which verify every delivery with the provider kit.
 *
 * - provider.validation.completed: a provider that passes validation hears `passed`, one whose endpoint serves a
 *   forged relay token hears `failed`; a retried ReturnToIntegration task tells it no second time;
 * - statement.issued: a provider hears of its monthly statement with its figures; a retried IssueStatement task
 *   tells it no second time.
 */
import { randomUUID } from 'node:crypto';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKFLOWS } from '../../infra/workflows.js';
import { Credits, monthOf, now, nowS, requestEconomics, shiftPeriod } from '../../packages/core/src/index.js';
import { RelayVerifier } from '../../packages/provider-kit/src/index.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../packages/simulator/src/index.js';
import { createLambdaContext, functionNameFor, invokeHandler } from '../../local/lambda.js';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';
import { Receiver, sleep, until } from './receiver.js';

// Every application here comes from 127.0.0.1; a validation run of a few probes (onboarding.test.ts runs the full counts).
process.env.COMPUX_APPLICATIONS_PER_MINUTE = '50';
process.env.COMPUX_VALIDATION_RELIABILITY_PROBES = '2';
process.env.COMPUX_VALIDATION_LATENCY_PROBES = '2';
process.env.COMPUX_VALIDATION_THROUGHPUT_STREAMS = '1';

let rt: TestRuntime;
let call: ReturnType<typeof client>;
const sims: Simulator[] = [];
const receivers: Receiver[] = [];
const AURORA = 'prv_demoAurora01';
/** Settleable at any hour: two months before the open one. */
const PERIOD = shiftPeriod(monthOf(now()), -2);

beforeAll(async () => {
  rt = await startTestRuntime('workflow-events', { demo: {} });
  call = client(rt.baseUrl);
});
afterAll(async () => {
  await Promise.all([...sims.map((s) => s.stop()), ...receivers.map((r) => r.stop())]);
  await rt?.world?.stop();
  await rt?.stop();
});

/** A receiver registered as `key`'s endpoint for `events`; it learns the secret shown once. */
async function endpoint(key: string, events: string[]): Promise<Receiver> {
  const rec = new Receiver();
  receivers.push(rec);
  const r = await call('POST', '/v1/webhook-endpoints', { key, body: { url: await rec.start(), events } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  rec.secret = r.body.secret;
  return rec;
}

/** Applies, is approved and registers one simulator endpoint serving `model` on the standard tier. */
async function integrate(name: string, model: string, sim: SimulatorOptions & { checkTokens: boolean }): Promise<{ id: string; key: string }> {
  const app = (await call('POST', '/v1/providers', { body: { name, contact_email: 'ops@events.example', regions: ['us-east-1'], accelerators: ['H100'] } })).body;
  const { checkTokens, ...simOpts } = sim;
  const relay = new RelayVerifier({ providerId: app.id, jwksUrl: `${rt.baseUrl}/v1/relay/keys`, nowS });
  const s = await startSimulator({ models: [{ id: model, context_length: 32_768, accelerator: 'H100' }], ...(checkTokens ? { verifyToken: async (t: string) => (await relay.verify(t)).ok } : {}), ...simOpts });
  sims.push(s);
  const steps = [
    await call('POST', `/v1/admin/providers/${app.id}/review`, { key: rt.adminKey, body: { decision: 'approve' } }),
    await call('PUT', `/v1/providers/${app.id}/endpoints`, {
      key: app.key, body: { endpoints: [{ id: `${app.id}_e1`, url: `${s.url}/v1`, region: 'us-east-1', availability_zone: 'us-east-1a', capacity_type: 'dedicated', accelerators: ['H100'] }] },
    }),
    await call('PUT', `/v1/providers/${app.id}/models`, {
      key: app.key, body: { models: [{ model, kind: 'chat', architecture: 'qwen', context_length: 32_768, accelerator: 'H100', prompt_tokens_per_gpu_second: 3_000, completion_tokens_per_gpu_second: 60 }] },
    }),
    await call('PUT', `/v1/providers/${app.id}/sla`, { key: app.key, body: { tier: 'standard' } }),
  ];
  expect(steps.map((r) => r.status)).toEqual([200, 200, 200, 200]);
  return { id: app.id, key: app.key };
}

/** Starts an execution through `path` and waits for it to end. */
async function runToEnd(path: string, key: string) {
  const started = await call('POST', path, { key });
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  const sfn = new SFNClient({ endpoint: rt.endpoints.sfn });
  for (let i = 0; i < 1_200; i++) {
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn: started.body.execution_id }));
    if (d.status !== 'RUNNING') return d;
    await sleep(100);
  }
  throw new Error(`${path}: the execution did not end in 120 s`);
}

/** A workflow task's handler invoked again with `input`, as Step Functions retries it: under its row's grant. */
async function retryTask(workflow: string, taskName: string, input: unknown): Promise<unknown> {
  const task = WORKFLOWS.find((w) => w.name === workflow)!.tasks[taskName]!;
  const context = createLambdaContext({ functionName: functionNameFor(task.handler), timeoutMs: 30_000 });
  return invokeHandler(await rt.resolveHandler(task.handler), input, context, 30_000, rt.grants.for(task));
}

/** The tenant's events of one type, newest first. */
async function eventsOf(key: string, type: string): Promise<Array<{ id: string; type: string; data: Record<string, any> }>> {
  const r = await call('GET', '/v1/events?limit=100', { key });
  expect(r.status).toBe(200);
  return r.body.data.filter((e: { type: string }) => e.type === type);
}

/** "step:result" of each step an event's data carries. */
const stepResults = (data: Record<string, unknown>) => (data.steps as Array<{ step: string; result: string }>).map((s) => `${s.step}:${s.result}`);

describe('provider.validation.completed', () => {
  it('a provider that passes validation hears it, signed, with every step and its end', async () => {
    // Prepare
    const p = await integrate('Passing Events GPU', 'qwen-2.5-72b-instruct', { checkTokens: true, ttftMs: 20, tokensPerSecond: 500, completionTokens: 8 });
    const hook = await endpoint(p.key, ['provider.validation.completed']);

    // Act
    const execution = await runToEnd(`/v1/providers/${p.id}/validation`, p.key);
    const [delivery] = await until('the validation event', () => hook.deliveries, (d) => d.length >= 1);
    const record = (await call('GET', `/v1/providers/${p.id}`, { key: p.key })).body;
    const listed = await eventsOf(p.key, 'provider.validation.completed');

    // Assess
    expect(execution.status).toBe('SUCCEEDED');
    expect(delivery).toMatchObject({ verified: true, status: 200, event: { type: 'provider.validation.completed' } });
    const live = record.steps.at(-1);
    expect(live).toMatchObject({ step: 'live', result: 'passed' });
    expect(delivery!.event!.data).toEqual({
      provider_id: p.id, result: 'passed', status: 'live', completed_at: live.at,
      steps: record.steps.slice(-6).map(({ step, result, at, detail }: Record<string, string>) => ({ step, result, at, detail })),
    });
    expect(stepResults(delivery!.event!.data)).toEqual([
      'relay_handshake:passed', 'reliability:passed', 'throughput:passed', 'sla_latency:passed', 'pricing_review:passed', 'live:passed',
    ]);
    expect(listed.map((e) => e.id)).toEqual([delivery!.eventId]);
    expect(rt.denials).toEqual([]);
  });

  it('a provider that fails validation hears it with the failed step and the status it is back in', async () => {
    // Prepare: the endpoint checks no relay token, so the handshake's forged one is served.
    const p = await integrate('Failing Events GPU', 'phi-3-medium', { checkTokens: false, tokensPerSecond: 500, completionTokens: 8 });
    const hook = await endpoint(p.key, ['provider.validation.completed']);

    // Act
    const execution = await runToEnd(`/v1/providers/${p.id}/validation`, p.key);
    const [delivery] = await until('the validation event', () => hook.deliveries, (d) => d.length >= 1);
    const record = (await call('GET', `/v1/providers/${p.id}`, { key: p.key })).body;

    // Assess
    expect(execution.status).toBe('FAILED');
    expect(delivery).toMatchObject({ verified: true, event: { type: 'provider.validation.completed' } });
    const data = delivery!.event!.data;
    expect(data).toMatchObject({ provider_id: p.id, result: 'failed', status: 'integration', completed_at: record.steps.at(-1).at });
    expect(stepResults(data)).toEqual(['relay_handshake:failed', 'validation:failed']);
    expect((data.steps as Array<{ detail: string }>)[0]!.detail).toMatch(/forged relay token was served/);
    expect(rt.denials).toEqual([]);
  });

  it('a retried ReturnToIntegration task tells the provider no second time', async () => {
    // Prepare
    const p = await integrate('Retried Events GPU', 'gemma-2-27b-it', { checkTokens: false, tokensPerSecond: 500, completionTokens: 8 });
    const hook = await endpoint(p.key, ['provider.validation.completed']);
    await runToEnd(`/v1/providers/${p.id}/validation`, p.key);
    await until('the validation event', () => hook.deliveries, (d) => d.length >= 1);

    // Act: the task again, with the input the machine gave it (as a Retry after a lost reply would).
    const again = await retryTask('provider-validation', 'ReturnToIntegrationFn', { provider_id: p.id, results: { relay_handshake: { passed: false, detail: 'forged' } } });
    await sleep(1_000); // room for a second delivery, were one queued
    const listed = await eventsOf(p.key, 'provider.validation.completed');

    // Assess
    expect(again).toMatchObject({ provider_id: p.id, status: 'integration' });
    expect(listed).toHaveLength(1);
    expect(hook.deliveries.map((d) => d.eventId)).toEqual([listed[0]!.id]);
    expect(rt.denials).toEqual([]);
  });
});

describe('statement.issued', () => {
  let hook: Receiver;
  let auroraKey: string;
  let spent: ReturnType<typeof requestEconomics>;

  beforeAll(async () => {
    // Prepare: Aurora listens for statements and served one request in the month; then the month is settled.
    auroraKey = rt.world!.providerSecrets.get(AURORA)!.key!;
    hook = await endpoint(auroraKey, ['statement.issued']);
    spent = requestEconomics(40_000, 10_000, { prompt_tokens_per_gpu_second: 1, completion_tokens_per_gpu_second: 1 }, 2_490_000);
    const at = `${PERIOD}-15T12:00:00.000Z`;
    const credits = new Credits(rt.store, () => new Date(at));
    const requestId = randomUUID();
    const held = await credits.reserve({ startup_id: rt.world!.startupId, amount_micros: spent.cost_micros, idempotency_key: requestId, request_hash: requestId });
    if (!held.ok) throw new Error(`reserve: ${held.code}`);
    const closed = await credits.closeWithUsage(held.hold, spent.cost_micros, {
      request_id: requestId, startup_id: rt.world!.startupId, key_id: 'key_workflow_events', hold_id: held.hold.id, workload: 'chat', model: 'llama-3.1-70b-instruct',
      provider_id: AURORA, endpoint_id: `${AURORA}_ep1`, accelerator: 'H100', stream: false, outcome: 'ok', status_code: 200, attempts: 1,
      prompt_tokens: 40_000, completion_tokens: 10_000, estimated: false, ...spent, spot_micros_per_gpu_hour: 2_490_000, latency_ms: 5, ttft_ms: null, created_at: at,
    });
    if (!closed.ok) throw new Error(`close: ${closed.code}`);
    const execution = await runToEnd(`/v1/admin/settlements/${PERIOD}`, rt.adminKey);
    expect(execution.status).toBe('SUCCEEDED');
  });

  it("reaches the provider, signed, with the statement's figures", async () => {
    // Act
    const [delivery] = await until('the statement event', () => hook.deliveries, (d) => d.length >= 1);
    const { lines, ...figures } = (await call('GET', `/v1/providers/${AURORA}/statements/${PERIOD}`, { key: auroraKey })).body;

    // Assess
    expect(delivery).toMatchObject({ verified: true, status: 200, event: { type: 'statement.issued' } });
    expect(delivery!.event!.data).toEqual({ ...figures, line_count: lines.length });
    expect(delivery!.event!.data).toMatchObject({
      provider_id: AURORA, period: PERIOD, requests: 1, spend_micros: spent.cost_micros, earnings_micros: spent.provider_micros, payable_micros: spent.provider_micros,
    });
    expect(rt.denials).toEqual([]);
  });

  it('is told once when the IssueStatement task is retried', async () => {
    // Prepare
    await until('the statement event', () => hook.deliveries, (d) => d.length >= 1);

    // Act: the task again after the statement is stored (a Retry after a lost reply finds it issued).
    const again = await retryTask('provider-settlement', 'IssueStatementFn', { provider_id: AURORA, period: PERIOD, done: true, issued: false });
    await sleep(1_000); // room for a second delivery, were one queued
    const listed = (await eventsOf(auroraKey, 'statement.issued')).filter((e) => e.data.period === PERIOD);

    // Assess
    expect(again).toEqual({ provider_id: AURORA, ok: true, code: null });
    expect(listed).toHaveLength(1);
    expect(hook.deliveries.map((d) => d.eventId)).toEqual([listed[0]!.id]);
    expect(rt.denials).toEqual([]);
  });
});
