/**
 * Credit leases through the API (SPEC §2, §3), as `npm start` and AWS run them: a request is paid from the
 * runtime's lease in memory and written after its reply; draining the holder puts it in the ledger to the
 * micro. A caller's Idempotency-Key is still honoured; a freeze states its exposure; a strict facility has none.
 */
import OpenAI from 'openai';
import { requestRecords } from '../setup/records.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';
import { ACCOUNT_SHARDS } from '../../infra/table.js';
import { auditAll, nowMs } from '../../packages/core/src/index.js';

const LLAMA = 'llama-3.1-70b-instruct';
const messages = [{ role: 'user' as const, content: 'Say something about leases.' }];

let rt: TestRuntime;
let call: ReturnType<typeof client>;
let ai: OpenAI;

beforeAll(async () => {
  process.env.COMPUX_LEASE_RESERVE_S = '30';
  process.env.COMPUX_LEASE_SPEND_S = '60';
  rt = await startTestRuntime('leases-api', { demo: {}, leases: true });
  call = client(rt.baseUrl);
  ai = new OpenAI({ apiKey: rt.world!.startupKey, baseURL: `${rt.baseUrl}/v1`, maxRetries: 0, timeout: 30_000 });
});
afterAll(async () => rt?.stop());

type Credits = { available_micros: number; reserved_micros: number; leased_micros: number; spent_micros: number; granted_micros: number };
const credits = async () => (await call('GET', '/v1/credits', { key: rt.world!.startupKey })).body as Credits;

/** The request's records once its flush landed (within the invocation, after the reply; up to 20 ms later when it lingers for others). */
async function recordOf(requestId: string) {
  for (let i = 0; ; i++) {
    const found = (await requestRecords(rt.doc, rt.tableName, rt.world!.startupId)).filter((r) => r.request_id === requestId);
    if (found.length > 0 || i === 40) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('leased requests', () => {
  it('are paid from the lease, recorded after the reply, and in the ledger to the micro once the holder drains', async () => {
    // Prepare
    await rt.drainLeases();
    const before = await credits();
    // Act
    const { data, response } = await ai.chat.completions.create({ model: LLAMA, messages, max_tokens: 20 }).withResponse();
    const during = await credits();
    const records = await recordOf(response.headers.get('x-request-id')!);
    await rt.drainLeases();
    const after = await credits();
    // Assess
    const cost = Number(response.headers.get('x-compux-cost-micros'));
    expect(data.object).toBe('chat.completion');
    expect(cost).toBeGreaterThan(0);
    expect(during.leased_micros).toBeGreaterThan(0); // the lease is out while the holder keeps it
    expect(records).toHaveLength(1); // written within the invocation, after the reply
    expect(records[0]).toMatchObject({ cost_micros: cost, lease_id: expect.stringMatching(/^lse_/) });
    expect(after.leased_micros).toBe(0);
    expect(after.spent_micros - before.spent_micros).toBe(cost);
    expect(before.available_micros - after.available_micros).toBe(cost);
    expect(await auditAll(rt.store, ACCOUNT_SHARDS)).toMatchObject({ ok: true, balance_sum_micros: 0 });
  });

  it('a reused Idempotency-Key is refused with 409 and billed once', async () => {
    // Prepare
    await rt.drainLeases();
    const before = await credits();
    const headers = { 'Idempotency-Key': `lease-idem-${Date.now()}` };
    const first = await ai.chat.completions.create({ model: LLAMA, messages, max_tokens: 5 }, { headers }).withResponse();
    // Act
    const second = await ai.chat.completions.create({ model: LLAMA, messages, max_tokens: 5 }, { headers }).catch((e: unknown) => e);
    await rt.drainLeases();
    const after = await credits();
    // Assess
    expect(second).toBeInstanceOf(OpenAI.ConflictError);
    expect(after.spent_micros - before.spent_micros).toBe(Number(first.response.headers.get('x-compux-cost-micros')));
  });

  it('a freeze states what leases may still spend and until when; the next request is refused', async () => {
    // Prepare: a lease is out
    await ai.chat.completions.create({ model: LLAMA, messages, max_tokens: 5 });
    const leased = (await credits()).leased_micros;
    // Act
    const t0 = nowMs();
    const frozen = await call('POST', `/v1/facilities/${rt.world!.facilityId}/freeze`, { key: rt.world!.lenderKey!, body: { reason: 'test' } });
    // Assess
    expect(frozen.status).toBe(200);
    const body = frozen.body as { status: string; exposure_micros_max: number; exposure_ends_at: string };
    expect(body.status).toBe('frozen');
    expect(leased).toBeGreaterThan(0);
    expect(body.exposure_micros_max).toBe(leased);
    expect(Date.parse(body.exposure_ends_at)).toBeGreaterThanOrEqual(t0 + 90_000);
    expect(Date.parse(body.exposure_ends_at)).toBeLessThanOrEqual(nowMs() + 90_000);
    // Leased credit may still be spent (bounded); once the holder returns it, nothing can be drawn.
    await rt.drainLeases();
    const refused = await ai.chat.completions.create({ model: LLAMA, messages, max_tokens: 5 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.PermissionDeniedError);
    const unfrozen = await call('POST', `/v1/facilities/${rt.world!.facilityId}/unfreeze`, { key: rt.world!.lenderKey! });
    expect(unfrozen.status).toBe(200);
  });
});
