/**
 * Monthly settlement through the real route, the real state machine (the ASL the stack deploys, run by the
 * local interpreter with the same handlers) and DynamoDB Local.
 *
 * Spend is driven the way the gateway drives it — reserve, then closeWithUsage with the request record —
 * but at chosen times in past months, since a month can only be settled after it ends. Economics use
 * declared rates of 1 token per GPU-second, so large GPU-hour totals take few records.
 */
import { randomUUID } from 'node:crypto';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCRUAL_SHARDS, Credits, accruedAccount, auditAll, divHalfEven, monthOf, now, nowIso, payableAccount, requestEconomics, shardOf, shiftPeriod, type RequestEconomics, type Workload,
} from '../../packages/core/src/index.js';
import { usageRecordItem } from '../../packages/core/src/adapters/dynamodb/entities/usage.js';
import { ACCOUNT_SHARDS } from '../../infra/table.js';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';

let rt: TestRuntime;
let call: ReturnType<typeof client>;
let seedStartup: string;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const AURORA = 'prv_demoAurora01';
const BASALT = 'prv_demoBasalt01';
const CIRRUS = 'prv_demoCirrus01';
const RATES = { prompt_tokens_per_gpu_second: 1, completion_tokens_per_gpu_second: 1 };
/** 10M tokens at 1 token per GPU-second: 2,777.7… GPU-hours a record. */
const MAX_TOKENS = 10_000_000;
/**
 * The months this file settles, fixed relative to the CompuX clock (COMPUX_NOW may set it) when the file
 * loads: OCT ("the month settled") is two months before the open one, so it is settleable whatever the day
 * and hour (the month just ended may still be in its grace hour); NOV is the month after it, never settled
 * here. SEP…JUN are earlier months that each scenario owns. The names keep the original story's roles.
 */
const OPEN_AT_LOAD = monthOf(now());
const [NOV, OCT, SEP, AUG, JUL, JUN] = [1, 2, 3, 4, 5, 6].map((n) => shiftPeriod(OPEN_AT_LOAD, -n)) as [string, string, string, string, string, string];
/** The first instant after `period` (`yyyy-mm`), ISO. */
const endOf = (period: string) => `${shiftPeriod(period, 1)}-01T00:00:00.000Z`;
/** The last millisecond of `period`, ISO. */
const lastMs = (period: string) => new Date(Date.parse(endOf(period)) - 1).toISOString();

beforeAll(async () => {
  rt = await startTestRuntime('settlement', { demo: { principalMicros: 80_000_000_000 } });
  call = client(rt.baseUrl);
  // A second startup in another client segment, funded by the demo lender.
  seedStartup = (await call('POST', '/v1/admin/startups', { key: rt.adminKey, body: { name: 'Seed Co', segment: 'seed' } })).body.id;
  const fac = await call('POST', '/v1/facilities', {
    key: rt.world!.lenderKey!,
    body: { startup_id: seedStartup, principal_micros: 10_000_000_000, multiplier: 1.25, term_months: 12, origination_fee_bps: 200, servicing_fee_bps: 75 },
  });
  expect(fac.status).toBe(201);
});
afterAll(async () => {
  await rt?.world?.stop();
  await rt?.stop();
});

interface Spent extends RequestEconomics {
  request_id: string;
  provider_id: string;
  accelerator: string;
  workload: Workload;
  startup_id: string;
}

/** One billed request at `at`: a hold, then the close that writes its record and postings (as the gateway does). */
async function spend(o: { provider: string; accelerator: string; at: string; prompt: number; completion: number; spot: number; workload?: Workload; startup?: string }): Promise<Spent> {
  const startup = o.startup ?? rt.world!.startupId;
  const econ = requestEconomics(o.prompt, o.completion, RATES, o.spot);
  const credits = new Credits(rt.store, () => new Date(o.at));
  const requestId = randomUUID();
  const held = await credits.reserve({ startup_id: startup, amount_micros: econ.cost_micros, idempotency_key: requestId, request_hash: requestId });
  if (!held.ok) throw new Error(`reserve: ${held.code}`);
  const closed = await credits.closeWithUsage(held.hold, econ.cost_micros, {
    request_id: requestId, startup_id: startup, key_id: 'key_settlement_test', hold_id: held.hold.id, workload: o.workload ?? 'chat', model: 'llama-3.1-70b-instruct',
    provider_id: o.provider, endpoint_id: `${o.provider}_ep1`, accelerator: o.accelerator as 'H100', stream: false, outcome: 'ok', status_code: 200, attempts: 1,
    prompt_tokens: o.prompt, completion_tokens: o.completion, estimated: false, ...econ, spot_micros_per_gpu_hour: o.spot, latency_ms: 5, ttft_ms: null, created_at: o.at,
  });
  if (!closed.ok) throw new Error(`close: ${closed.code}`);
  return { ...econ, request_id: requestId, provider_id: o.provider, accelerator: o.accelerator, workload: o.workload ?? 'chat', startup_id: startup };
}

/** A request record written straight to the table, with no hold and no postings: what the ledger never saw. */
async function forgeRecord(o: { request_id: string; provider: string; accelerator: 'H100' | 'H200'; tokens: number; spot: number; at: string }): Promise<RequestEconomics> {
  const econ = requestEconomics(o.tokens, o.tokens, RATES, o.spot);
  await rt.doc.send(new PutCommand({
    TableName: rt.tableName,
    Item: usageRecordItem({
      request_id: o.request_id, startup_id: rt.world!.startupId, key_id: 'k', hold_id: 'hold_none', workload: 'chat', model: 'm', provider_id: o.provider, endpoint_id: 'e',
      accelerator: o.accelerator, stream: false, outcome: 'ok', status_code: 200, attempts: 1, prompt_tokens: o.tokens, completion_tokens: o.tokens, estimated: false, ...econ,
      spot_micros_per_gpu_hour: o.spot, facilities: [{ facility_id: rt.world!.facilityId, amount_micros: econ.cost_micros }], latency_ms: 1, ttft_ms: null, created_at: o.at,
    }),
  }));
  return econ;
}

const total = (xs: Spent[], f: 'cost_micros' | 'provider_micros' | 'margin_micros' | 'gpu_microseconds') => xs.reduce((s, x) => s + x[f], 0);

/** Starts the month's settlement through the route and waits for the execution to end. */
async function settle(period: string) {
  const started = await call('POST', `/v1/admin/settlements/${period}`, { key: rt.adminKey });
  expect(started.status).toBe(202);
  const sfn = new SFNClient({ endpoint: rt.endpoints.sfn });
  for (let i = 0; i < 1_200; i++) {
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn: started.body.execution_id }));
    if (d.status !== 'RUNNING') return { started, execution: d, run: (await call('GET', `/v1/admin/settlements/${period}`, { key: rt.adminKey })).body };
    await sleep(100);
  }
  throw new Error('settlement did not end in 120 s');
}

const statement = async (provider: string, period: string) => call('GET', `/v1/providers/${provider}/statements/${period}`, { key: rt.adminKey });
const balance = async (account: string) => (await rt.store.getBalances([account])).get(account) ?? null;

describe('settling a month', () => {
  const october: Spent[] = [];
  let november: Spent;

  beforeAll(async () => {
    // Prepare: OCT spend on two providers, two segments, three workloads; one request a millisecond
    // before the month ends and one at the first instant of NOV.
    october.push(await spend({ provider: AURORA, accelerator: 'H100', at: `${OCT}-01T00:00:00.000Z`, prompt: 1_234_567, completion: 765_432, spot: 2_490_000 }));
    october.push(await spend({ provider: AURORA, accelerator: 'H100', at: `${OCT}-15T12:00:00.000Z`, prompt: 333, completion: 777, spot: 2_490_000, workload: 'completion' }));
    october.push(await spend({ provider: AURORA, accelerator: 'H100', at: `${OCT}-20T08:00:00.000Z`, prompt: 50_001, completion: 0, spot: 2_490_000, workload: 'embedding', startup: seedStartup }));
    october.push(await spend({ provider: CIRRUS, accelerator: 'H200', at: lastMs(OCT), prompt: 99_999, completion: 12_345, spot: 3_790_001 }));
    october.push(await spend({ provider: CIRRUS, accelerator: 'H200', at: `${OCT}-10T10:10:10.010Z`, prompt: 7, completion: 3, spot: 3_790_001, startup: seedStartup }));
    november = await spend({ provider: CIRRUS, accelerator: 'H200', at: `${NOV}-01T00:00:00.000Z`, prompt: 88_888, completion: 11_111, spot: 3_790_001 });
  });

  it('issues one statement per provider with the month’s GPU time, earnings, tier and due date, and posts the payable', async () => {
    // Act
    const { execution, run } = await settle(OCT);
    const aurora = (await statement(AURORA, OCT)).body;
    const cirrus = (await statement(CIRRUS, OCT)).body;
    const basalt = (await statement(BASALT, OCT)).body;
    // Assess: the execution, and the run's totals reconcile to the micro.
    expect(execution.status).toBe('SUCCEEDED');
    expect(run.status).toBe('settled');
    expect(run.totals).toMatchObject({
      providers: 3, requests: 5, gpu_microseconds: total(october, 'gpu_microseconds'), startup_spend_micros: total(october, 'cost_micros'),
      provider_earnings_micros: total(october, 'provider_micros'), margin_micros: total(october, 'margin_micros'), premium_micros: 0,
    });
    expect(run.totals.startup_spend_micros).toBe(run.totals.provider_earnings_micros + run.totals.margin_micros);
    // Each provider's figures are the sum of exactly its OCT records (the NOV one is not in).
    const mine = (p: string) => october.filter((s) => s.provider_id === p);
    expect(aurora).toMatchObject({
      period: OCT, period_start: `${OCT}-01T00:00:00.000Z`, period_end: endOf(OCT), due_date: new Date(Date.parse(endOf(OCT)) + 30 * 86_400_000).toISOString().slice(0, 10),
      requests: 3, gpu_microseconds: total(mine(AURORA), 'gpu_microseconds'), spend_micros: total(mine(AURORA), 'cost_micros'),
      earnings_micros: total(mine(AURORA), 'provider_micros'), margin_micros: total(mine(AURORA), 'margin_micros'),
      tier: 'base', premium_bps: 0, premium_micros: 0, payable_micros: total(mine(AURORA), 'provider_micros'),
    });
    expect(cirrus).toMatchObject({ requests: 2, spend_micros: total(mine(CIRRUS), 'cost_micros'), payable_micros: total(mine(CIRRUS), 'provider_micros') });
    expect(basalt).toMatchObject({ requests: 0, payable_micros: 0, posting_id: null, lines: [] });
    // Lines by accelerator, client segment and workload.
    expect(aurora.lines.map((l: { accelerator: string; segment: string; workload: string; requests: number }) => [l.accelerator, l.segment, l.workload, l.requests])).toEqual([
      ['H100', 'seed', 'embedding', 1],
      ['H100', 'series_a', 'chat', 1],
      ['H100', 'series_a', 'completion', 1],
    ]);
    expect(cirrus.lines.map((l: { segment: string; earnings_micros: number }) => [l.segment, l.earnings_micros])).toEqual([
      ['seed', october[4]!.provider_micros],
      ['series_a', october[3]!.provider_micros],
    ]);
    // Ledger: the month's accruals moved to payable and closed; NOV's accrual is untouched.
    expect((await balance(payableAccount(AURORA)))?.balance_micros).toBe(aurora.payable_micros);
    expect((await balance(payableAccount(CIRRUS)))?.balance_micros).toBe(cirrus.payable_micros);
    for (let s = 0; s < ACCRUAL_SHARDS; s++) expect((await balance(accruedAccount(CIRRUS, OCT, s)))?.balance_micros ?? 0).toBe(0);
    const novAccrued = await rt.store.getBalances(Array.from({ length: ACCRUAL_SHARDS }, (_, s) => accruedAccount(CIRRUS, NOV, s)));
    expect([...novAccrued.values()].reduce((s, b) => s + b.balance_micros, 0)).toBe(november.provider_micros);
    expect(await auditAll(rt.store, ACCOUNT_SHARDS)).toMatchObject({ ok: true, balance_sum_micros: 0, mismatches: [] });
  });

  it('running it again for the settled month changes nothing', async () => {
    // Prepare
    const before = { run: (await call('GET', `/v1/admin/settlements/${OCT}`, { key: rt.adminKey })).body, aurora: (await statement(AURORA, OCT)).body, payable: await balance(payableAccount(AURORA)) };
    const lines = await rt.store.listLines(payableAccount(AURORA), 100);
    // Act
    const again = await settle(OCT);
    // Assess
    expect(again.started.body.previous_status).toBe('settled');
    expect(again.execution.status).toBe('SUCCEEDED');
    expect(again.run).toEqual(before.run);
    expect((await statement(AURORA, OCT)).body).toEqual(before.aurora);
    expect(await balance(payableAccount(AURORA))).toEqual(before.payable);
    expect((await rt.store.listLines(payableAccount(AURORA), 100)).items).toEqual(lines.items);
  });

  it('the monthly schedule’s start (EventBridge’s event, the month before its time) finds the month before settled and changes nothing', async () => {
    // Prepare
    const before = (await call('GET', `/v1/admin/settlements/${OCT}`, { key: rt.adminKey })).body;
    const sfn = new SFNClient({ endpoint: rt.endpoints.sfn });
    const event = { version: '0', id: randomUUID(), 'detail-type': 'Scheduled Event', source: 'aws.events', time: `${NOV}-01T02:00:00Z`, region: 'us-east-1', resources: [], detail: {} };
    // Act
    const started = await sfn.send(new StartExecutionCommand({ stateMachineArn: rt.stepFunctions.arnOf('provider-settlement'), input: JSON.stringify(event) }));
    let d = await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    for (let i = 0; i < 300 && d.status === 'RUNNING'; i++) {
      await sleep(100);
      d = await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    }
    // Assess
    expect(d.status).toBe('SUCCEEDED');
    expect(JSON.parse(d.output!)).toMatchObject({ period: OCT, already_settled: true });
    expect((await call('GET', `/v1/admin/settlements/${OCT}`, { key: rt.adminKey })).body).toEqual(before);
  });

  it('a settled month takes no more spend: a late close is refused with period_closed and nothing is written', async () => {
    // Prepare
    const credits = new Credits(rt.store, () => new Date(Date.parse(endOf(OCT)) - 3_600_000));
    const held = await credits.reserve({ startup_id: rt.world!.startupId, amount_micros: 1_000, idempotency_key: 'late', request_hash: 'late' });
    if (!held.ok) throw new Error(held.code);
    const econ = requestEconomics(100, 100, RATES, 2_490_000);
    // Act
    const closed = await credits.closeWithUsage(held.hold, 1_000, {
      request_id: 'late-request', startup_id: rt.world!.startupId, key_id: 'k', hold_id: held.hold.id, workload: 'chat', model: 'm', provider_id: AURORA, endpoint_id: 'e',
      accelerator: 'H100', stream: false, outcome: 'ok', status_code: 200, attempts: 1, prompt_tokens: 100, completion_tokens: 100, estimated: false,
      ...econ, cost_micros: 1_000, provider_micros: 850, margin_micros: 150, spot_micros_per_gpu_hour: 2_490_000, latency_ms: 1, ttft_ms: null, created_at: new Date(Date.parse(endOf(OCT)) - 1_000).toISOString(),
    });
    // Assess
    expect(closed).toEqual({ ok: false, code: 'period_closed' });
    expect((await rt.store.getHold(held.hold.id))?.status).toBe('open');
    expect(await auditAll(rt.store, ACCOUNT_SHARDS)).toMatchObject({ ok: true });
  });

  it('an open month, a malformed period and other roles are refused', async () => {
    // Act
    const open = await call('POST', `/v1/admin/settlements/${monthOf(now())}`, { key: rt.adminKey });
    const bad = await call('POST', '/v1/admin/settlements/2026-13', { key: rt.adminKey });
    const byProvider = await call('POST', `/v1/admin/settlements/${OCT}`, { key: rt.world!.providerSecrets.get(AURORA)!.key! });
    const never = await call('GET', '/v1/admin/settlements/2001-01', { key: rt.adminKey });
    // Assess
    expect(open.status).toBe(409);
    expect(open.body.error.code).toBe('period_open');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_period');
    expect(byProvider.status).toBe(403);
    expect(never.status).toBe(404);
  });
});

describe('volume tiers and the custom rate', () => {
  it('over 200,000 GPU-hours the month fails until the operator sets a custom rate; then every tier is applied to all the month’s hours', async () => {
    // Prepare: SEP. Basalt: 73 records of 10M tokens = 202,777.7 GPU-hours (custom); Aurora: 4 = 11,111.1 (tier 2).
    const basalt: Spent[] = [];
    for (let i = 0; i < 73; i++) basalt.push(await spend({ provider: BASALT, accelerator: 'A100', at: `${SEP}-${String(1 + (i % 28)).padStart(2, '0')}T10:00:00.000Z`, prompt: MAX_TOKENS / 2, completion: MAX_TOKENS / 2, spot: 10_001 }));
    const aurora: Spent[] = [];
    for (let i = 0; i < 4; i++) aurora.push(await spend({ provider: AURORA, accelerator: 'H100', at: new Date(Date.parse(endOf(SEP)) - 3_600_000 + i * 60_000).toISOString(), prompt: MAX_TOKENS, completion: 0, spot: 10_003 }));
    // Act 1: no custom rate yet.
    const first = await settle(SEP);
    const auroraStatement = (await statement(AURORA, SEP)).body;
    const basaltMissing = await statement(BASALT, SEP);
    // Assess 1: fails loudly, names the provider; the others are issued (tier 2 on all of Aurora's hours).
    expect(first.execution.status).toBe('FAILED');
    expect(first.execution.error).toBe('SettlementFailed');
    expect(first.run.status).toBe('failed');
    expect(first.run.failures).toEqual([{ provider_id: BASALT, code: 'custom_rate_required', reasons: [expect.stringContaining('custom-rate')] }]);
    expect(basaltMissing.status).toBe(404);
    const auroraBase = total(aurora, 'provider_micros');
    expect(auroraStatement).toMatchObject({ tier: 'tier_2', premium_bps: 200, earnings_micros: auroraBase, premium_micros: Number(divHalfEven(BigInt(auroraBase) * 200n, 10_000n)) });
    expect(auroraStatement.payable_micros).toBe(auroraBase + auroraStatement.premium_micros);
    expect(auroraStatement.gpu_hours).toBeCloseTo(11_111.111, 3);

    // Act 2: the operator sets 15 % (validation first), and settles again.
    const tooHigh = await call('PUT', `/v1/admin/providers/${BASALT}/custom-rate`, { key: rt.adminKey, body: { premium_bps: 5_001 } });
    const byProvider = await call('PUT', `/v1/admin/providers/${BASALT}/custom-rate`, { key: rt.world!.providerSecrets.get(BASALT)!.key!, body: { premium_bps: 9 } });
    const unknown = await call('PUT', '/v1/admin/providers/prv_nobody/custom-rate', { key: rt.adminKey, body: { premium_bps: 100 } });
    const set = await call('PUT', `/v1/admin/providers/${BASALT}/custom-rate`, { key: rt.adminKey, body: { premium_bps: 1_500 } });
    const second = await settle(SEP);
    const basaltStatement = (await statement(BASALT, SEP)).body;
    // Assess 2
    expect([tooHigh.status, byProvider.status, unknown.status]).toEqual([400, 403, 404]);
    expect(set.body).toEqual({ provider_id: BASALT, custom_premium_bps: 1_500 });
    expect(second.execution.status).toBe('SUCCEEDED');
    expect(second.run.status).toBe('settled');
    const basaltBase = total(basalt, 'provider_micros');
    const premium = Number(divHalfEven(BigInt(basaltBase) * 1_500n, 10_000n));
    expect(basaltStatement).toMatchObject({ requests: 73, tier: 'custom', premium_bps: 1_500, earnings_micros: basaltBase, premium_micros: premium, payable_micros: basaltBase + premium });
    expect(basaltStatement.net_margin_micros).toBe(total(basalt, 'margin_micros') - premium);
    // Aurora's statement from the first run stands as issued.
    expect((await statement(AURORA, SEP)).body).toEqual(auroraStatement);
    expect(second.run.totals).toMatchObject({
      startup_spend_micros: total([...basalt, ...aurora], 'cost_micros'), provider_earnings_micros: basaltBase + auroraBase,
      premium_micros: premium + auroraStatement.premium_micros, margin_micros: total([...basalt, ...aurora], 'margin_micros'),
    });
    expect(await auditAll(rt.store, ACCOUNT_SHARDS)).toMatchObject({ ok: true, balance_sum_micros: 0 });
  });
});

describe('reconciliation', () => {
  it('a request record without its ledger postings fails the month loudly, and no statement or payable is issued for that provider', async () => {
    // Prepare: AUG, one real request and one forged record (written straight to the table, no postings).
    const real = await spend({ provider: CIRRUS, accelerator: 'H200', at: `${AUG}-12T12:00:00.000Z`, prompt: 1_000, completion: 1_000, spot: 3_790_001 });
    const payableBefore = await balance(payableAccount(CIRRUS));
    const forged = await forgeRecord({ request_id: 'forged-0001', provider: CIRRUS, accelerator: 'H200', tokens: 500, spot: 3_790_001, at: `${AUG}-13T00:00:00.000Z` });
    // Act
    const { execution, run } = await settle(AUG);
    // Assess
    expect(execution.status).toBe('FAILED');
    expect(run.status).toBe('failed');
    expect(run.failures).toHaveLength(1);
    expect(run.failures[0]).toMatchObject({ provider_id: CIRRUS, code: 'reconciliation_failed' });
    const shard = shardOf('forged-0001', ACCRUAL_SHARDS);
    const ledger = shardOf(real.request_id, ACCRUAL_SHARDS) === shard ? real.provider_micros : 0;
    expect(run.failures[0].reasons).toEqual([`${accruedAccount(CIRRUS, AUG, shard)}: ledger ${ledger} µUSD, request records ${ledger + forged.provider_micros} µUSD`]);
    expect((await statement(CIRRUS, AUG)).status).toBe(404);
    expect(await balance(payableAccount(CIRRUS))).toEqual(payableBefore);
    expect(await auditAll(rt.store, ACCOUNT_SHARDS)).toMatchObject({ ok: true });
  });
});

describe('failures are caught, recorded and never leave a run running', () => {
  it('a corrupt record (cost ≠ provider + margin) fails its provider with the cause, and the run ends failed', async () => {
    // Prepare: JUL, one real request and a record whose split does not add up.
    await spend({ provider: AURORA, accelerator: 'H100', at: `${JUL}-10T10:00:00.000Z`, prompt: 5_000, completion: 5_000, spot: 2_490_000 });
    await forgeRecord({ request_id: 'corrupt-0001', provider: AURORA, accelerator: 'H100', tokens: 10, spot: 2_490_000, at: `${JUL}-11T00:00:00.000Z` });
    // The record checks (cost = provider + margin) would refuse this item; it is corrupted after the write.
    await rt.doc.send(new UpdateCommand({ TableName: rt.tableName, Key: { pk: `USAGE#${rt.world!.startupId}`, sk: `R#${JUL}-11T00:00:00.000Z#corrupt-0001` }, UpdateExpression: 'SET provider_micros = provider_micros + :one', ExpressionAttributeValues: { ':one': 1 } }));
    // Act
    const { execution, run } = await settle(JUL);
    // Assess
    expect(execution.status).toBe('FAILED');
    expect(run.status).toBe('failed');
    expect(run.failures).toEqual([{ provider_id: AURORA, code: 'InvariantError', reasons: [expect.stringContaining('corrupt-0001: cost ≠ provider + margin')] }]);
    expect((await statement(AURORA, JUL)).status).toBe(404);
    expect((await statement(CIRRUS, JUL)).status).toBe(200);
  });

  it('a month being settled cannot be started again (409 settlement_running)', async () => {
    // Prepare: a run in progress.
    await rt.doc.send(new PutCommand({ TableName: rt.tableName, Item: { pk: `SETTLEMENT#${JUN}`, sk: 'RUN', type: 'settlement_run', period: JUN, status: 'running', started_at: nowIso(), finished_at: null, execution_id: 'arn:other', totals: null, failures: [] } }));
    // Act
    const again = await call('POST', `/v1/admin/settlements/${JUN}`, { key: rt.adminKey });
    // Assess
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('settlement_running');
  });
});

describe('statements', () => {
  it('a provider lists its own statements newest first and cannot read another’s; a startup cannot read any', async () => {
    // Prepare
    const key = rt.world!.providerSecrets.get(AURORA)!.key!;
    // Act
    const page1 = await call('GET', `/v1/providers/${AURORA}/statements?limit=1`, { key });
    const page2 = await call('GET', `/v1/providers/${AURORA}/statements?limit=1&cursor=${page1.body.next_cursor}`, { key });
    const other = await call('GET', `/v1/providers/${CIRRUS}/statements`, { key });
    const otherOne = await call('GET', `/v1/providers/${CIRRUS}/statements/${OCT}`, { key });
    const byStartup = await call('GET', `/v1/providers/${AURORA}/statements`, { key: rt.world!.startupKey });
    const byOperator = await call('GET', `/v1/providers/${CIRRUS}/statements`, { key: rt.adminKey });
    // Assess
    expect(page1.body.data.map((s: { period: string }) => s.period)).toEqual([OCT]);
    expect(page2.body.data.map((s: { period: string }) => s.period)).toEqual([SEP]);
    expect([other.status, otherOne.status, byStartup.status]).toEqual([404, 404, 403]);
    // Cirrus: OCT; SEP's and JUL's statements of nothing delivered; AUG failed, so none.
    expect(byOperator.body.data.map((s: { period: string; requests: number }) => [s.period, s.requests])).toEqual([[OCT, 2], [SEP, 0], [JUL, 0]]);
  });
});
