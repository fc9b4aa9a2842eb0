/**
 * 50 concurrent requests on a startup whose credit covers 10 of them (issue 3, point 6): at most 10
 * succeed, the rest get 402, and nothing is overspent. The request is built so that its metered cost
 * equals its hold (an empty prompt, whose byte bound equals its token count, and a reply that always
 * runs to max_tokens), so settled requests free nothing that an 11th could use.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';
import { startSimulator, type Simulator } from '../../packages/simulator/src/index.js';
import { auditAll, chatPromptUpperBound, nowIso, countChatPromptTokens, maxCostMicros, requestEconomics, type RoutingProvider } from '../../packages/core/src/index.js';
import { DynamoCatalog } from '../../packages/core/src/adapters/dynamodb/index.js';
import { DEMO_SPOT } from '../../local/demo.js';
import { ACCOUNT_SHARDS } from '../../infra/table.js';

const MODEL = 'burst-model';
const RATES = { prompt_tokens_per_gpu_second: 1_000, completion_tokens_per_gpu_second: 1 };
const MAX_TOKENS = 1_000;
const messages = [{ role: 'user' as const, content: '' }];

let rt: TestRuntime;
let sim: Simulator;
let call: ReturnType<typeof client>;

beforeAll(async () => {
  rt = await startTestRuntime('overspend', { demo: {} });
  call = client(rt.baseUrl);
  // Slow first token: every request has reserved before the first one settles.
  sim = await startSimulator({ models: [{ id: MODEL, context_length: 8_192 }], completionTokens: 4_000, ttftMs: 400 });
  const provider: RoutingProvider = {
    id: 'prv_burstOnly01', name: 'Burst (simulated)', status: 'live', sla_tier: 'standard', sla_meeting: true, recent_error_ppm: 0, listed_gpu_hours_month: 5_000,
    endpoints: [{ id: 'prv_burstOnly01_ep1', url: `${sim.url}/v1`, region: 'us-east-1', availability_zone: 'us-east-1a', capacity_type: 'dedicated', accelerators: ['H100'] }],
    models: [{ model: MODEL, kind: 'chat', architecture: 'llama', context_length: 8_192, accelerator: 'H100', ...RATES }],
    capacity: [{ accelerator: 'H100', region: 'us-east-1', availability_zone: 'us-east-1a', available_gpu_hours: 100 }],
    maintenance: [], updated_at: nowIso(),
  };
  await new DynamoCatalog(rt.doc, rt.tableName).putProvider(provider);
});
afterAll(async () => {
  await sim?.stop();
  await rt?.stop();
});

describe('concurrent requests never overspend', () => {
  it('50 at once on credit for 10: at most 10 succeed, the rest get 402, spend is exact', async () => {
    // Prepare
    expect(chatPromptUpperBound(messages)).toBe(countChatPromptTokens(messages)); // the bound is exact for this prompt
    const hold = maxCostMicros(chatPromptUpperBound(messages), MAX_TOKENS, 8_192, RATES, DEMO_SPOT.H100);
    const cost = requestEconomics(countChatPromptTokens(messages), MAX_TOKENS, RATES, DEMO_SPOT.H100).cost_micros;
    expect(hold - cost).toBeLessThanOrEqual(1);
    const startup = (await call('POST', '/v1/admin/startups', { key: rt.adminKey, body: { name: 'Burst', segment: 'seed' } })).body.id;
    const key = (await call('POST', `/v1/admin/startups/${startup}/keys`, { key: rt.adminKey, body: { name: 'k' } })).body.key;
    const lender = (await call('POST', '/v1/admin/lenders', { key: rt.adminKey, body: { name: 'L' } })).body;
    // principal × 1.25 = 10 holds exactly
    const opened = await call('POST', '/v1/facilities', {
      key: lender.key, body: { startup_id: startup, principal_micros: 8 * hold, multiplier: 1.25, term_months: 6, origination_fee_bps: 100, servicing_fee_bps: 50 },
    });
    expect(opened.status).toBe(201);
    const ai = new OpenAI({ apiKey: key, baseURL: `${rt.baseUrl}/v1`, maxRetries: 0, timeout: 60_000 });
    // Act
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => ai.chat.completions.create({ model: MODEL, messages, max_tokens: MAX_TOKENS }).withResponse()));
    const credits = (await call('GET', '/v1/credits', { key })).body;
    const audit = await auditAll(rt.store, ACCOUNT_SHARDS);
    // Assess
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as InstanceType<typeof OpenAI.APIError>] : []));
    expect(ok.length).toBeGreaterThan(0);
    expect(ok.length).toBeLessThanOrEqual(10);
    expect(refused.map((e) => [e.status, e.code])).toEqual(refused.map(() => [402, 'exceeds_credit']));
    const billed = ok.reduce((s, r) => s + Number((r as PromiseFulfilledResult<{ response: Response }>).value.response.headers.get('x-compux-cost-micros')), 0);
    expect(billed).toBe(ok.length * cost);
    expect(credits.spent_micros).toBe(billed);
    expect(credits.reserved_micros).toBe(0);
    expect(credits.available_micros).toBe(credits.granted_micros - billed);
    expect(credits.available_micros).toBeGreaterThanOrEqual(0);
    expect(credits.available_micros).toBeLessThan(hold);
    expect(audit.ok).toBe(true);
  });
});
