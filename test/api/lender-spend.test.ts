/**
 * The lender's spend by provider and by model (SPEC §3) through the API, as `npm start` runs it (credit leases):
 * a facility's spend per day, provider and model is written with each lease's close, and the burn route adds it
 * up; by provider, by model and by day each come to what the facility spent, to the micro.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';

let rt: TestRuntime;
let call: ReturnType<typeof client>;
let ai: OpenAI;

beforeAll(async () => {
  rt = await startTestRuntime('lender-spend', { demo: {}, leases: true });
  call = client(rt.baseUrl);
  ai = new OpenAI({ apiKey: rt.world!.startupKey, baseURL: `${rt.baseUrl}/v1`, maxRetries: 0, timeout: 30_000 });
});
afterAll(async () => rt?.stop());

type Burn = { daily: { day: string; spent_micros: number }[]; by_provider: { provider_id: string; spent_micros: number }[]; by_model: { model: string; spent_micros: number }[] };
const burn = async () => (await call('GET', `/v1/facilities/${rt.world!.facilityId}/burn?days=7`, { key: rt.world!.lenderKey! })).body as Burn;
const spent = async () => (await call('GET', `/v1/facilities/${rt.world!.facilityId}`, { key: rt.world!.lenderKey! })).body.spent_micros as number;
const sum = (xs: { spent_micros: number }[]) => xs.reduce((s, x) => s + x.spent_micros, 0);

describe("the lender's spend by provider and by model", () => {
  it('adds up, by provider, by model and by day, to what the facility spent, once its leases have closed', async () => {
    // Prepare
    await rt.drainLeases();
    const before = { burn: await burn(), spent: await spent() };
    // Act: two chat models (one served by a single provider) and an embedding model
    await ai.chat.completions.create({ model: 'llama-3.1-70b-instruct', messages: [{ role: 'user', content: 'one' }], max_tokens: 12 });
    await ai.chat.completions.create({ model: 'llama-3.1-70b-instruct', messages: [{ role: 'user', content: 'two' }], max_tokens: 12 });
    await ai.chat.completions.create({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'three' }], max_tokens: 12 });
    await ai.embeddings.create({ model: 'text-embedding-3-small', input: 'four words to embed '.repeat(2_000) }); // long enough to cost whole micros
    await rt.drainLeases();
    const after = { burn: await burn(), spent: await spent() };
    // Assess
    const delta = after.spent - before.spent;
    expect(delta).toBeGreaterThan(0);
    expect(sum(after.burn.by_model) - sum(before.burn.by_model)).toBe(delta);
    expect(sum(after.burn.by_provider) - sum(before.burn.by_provider)).toBe(delta);
    expect(sum(after.burn.daily) - sum(before.burn.daily)).toBe(delta);
    expect(after.burn.by_model.map((m) => m.model).sort()).toEqual(['llama-3.1-70b-instruct', 'llama-3.1-8b-instruct', 'text-embedding-3-small']);
    expect(after.burn.by_provider.map((p) => p.provider_id)).toEqual(expect.arrayContaining(['prv_demoBasalt01', 'prv_demoAurora01']));
    // Most spent first
    expect(after.burn.by_model.map((m) => m.spent_micros)).toEqual([...after.burn.by_model.map((m) => m.spent_micros)].sort((a, b) => b - a));
  });

  it('is the lender\'s alone: another lender gets 404', async () => {
    // Prepare
    const other = await call('POST', '/v1/admin/lenders', { key: rt.adminKey, body: { name: 'Nosy Capital' } });
    // Act
    const r = await call('GET', `/v1/facilities/${rt.world!.facilityId}/burn?days=7`, { key: other.body.key });
    // Assess
    expect(r.status).toBe(404);
  });
});
