/**
 * GET /v1/requests/{id} (SPEC §4): a request's record by its x-request-id, for the startup that made it, read with one
 * GetItem of the item written with the request's billing (a lease's flush, or a hold's close). Another startup, a
 * lender and an unknown id all meet the same 404 (or the role's 403).
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestRecords } from '../setup/records.js';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';
import { recordedRequest } from './served.js';

const LLAMA = 'llama-3.1-70b-instruct';
const messages = [{ role: 'user' as const, content: 'Tell me about request records.' }];

let rt: TestRuntime;
let call: ReturnType<typeof client>;
let ai: OpenAI;

beforeAll(async () => {
  rt = await startTestRuntime('requests', { demo: {}, leases: true });
  call = client(rt.baseUrl);
  ai = new OpenAI({ apiKey: rt.world!.startupKey, baseURL: `${rt.baseUrl}/v1`, maxRetries: 0, timeout: 30_000 });
});
afterAll(async () => rt?.stop());

/** The record by id, once written: it lands with the lease's flush, just after the reply's last byte. */
const recordById = (id: string, key = rt.world!.startupKey) => recordedRequest(rt.baseUrl, key, id);

describe('a request by id', () => {
  it('gives the startup its request: the provider, model, tokens, GPU-seconds and cost its reply reported', async () => {
    // Prepare / Act
    const { data, response } = await ai.chat.completions.create({ model: LLAMA, messages, max_tokens: 12 }).withResponse();
    const id = response.headers.get('x-request-id')!;
    const r = await recordById(id);
    // Assess
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({
      id, object: 'request', workload: 'chat', model: LLAMA, provider: response.headers.get('x-compux-provider'), stream: false, outcome: 'ok', status_code: 200,
      prompt_tokens: data.usage!.prompt_tokens, completion_tokens: data.usage!.completion_tokens, total_tokens: data.usage!.total_tokens,
      cost_micros: Number(response.headers.get('x-compux-cost-micros')), estimated: false,
    });
    expect(r.body.gpu_seconds).toBeGreaterThan(0);
    expect(r.body.latency_ms).toBeGreaterThanOrEqual(0);
    expect(r.body.facilities.reduce((s: number, f: { amount_micros: number }) => s + f.amount_micros, 0)).toBe(r.body.cost_micros);
  });

  it('tells the marketplace\'s side apart: no hold, lease, endpoint, provider share or margin reaches the startup', async () => {
    // Prepare
    const { response } = await ai.chat.completions.create({ model: LLAMA, messages, max_tokens: 4 }).withResponse();
    // Act
    const r = await recordById(response.headers.get('x-request-id')!);
    // Assess
    expect(r.status).toBe(200);
    for (const field of ['hold_id', 'lease_id', 'endpoint_id', 'provider_micros', 'margin_micros', 'spot_micros_per_gpu_hour', 'startup_id']) expect(r.body).not.toHaveProperty(field);
  });

  it('records a stream with its time to first token', async () => {
    // Prepare
    const { data: stream, response } = await ai.chat.completions.create({ model: LLAMA, messages, max_tokens: 8, stream: true, stream_options: { include_usage: true } }).withResponse();
    let completion = 0;
    for await (const chunk of stream) completion = chunk.usage?.completion_tokens ?? completion;
    // Act
    const r = await recordById(response.headers.get('x-request-id')!);
    // Assess
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ stream: true, outcome: 'ok', completion_tokens: completion });
    expect(r.body.ttft_ms).toEqual(expect.any(Number));
  });

  it('holds the same figures as the record billing wrote: a lease\'s flush, and a hold\'s close', async () => {
    // Prepare: a startup whose only facility is strict has no lease (SPEC §3): it pays through a hold per request.
    const strict = (await call('POST', '/v1/admin/startups', { key: rt.adminKey, body: { name: 'Strict Co', segment: 'seed' } })).body.id as string;
    const f = await call('POST', '/v1/facilities', { key: rt.world!.lenderKey!, body: { startup_id: strict, principal_micros: 100_000_000, multiplier: 1.25, term_months: 12, origination_fee_bps: 200, servicing_fee_bps: 75, freeze_mode: 'strict' } });
    expect(f.status).toBe(201);
    const strictKey = (await call('POST', `/v1/admin/startups/${strict}/keys`, { key: rt.adminKey, body: { name: 'k' } })).body.key as string;
    const held = new OpenAI({ apiKey: strictKey, baseURL: `${rt.baseUrl}/v1`, maxRetries: 0 });
    const leased = await ai.chat.completions.create({ model: LLAMA, messages, max_tokens: 4 }).withResponse();
    const viaHold = await held.chat.completions.create({ model: LLAMA, messages, max_tokens: 4 }).withResponse();
    const ids = [leased.response.headers.get('x-request-id')!, viaHold.response.headers.get('x-request-id')!];
    // Act
    const byId = await Promise.all([recordById(ids[0]!), recordById(ids[1]!, strictKey)]);
    const stored = [...(await requestRecords(rt.doc, rt.tableName, rt.world!.startupId)), ...(await requestRecords(rt.doc, rt.tableName, strict))];
    // Assess
    const [l, h] = ids.map((id) => stored.find((s) => s.request_id === id)!) as [Record<string, any>, Record<string, any>];
    expect(l.lease_id).toMatch(/^lse_/);
    expect(h.lease_id).toBeUndefined();
    byId.forEach((r, i) => {
      const s = [l, h][i]!;
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ id: s.request_id, cost_micros: s.cost_micros, prompt_tokens: s.prompt_tokens, completion_tokens: s.completion_tokens, key_id: s.key_id, latency_ms: s.latency_ms });
    });
  });

  it('is a 404 for another startup, the same as for an id that names nothing; a lender gets 403', async () => {
    // Prepare
    const { response } = await ai.chat.completions.create({ model: LLAMA, messages, max_tokens: 4 }).withResponse();
    const id = response.headers.get('x-request-id')!;
    expect((await recordById(id)).status).toBe(200);
    const other = (await call('POST', '/v1/admin/startups', { key: rt.adminKey, body: { name: 'Other Co', segment: 'seed' } })).body.id as string;
    const otherKey = (await call('POST', `/v1/admin/startups/${other}/keys`, { key: rt.adminKey, body: { name: 'k' } })).body.key as string;
    // Act
    const theirs = await call('GET', `/v1/requests/${id}`, { key: otherKey });
    const unknown = await call('GET', '/v1/requests/00000000-0000-4000-8000-000000000000', { key: rt.world!.startupKey });
    const lender = await call('GET', `/v1/requests/${id}`, { key: rt.world!.lenderKey! });
    const none = await call('GET', `/v1/requests/${id}`, {});
    // Assess
    expect(theirs.status).toBe(404);
    expect(theirs.body).toEqual(unknown.body);
    expect(unknown.body.error).toMatchObject({ code: 'not_found', param: 'id' });
    expect(lender.status).toBe(403);
    expect(none.status).toBe(401);
  });
});
