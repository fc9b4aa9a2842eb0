/**
 * Key budgets that reset (SPEC §12) through the runtime: a startup's key with a daily budget and a soft
 * threshold shows the day's budget left and when it resets; once the day's spend reaches the threshold the
 * covenant-check schedule tells the startup `key.budget_low`, signed, once; bad budget terms are refused by
 * field; only the startup's own keys are shown to it. (The reset itself, at midnight with an injected clock, is
 * test/ledger/key-budgets.dynamodb.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { periodWindow } from '../../packages/core/src/index.js';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';
import { Receiver, until } from './receiver.js';
import { runSchedule } from './schedule.js';

process.env.COMPUX_WEBHOOK_BACKOFF_BASE_S = '1';

const LLAMA = 'llama-3.1-70b-instruct';
let rt: TestRuntime;
let call: ReturnType<typeof client>;
const receivers: Receiver[] = [];

beforeAll(async () => {
  rt = await startTestRuntime('key-budgets', { demo: {} });
  call = client(rt.baseUrl);
});
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.stop()));
  await rt?.stop();
});

type CheckReport = { key_budget_low: { keys: number; told: number; failures: number } };
const newKey = (body: Record<string, unknown>) => call('POST', '/v1/keys', { key: rt.world!.startupKey, body: { name: 'budgeted', ...body } });
const chatWith = (key: string) => call('POST', '/v1/chat/completions', { key, body: { model: LLAMA, messages: [{ role: 'user', content: 'spend a little' }], max_tokens: 16 } });

describe('key budgets that reset', () => {
  it("tells the startup once a day's spend reaches the key's soft threshold, and shows the day's budget left", async () => {
    // Prepare: the startup's endpoint, a key of 5 USD a day with a threshold of 1 micro, one request on it
    const rec = new Receiver();
    receivers.push(rec);
    const hook = await call('POST', '/v1/webhook-endpoints', { key: rt.world!.startupKey, body: { url: await rec.start(), events: ['key.budget_low'] } });
    rec.secret = hook.body.secret;
    const made = await newKey({ budget_micros: 5_000_000, budget_period: 'daily', budget_soft_micros: 1 });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const served = await chatWith(made.body.key);
    expect(served.status).toBe(200);
    await rt.drainLeases();
    // Act: two runs of the schedule
    const first = await runSchedule<CheckReport>(rt, 'covenant-check');
    const second = await runSchedule<CheckReport>(rt, 'covenant-check');
    await until('the key.budget_low delivery', () => rec.deliveries.length, (n) => n >= 1);
    const listed = await call('GET', '/v1/keys', { key: rt.world!.startupKey });
    // Assess
    const today = periodWindow('daily', new Date(made.body.created_at));
    expect(first.key_budget_low.told).toBe(1);
    expect(second.key_budget_low.told).toBe(0);
    expect(rec.applied.size).toBe(1);
    expect(rec.deliveries[0]!.verified).toBe(true);
    expect(rec.deliveries[0]!.event).toMatchObject({ type: 'key.budget_low', data: { key_id: made.body.id, period_id: today.id, budget_micros: 5_000_000, budget_soft_micros: 1 } });
    const view = listed.body.data.find((k: { id: string }) => k.id === made.body.id);
    expect(view).toMatchObject({ budget_period: 'daily', budget_soft_micros: 1, budget_resets_at: expect.any(String) });
    expect(view.budget_left_micros).toBeLessThan(5_000_000);
    expect(Date.parse(view.budget_resets_at)).toBeGreaterThan(Date.parse(made.body.created_at));
  });

  it('refuses a period or a soft threshold without a budget, and a threshold at the budget, naming the field', async () => {
    // Act
    const periodAlone = await newKey({ budget_period: 'weekly' });
    const softAtBudget = await newKey({ budget_micros: 1_000, budget_soft_micros: 1_000 });
    const badPeriod = await newKey({ budget_micros: 1_000, budget_period: 'hourly' });
    // Assess
    expect(periodAlone.status).toBe(400);
    expect(periodAlone.body.error).toMatchObject({ code: 'invalid_budget', param: 'budget_period' });
    expect(softAtBudget.body.error).toMatchObject({ code: 'invalid_budget', param: 'budget_soft_micros' });
    expect(badPeriod.status).toBe(400);
  });

  it('a key whose period budget is spent is refused with key_budget_exceeded', async () => {
    // Prepare: a budget of 1 micro a month, below any request's hold
    const made = await newKey({ budget_micros: 1, budget_period: 'monthly' });
    // Act
    const refused = await chatWith(made.body.key);
    // Assess
    expect(refused.status).toBe(402);
    expect(refused.body.error.code).toBe('key_budget_exceeded');
  });
});
