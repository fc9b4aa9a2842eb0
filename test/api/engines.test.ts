/**
 * The runtime's non-HTTP engines wired to the real handlers: the ledger-audit state machine started
 * through the local Step Functions endpoint with the real @aws-sdk/client-sfn, the hold-sweeper schedule
 * handler, and the capacity queue's consumer fed through the local SQS server.
 */
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEDULES } from '../../infra/schedules.js';
import { WORKFLOWS } from '../../infra/workflows.js';
import { facilityAccount, nowIso } from '../../packages/core/src/index.js';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';

let rt: TestRuntime;
let call: ReturnType<typeof client>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  rt = await startTestRuntime('engines');
  call = client(rt.baseUrl);
});
afterAll(async () => rt?.stop());

async function fundedFacility() {
  const s = (await call('POST', '/v1/admin/startups', { key: rt.adminKey, body: { name: 'Eng', segment: 'growth' } })).body.id as string;
  const l = (await call('POST', '/v1/admin/lenders', { key: rt.adminKey, body: { name: 'Eng Capital' } })).body;
  const f = (await call('POST', '/v1/facilities', {
    key: l.key,
    body: { startup_id: s, principal_micros: 4_000_000, multiplier: 1.5, term_months: 3, origination_fee_bps: 100, servicing_fee_bps: 50 },
  })).body;
  return { startup: s, facility: f.id as string };
}

async function runAudit() {
  const sfn = new SFNClient({ endpoint: rt.endpoints.sfn });
  const arn = rt.env[WORKFLOWS.find((w) => w.name === 'ledger-audit')!.arnEnv]!;
  const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn: arn, input: '{}' }));
  for (let i = 0; i < 300; i++) {
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (d.status !== 'RUNNING') return d;
    await sleep(100);
  }
  throw new Error('audit did not finish in 30 s');
}

describe('ledger-audit state machine', () => {
  it('passes on a busy but correct ledger, and fails loudly when a cached balance is tampered with', async () => {
    // Prepare: some real activity.
    const { startup, facility } = await fundedFacility();
    const h = await rt.credits.reserve({ startup_id: startup, amount_micros: 1_000_000, idempotency_key: 'a', request_hash: 'h' });
    if (!h.ok) throw new Error(h.code);
    await rt.credits.settle(h.hold.id, 400_000);
    // Act
    const good = await runAudit();
    // Tamper: bump a cached balance behind the ledger's back (what a bug in a writer would do).
    const key = { pk: `ACCT#${facilityAccount(facility, 'spent')}`, sk: 'BALANCE' };
    const doc = rt.doc;
    const current = (await doc.send(new GetCommand({ TableName: rt.tableName, Key: key }))).Item!;
    await doc.send(new PutCommand({ TableName: rt.tableName, Item: { ...current, balance_micros: (current.balance_micros as number) + 1 } }));
    const bad = await runAudit();
    // Assess
    expect(good.status).toBe('SUCCEEDED');
    expect(JSON.parse(good.output!)).toMatchObject({ ok: true, balance_sum_micros: 0, mismatches: [] });
    expect(JSON.parse(good.output!).accounts_checked).toBeGreaterThanOrEqual(5);
    expect(bad.status).toBe('FAILED');
    expect(bad.error).toBe('LedgerUnbalanced');
  });
});

describe('hold-sweeper schedule', () => {
  it('its handler releases a hold past its expiry', async () => {
    // Prepare: a hold that expires in one second.
    const { startup, facility } = await fundedFacility();
    const h = await rt.credits.reserve({ startup_id: startup, amount_micros: 2_000_000, idempotency_key: 'crash', request_hash: 'h', ttl_s: 1 });
    if (!h.ok) throw new Error(h.code);
    await sleep(1_100);
    const row = SCHEDULES.find((s) => s.name === 'hold-sweeper')!;
    if (!('handler' in row.target)) throw new Error('hold-sweeper targets a handler');
    const sweep = await rt.resolveHandler(row.target.handler);
    // Act
    const out = await sweep({ 'detail-type': 'Scheduled Event', source: 'aws.events', time: nowIso(), detail: {} }, { awsRequestId: 'sweep-1', functionName: 'sweeper', getRemainingTimeInMillis: () => 60_000 });
    // Assess
    expect(out).toMatchObject({ expired: 1 });
    expect((await rt.store.getHold(h.hold.id))?.status).toBe('expired');
    const f = (await call('GET', `/v1/facilities/${facility}`, { key: rt.adminKey })).body;
    expect(f).toMatchObject({ reserved_micros: 0, available_micros: 6_000_000 });
  });
});

describe('capacity-webhooks queue', () => {
  it('the consumer stores each report once, even when the same event is sent twice', async () => {
    // Prepare
    const q = [...rt.queues.values()].find((x) => x.def.name === 'capacity-webhooks')!;
    const sqs = new SQSClient({ endpoint: rt.endpoints.sqs });
    const applied = await fetch(`${rt.baseUrl}/v1/providers`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Engines GPU', contact_email: 'ops@engines.example', regions: ['us-east-1'], accelerators: ['H100'] }),
    });
    const providerId = ((await applied.json()) as { id: string }).id;
    const report = {
      event_id: 'evt_engines_1', provider_id: providerId, reported_at: '2026-11-21T10:00:00.000Z',
      capacity: [{ accelerator: 'H100', region: 'us-east-1', availability_zone: 'us-east-1a', available_gpu_hours: 640 }],
    };
    // Act: the second send has another dedup id (as a provider retry past SQS's 5-minute dedup window would).
    for (const dedup of ['d1', 'd2']) {
      await sqs.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: JSON.stringify(report), MessageGroupId: report.provider_id, MessageDeduplicationId: dedup }));
    }
    // Assess: stored once.
    const doc = rt.doc;
    let items: Record<string, unknown>[] = [];
    for (let i = 0; i < 100 && items.length === 0; i++) {
      await sleep(100);
      items = ((await doc.send(new QueryCommand({ TableName: rt.tableName, KeyConditionExpression: 'pk = :pk AND begins_with(sk, :c)', ExpressionAttributeValues: { ':pk': `PROVIDER#${report.provider_id}`, ':c': 'CAPACITY#' } }))).Items ?? []) as Record<string, unknown>[];
    }
    await sleep(1_000);
    items = ((await doc.send(new QueryCommand({ TableName: rt.tableName, KeyConditionExpression: 'pk = :pk AND begins_with(sk, :c)', ExpressionAttributeValues: { ':pk': `PROVIDER#${report.provider_id}`, ':c': 'CAPACITY#' } }))).Items ?? []) as Record<string, unknown>[];
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ event_id: 'evt_engines_1', capacity: report.capacity });
  });
});
