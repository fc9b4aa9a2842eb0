/**
 * Pricing routes against the demo world: the operator's spot index with its history, a request priced at
 * the spot in force when it was admitted even if the price changes while it runs, and the revenue calculator.
 */
import { requestRecord } from '../setup/records.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCRUAL_SHARDS, MARKET_SHARDS, accruedAccount, auditAll, derivedId, marginAccount, requestEconomics, salesAccount, shardOf,
} from '../../packages/core/src/index.js';
import { ACCOUNT_SHARDS } from '../../infra/table.js';
import { DEMO_PROVIDERS, DEMO_SPOT } from '../../local/demo.js';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';

let rt: TestRuntime;
let call: ReturnType<typeof client>;
const CIRRUS = 'prv_demoCirrus01';
const LLAMA = 'llama-3.1-70b-instruct';

beforeAll(async () => {
  rt = await startTestRuntime('pricing', { demo: {} });
  call = client(rt.baseUrl);
});
afterAll(async () => {
  await rt?.world?.stop();
  await rt?.stop();
});

const record = async (requestId: string) => (await requestRecord(rt.doc, rt.tableName, rt.world!.startupId, requestId))!;
const ask = () => call('POST', '/v1/chat/completions', { key: rt.world!.startupKey, body: { model: LLAMA, messages: [{ role: 'user', content: 'price me' }], max_tokens: 16 } });

describe('spot index', () => {
  it('the operator sets a price; it is in force at once and kept in the history, newest first', async () => {
    // Act
    const set = await call('PUT', '/v1/admin/spot-prices/A100', { key: rt.adminKey, body: { usd_per_gpu_hour_micros: 1_350_000 } });
    const again = await call('PUT', '/v1/admin/spot-prices/A100', { key: rt.adminKey, body: { usd_per_gpu_hour_micros: 1_400_000 } });
    const list = await call('GET', '/v1/spot-prices', { key: rt.world!.startupKey });
    const history = await call('GET', '/v1/admin/spot-prices/A100/history?limit=2', { key: rt.adminKey });
    const page2 = await call('GET', `/v1/admin/spot-prices/A100/history?limit=2&cursor=${history.body.next_cursor}`, { key: rt.adminKey });
    const unknown = await call('PUT', '/v1/admin/spot-prices/T4', { key: rt.adminKey, body: { usd_per_gpu_hour_micros: 1 } });
    const zero = await call('PUT', '/v1/admin/spot-prices/A100', { key: rt.adminKey, body: { usd_per_gpu_hour_micros: 0 } });
    const byStartup = await call('PUT', '/v1/admin/spot-prices/A100', { key: rt.world!.startupKey, body: { usd_per_gpu_hour_micros: 1 } });
    // Assess
    expect(set.body).toMatchObject({ accelerator: 'A100', usd_per_gpu_hour_micros: 1_350_000, previous_usd_per_gpu_hour_micros: DEMO_SPOT.A100 });
    expect(again.body.previous_usd_per_gpu_hour_micros).toBe(1_350_000);
    expect(list.body.data.find((p: { accelerator: string }) => p.accelerator === 'A100').usd_per_gpu_hour_micros).toBe(1_400_000);
    expect(history.body.data.map((p: { usd_per_gpu_hour_micros: number }) => p.usd_per_gpu_hour_micros)).toEqual([1_400_000, 1_350_000]);
    expect(page2.body.data.map((p: { usd_per_gpu_hour_micros: number }) => p.usd_per_gpu_hour_micros)).toEqual([DEMO_SPOT.A100]);
    expect(unknown.status).toBe(404);
    expect(zero.status).toBe(400);
    expect(byStartup.status).toBe(403);
  });

  it('a request is priced at the spot in force when it was admitted, even if the price changes while it runs', async () => {
    // Prepare: Cirrus (H200) answers after 600 ms.
    rt.world!.simulators.get(CIRRUS)!.setOptions({ ttftMs: 600 });
    const rates = DEMO_PROVIDERS.find((p) => p.id === CIRRUS)!.models.find((m) => m.model === LLAMA)!;
    const before = (await call('GET', '/v1/spot-prices', { key: rt.adminKey })).body.data.find((p: { accelerator: string }) => p.accelerator === 'H200').usd_per_gpu_hour_micros as number;
    // Act: the price rises 3 % while the request is in flight (Cirrus stays the cheapest, so it serves both).
    const raised = Math.round(before * 1.03);
    const inFlight = ask();
    await new Promise((r) => setTimeout(r, 200));
    const change = await call('PUT', '/v1/admin/spot-prices/H200', { key: rt.adminKey, body: { usd_per_gpu_hour_micros: raised } });
    const spanning = await inFlight;
    const after = await ask();
    rt.world!.simulators.get(CIRRUS)!.setOptions({ ttftMs: 0 });
    // Assess
    const r1 = await record(spanning.headers.get('x-request-id')!);
    const r2 = await record(after.headers.get('x-request-id')!);
    expect(change.status).toBe(200);
    expect(spanning.headers.get('x-compux-provider')).toBe(CIRRUS);
    expect(r1.spot_micros_per_gpu_hour).toBe(before);
    expect(r1.cost_micros).toBe(requestEconomics(r1.prompt_tokens, r1.completion_tokens, rates, before).cost_micros);
    expect(Number(spanning.headers.get('x-compux-cost-micros'))).toBe(r1.cost_micros);
    expect(after.headers.get('x-compux-provider')).toBe(CIRRUS);
    expect(r2.spot_micros_per_gpu_hour).toBe(raised);
    expect(r2.cost_micros).toBe(requestEconomics(r2.prompt_tokens, r2.completion_tokens, rates, raised).cost_micros);
    expect(r2.cost_micros).toBeGreaterThan(r1.cost_micros);
  });
});

describe('per-request ledger postings', () => {
  it('a served request posts the startup spend, the provider accrual (85 %) and the marketplace margin, to the micro', async () => {
    // Act
    const res = await ask();
    // Assess
    const r = await record(res.headers.get('x-request-id')!);
    const posting = await rt.store.getPosting(derivedId('pst', r.hold_id, 'close'));
    const period = r.created_at.slice(0, 7);
    const lineOf = (account: string) => posting!.lines.find((l) => l.account === account)?.amount_micros;
    expect(r.cost_micros).toBeGreaterThan(0);
    expect(r.provider_micros + r.margin_micros).toBe(r.cost_micros);
    expect(lineOf(`facility:${rt.world!.facilityId}:spent`)).toBe(r.cost_micros);
    expect(lineOf(salesAccount(period, shardOf(r.request_id, MARKET_SHARDS)))).toBe(-r.cost_micros);
    expect(lineOf(accruedAccount(r.provider_id, period, shardOf(r.request_id, ACCRUAL_SHARDS)))).toBe(r.provider_micros);
    expect(lineOf(marginAccount(period, shardOf(r.request_id, MARKET_SHARDS)))).toBe(r.margin_micros);
    expect(posting!.created_at).toBe(r.created_at);
    expect(await auditAll(rt.store, ACCOUNT_SHARDS)).toMatchObject({ ok: true, balance_sum_micros: 0 });
  });
});

describe('revenue calculator', () => {
  it('gives GPU-hours, tier and revenue at the spot prices in force, exact in micros', async () => {
    // Prepare
    const key = rt.world!.providerSecrets.get('prv_demoAurora01')!.key!;
    const est = (body: unknown) => call('POST', '/v1/providers/revenue-estimate', { key, body });
    // Act
    const small = await est({ lines: [{ accelerator: 'H100', gpus: 8, listed_hours: 720, expected_fill_ppm: 800_000 }] });
    const big = await est({ lines: [{ accelerator: 'H100', gpus: 100, listed_hours: 720, expected_fill_ppm: 1_000_000 }] });
    const huge = await est({ lines: [{ accelerator: 'H100', gpus: 300, listed_hours: 744, expected_fill_ppm: 1_000_000 }] });
    const agreed = await est({ lines: [{ accelerator: 'H100', gpus: 300, listed_hours: 744, expected_fill_ppm: 1_000_000 }], custom_premium_bps: 600 });
    const bad = await est({ lines: [{ accelerator: 'H100', gpus: 8, listed_hours: 745, expected_fill_ppm: 800_000 }] });
    // Assess: H100 spot 2.49 USD/GPU-hour, 85 % to the provider.
    expect(small.body).toMatchObject({ gpu_hours: 4_608, tier: 'base', premium_bps: 0, base_earnings_micros: 9_752_832_000, premium_micros: 0, revenue_micros: 9_752_832_000 });
    expect(big.body).toMatchObject({ gpu_hours: 72_000, tier: 'tier_4', premium_bps: 400, base_earnings_micros: 152_388_000_000, premium_micros: 6_095_520_000, revenue_micros: 158_483_520_000 });
    expect(huge.body).toMatchObject({ gpu_hours: 223_200, tier: 'custom', premium_bps: null, premium_pending: true, premium_micros: 0 });
    expect(agreed.body).toMatchObject({ tier: 'custom', premium_bps: 600, premium_pending: false, premium_micros: Math.round(huge.body.base_earnings_micros * 0.06) });
    expect(bad.status).toBe(400);
  });
});
