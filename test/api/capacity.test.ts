/**
 * Capacity reports against the demo world (three live simulated providers of llama-3.1-70b-instruct,
 * Cirrus ranked first): a reduction or a maintenance window reroutes the next request at once, and a
 * consumer that dies mid-batch loses no report. Reports are signed and sent with the provider kit.
 *
 * The queue is the capacity-webhooks row with a 3 s visibility timeout (so its consumer's timeout is
 * 1 s, as stacks/Queues.ts derives it) to keep redelivery after a crash within the test's time.
 */
import OpenAI from 'openai';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUES } from '../../infra/queues.js';
import { deps } from '../../functions/lib/deps.js';
import { sendCapacityReport, type CapacityReport } from '../../packages/provider-kit/src/index.js';
import { nowMs, nowS } from '../../packages/core/src/clock.js';
import { startTestRuntime, type TestRuntime } from './runtime.js';

let rt: TestRuntime;
let openai: OpenAI;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const LLAMA = 'llama-3.1-70b-instruct';
const CIRRUS = 'prv_demoCirrus01';
const AURORA = 'prv_demoAurora01';
const BASALT = 'prv_demoBasalt01';
const ZONES: Record<string, [ 'H100' | 'A100' | 'H200', string]> = { [CIRRUS]: ['H200', 'eu-west-1'], [AURORA]: ['H100', 'us-east-1'], [BASALT]: ['A100', 'us-west-2'] };

beforeAll(async () => {
  rt = await startTestRuntime('capacity', { demo: {}, tables: { queues: QUEUES.map((q) => ({ ...q, visibilityTimeoutSeconds: 3 })) } });
  openai = new OpenAI({ apiKey: rt.world!.startupKey, baseURL: `${rt.baseUrl}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  await rt?.world?.stop();
  await rt?.stop();
});

let seq = 0;
function report(provider: string, hours: number, over: Partial<CapacityReport> = {}): CapacityReport {
  const [accelerator, region] = ZONES[provider]!;
  seq++;
  return {
    event_id: `evt_cap_${seq}`, provider_id: provider, reported_at: new Date(nowMs() + seq).toISOString(),
    capacity: [{ accelerator, region, availability_zone: `${region}a`, available_gpu_hours: hours }], burst_windows: [], maintenance_windows: [], ...over,
  };
}
const send = (r: CapacityReport) => sendCapacityReport(rt.baseUrl, rt.world!.providerSecrets.get(r.provider_id)!.webhook_secret, r, { nowSeconds: nowS() });

async function routing(id: string) {
  return (await rt.doc.send(new GetCommand({ TableName: rt.tableName, Key: { pk: 'ROUTING', sk: `PROVIDER#${id}` }, ConsistentRead: true }))).Item!.provider;
}
async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`condition not met in ${ms} ms: ${JSON.stringify(v).slice(0, 300)}`);
    await sleep(50);
  }
}
async function servedBy(): Promise<string | null> {
  const r = await openai.chat.completions.create({ model: LLAMA, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }).withResponse();
  return r.response.headers.get('x-compux-provider');
}

describe('capacity reports reroute traffic', () => {
  it('a reduction to zero and a maintenance window each move the next request at once', async () => {
    // Prepare
    const first = await servedBy();
    // Act: Cirrus reports no capacity left (a reduction: applied at once, not coalesced).
    expect((await send(report(CIRRUS, 0))).status).toBe(202);
    await until(() => routing(CIRRUS), (p) => p.capacity[0].available_gpu_hours === 0);
    const afterReduction = await servedBy();
    // Act: Aurora announces maintenance starting now.
    const start = new Date(nowMs() - 1_000).toISOString();
    const end = new Date(nowMs() + 3_600_000).toISOString();
    expect((await send(report(AURORA, 2_000, { maintenance_windows: [{ start, end }] }))).status).toBe(202);
    await until(() => routing(AURORA), (p) => p.maintenance.length === 1);
    const inMaintenance = await servedBy();
    // Act: Cirrus is back with capacity: an increase after a reduction within the interval is coalesced.
    expect((await send(report(CIRRUS, 1_500))).status).toBe(202);
    await sleep(1_000);
    const coalesced = await routing(CIRRUS);
    // Assess
    expect(first).toBe(CIRRUS);
    expect(afterReduction).toBe(AURORA);
    expect(inMaintenance).toBe(BASALT);
    expect(coalesced.capacity[0].available_gpu_hours).toBe(0);
  });
});

describe('the capacity consumer', () => {
  it('a consumer that dies mid-batch loses nothing: every report is applied, in order, once', async () => {
    // Prepare: the consumer's write of the second report hangs past the consumer's timeout, then fails —
    // as if the function was killed there. Every message of that batch comes back after the visibility timeout.
    const reports = [report(BASALT, 1_900), report(BASALT, 1_800), report(BASALT, 1_700)];
    let killed = 0;
    const doc = deps().doc;
    doc.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { TransactItems?: { Put?: { Item?: { sk?: string; state?: { last_applied_reported_at?: string } } } }[] };
        const hit = context.commandName === 'TransactWriteItemsCommand' && killed === 0 &&
          input.TransactItems?.some((t) => t.Put?.Item?.sk === 'CAPSTATE' && t.Put.Item.state?.last_applied_reported_at === reports[1]!.reported_at);
        if (hit) {
          killed++;
          await sleep(1_500);
          throw new Error('the consumer was killed here');
        }
        return next(args);
      },
      { step: 'initialize', name: 'killConsumerMidBatch' },
    );
    try {
      // Act
      for (const r of reports) expect((await send(r)).status).toBe(202);
      const applied = await until(() => routing(BASALT), (p) => p.capacity[0].available_gpu_hours === 1_700, 20_000);
      await sleep(1_000); // let any redelivery finish
      // Assess
      const stored = ((await rt.doc.send(new QueryCommand({ TableName: rt.tableName, KeyConditionExpression: 'pk = :pk AND begins_with(sk, :c)', ExpressionAttributeValues: { ':pk': `PROVIDER#${BASALT}`, ':c': 'CAPACITY#' } }))).Items ?? []).filter((i) => reports.some((r) => r.event_id === i.event_id));
      const state = (await rt.doc.send(new GetCommand({ TableName: rt.tableName, Key: { pk: `PROVIDER#${BASALT}`, sk: 'CAPSTATE' }, ConsistentRead: true }))).Item!.state;
      const q = [...rt.queues.values()].find((x) => x.def.name === 'capacity-webhooks')!;
      const dlq = await new SQSClient({ endpoint: rt.endpoints.sqs }).send(new GetQueueAttributesCommand({ QueueUrl: q.dlqUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
      expect(killed).toBe(1);
      expect(applied.capacity[0].available_gpu_hours).toBe(1_700);
      expect(state.last_applied_reported_at).toBe(reports[2]!.reported_at);
      expect(stored.map((i) => i.event_id).sort()).toEqual(reports.map((r) => r.event_id).sort());
      expect(stored).toHaveLength(3);
      expect(dlq.Attributes?.ApproximateNumberOfMessages).toBe('0');
    } finally {
      doc.middlewareStack.remove('killConsumerMidBatch');
    }
  });
});
