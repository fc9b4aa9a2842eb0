/**
 * Progressive reservations end to end (SPEC §4, issue 13 point 4): a startup with little credit asks without
 * max_tokens for a reply far longer than its credit pays for. The request reserves a first slice, extends
 * from the credit lease as tokens arrive, and is cut with finish_reason "length" when the lease has no more:
 * billed exactly for the tokens the client received, and its available credit never goes below zero.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';
import { startSimulator, type Simulator } from '../../packages/simulator/src/index.js';
import { auditAll, chatPromptUpperBound, countChatPromptTokens, countTokens, maxCostMicros, nowIso, requestEconomics, type RoutingProvider } from '../../packages/core/src/index.js';
import { FIRST_SLICE_TOKENS_PER_CHOICE } from '../../packages/core/src/gateway/progressive.js';
import { DynamoCatalog } from '../../packages/core/src/adapters/dynamodb/index.js';
import { DEMO_SPOT } from '../../local/demo.js';
import { ACCOUNT_SHARDS } from '../../infra/table.js';

const MODEL = 'long-model';
const CONTEXT = 8_192;
const RATES = { prompt_tokens_per_gpu_second: 1_000, completion_tokens_per_gpu_second: 1 };
/** The simulator's natural reply: far beyond what the startup's credit pays for. */
const NATURAL_TOKENS = 4_000;
const messages = [{ role: 'user' as const, content: '' }];

let rt: TestRuntime;
let sim: Simulator;
let call: ReturnType<typeof client>;
let ai: OpenAI;
let key: string;

const cost = (completion: number) => requestEconomics(countChatPromptTokens(messages), completion, RATES, DEMO_SPOT.H100).cost_micros;
const firstSlice = () => maxCostMicros(chatPromptUpperBound(messages), FIRST_SLICE_TOKENS_PER_CHOICE, CONTEXT, RATES, DEMO_SPOT.H100);

async function credits() {
  return (await call('GET', '/v1/credits', { key })).body as { available_micros: number; reserved_micros: number; spent_micros: number; granted_micros: number };
}

/**
 * Waits for the invocation's own flush of this request (it runs after the reply's last byte), then returns
 * the leases so what was spent is in the ledger. Draining while that flush is still writing the lease can
 * leave the lease to the sweeper, so the drain waits for it.
 */
async function drained(before: { spent_micros: number }) {
  const { deps } = await import('../../functions/lib/deps.js');
  const holder = deps().holder!;
  const flushed = ++requestsMade;
  for (let i = 0; i < 100 && holder.report.records_flushed < flushed; i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 200));
  await rt.drainLeases();
  const c = await credits();
  expect(c.spent_micros).toBeGreaterThan(before.spent_micros);
  return c;
}
let requestsMade = 0;

beforeAll(async () => {
  // Leases on: a request extends from the lease in memory (a hold never grows, so it would stop at the first slice).
  rt = await startTestRuntime('progressive', { demo: {}, leases: true });
  call = client(rt.baseUrl);
  sim = await startSimulator({ models: [{ id: MODEL, context_length: CONTEXT }], completionTokens: NATURAL_TOKENS });
  const provider: RoutingProvider = {
    id: 'prv_longOnly01', name: 'Long (simulated)', status: 'live', sla_tier: 'standard', sla_meeting: true, recent_error_ppm: 0, listed_gpu_hours_month: 5_000,
    endpoints: [{ id: 'prv_longOnly01_ep1', url: `${sim.url}/v1`, region: 'us-east-1', availability_zone: 'us-east-1a', capacity_type: 'dedicated', accelerators: ['H100'] }],
    models: [{ model: MODEL, kind: 'chat', architecture: 'llama', context_length: CONTEXT, accelerator: 'H100', ...RATES }],
    capacity: [{ accelerator: 'H100', region: 'us-east-1', availability_zone: 'us-east-1a', available_gpu_hours: 100 }],
    maintenance: [], updated_at: nowIso(),
  };
  await new DynamoCatalog(rt.doc, rt.tableName).putProvider(provider);
  const startup = (await call('POST', '/v1/admin/startups', { key: rt.adminKey, body: { name: 'Short', segment: 'seed' } })).body.id;
  key = (await call('POST', `/v1/admin/startups/${startup}/keys`, { key: rt.adminKey, body: { name: 'k' } })).body.key;
  const lender = (await call('POST', '/v1/admin/lenders', { key: rt.adminKey, body: { name: 'L' } })).body;
  // Credit for about eight first slices (principal × 1.25): the whole context (32 slices) is out of reach.
  const opened = await call('POST', '/v1/facilities', {
    key: lender.key, body: { startup_id: startup, principal_micros: Math.ceil((8 * firstSlice()) / 1.25), multiplier: 1.25, term_months: 6, origination_fee_bps: 100, servicing_fee_bps: 50 },
  });
  expect(opened.status).toBe(201);
  ai = new OpenAI({ apiKey: key, baseURL: `${rt.baseUrl}/v1`, maxRetries: 0, timeout: 60_000 });
});
afterAll(async () => {
  await sim?.stop();
  await rt?.stop();
});

describe('a reply without max_tokens on little credit', () => {
  it('streamed: extended past the first slice, cut with length and usage, billed exactly, available never below 0', async () => {
    // Prepare
    const before = await credits();
    expect(before.available_micros).toBeLessThan(maxCostMicros(chatPromptUpperBound(messages), CONTEXT, CONTEXT, RATES, DEMO_SPOT.H100));
    // Act
    const stream = await ai.chat.completions.create({ model: MODEL, messages, stream: true, stream_options: { include_usage: true } });
    let text = '';
    const finishes: (string | null)[] = [];
    let usage: OpenAI.CompletionUsage | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.choices[0]?.finish_reason) finishes.push(chunk.choices[0].finish_reason);
      if (chunk.usage) usage = chunk.usage;
    }
    const after = await drained(before);
    // Assess
    const produced = countTokens(text);
    expect(finishes).toEqual(['length']);
    expect(produced).toBeGreaterThan(FIRST_SLICE_TOKENS_PER_CHOICE); // the lease let it grow past the first slice
    expect(produced).toBeLessThan(NATURAL_TOKENS);
    expect(usage).toMatchObject({ prompt_tokens: countChatPromptTokens(messages), completion_tokens: produced });
    expect(after.spent_micros - before.spent_micros).toBe(cost(produced));
    expect(after.reserved_micros).toBe(0);
    expect(after.available_micros).toBe(before.available_micros - cost(produced));
    expect(after.available_micros).toBeGreaterThanOrEqual(0);
  });

  it('whole: streamed from the provider, answered as one chat.completion cut with length, billed exactly', async () => {
    // Prepare
    const before = await credits();
    // Act
    const { data, response } = await ai.chat.completions.create({ model: MODEL, messages }).withResponse();
    const after = await drained(before);
    const audit = await auditAll(rt.store, ACCOUNT_SHARDS);
    // Assess
    const produced = countTokens(data.choices[0]!.message.content ?? '');
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0]!.finish_reason).toBe('length');
    expect(produced).toBeGreaterThanOrEqual(FIRST_SLICE_TOKENS_PER_CHOICE);
    expect(produced).toBeLessThan(NATURAL_TOKENS);
    expect(data.usage).toMatchObject({ completion_tokens: produced, total_tokens: countChatPromptTokens(messages) + produced });
    expect(Number(response.headers.get('x-compux-cost-micros'))).toBe(cost(produced));
    expect(after.spent_micros - before.spent_micros).toBe(cost(produced));
    expect(after.available_micros).toBeGreaterThanOrEqual(0);
    expect(after.reserved_micros).toBe(0);
    expect(audit.ok).toBe(true);
  });
});
