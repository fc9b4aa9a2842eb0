/**
 * The demo world the capacity-booking API tests share (test/api/bookings.test.ts, booking-lifecycle.test.ts): a
 * runtime per test file, its providers' keys, signed capacity reports, funded startups, quotes and bookings.
 * `rt`, `call` and `T0` are live bindings, set once the file's beforeAll has started the world.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { DEMO_SPOT } from '../../local/demo.js';
import { HOUR_MS, facilityAccount, floorHour, nowMs, nowS } from '../../packages/core/src/index.js';
import { sendCapacityReport, type CapacityReport } from '../../packages/provider-kit/src/index.js';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { client } from './client.js';
import type { Receiver } from './receiver.js';
import { startTestRuntime, type TestRuntime } from './runtime.js';

export const AURORA = 'prv_demoAurora01';
export const BASALT = 'prv_demoBasalt01';
export const H100 = DEMO_SPOT.H100;
export let rt: TestRuntime;
export let call: ReturnType<typeof client>;
/** The first whole hour of the blocks: two hours ahead, so every start is bookable. */
export let T0: number;
export const iso = (ms: number) => new Date(ms).toISOString();
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Webhook receivers a test started: stopped with the world. */
export const hooks: Receiver[] = [];

/** Starts the demo world for the calling test file (its own runtime and table), and stops it after. */
export function bookingWorld(prefix: string): void {
  beforeAll(async () => {
    rt = await startTestRuntime(prefix, { demo: {} });
    call = client(rt.baseUrl);
    T0 = floorHour(nowMs()) + 2 * HOUR_MS;
  });
  afterAll(async () => {
    await Promise.all(hooks.map((x) => x.stop()));
    await rt?.world?.stop();
    await rt?.stop();
  });
}

export const providerKey = (id: string) => rt.world!.providerSecrets.get(id)!.key!;
export const op = () => rt.adminKey;

let seq = 0;
/**
 * Sends Aurora's (H100, us-east-1) blocks (undefined: those applied stay) and maintenance windows; the capacity
 * reduction makes the report apply at once (SPEC §6).
 */
export async function sendBlocks(provider: string, blocks: CapacityReport['capacity_blocks'], maintenance: CapacityReport['maintenance_windows'] = []) {
  seq++;
  const [accelerator, region] = provider === AURORA ? (['H100', 'us-east-1'] as const) : (['A100', 'us-west-2'] as const);
  const report: CapacityReport = {
    event_id: `evt_blocks_${seq}`, provider_id: provider, reported_at: new Date(nowMs() + seq).toISOString(),
    capacity: [{ accelerator, region, availability_zone: `${region}a`, available_gpu_hours: 2_000 - seq }], burst_windows: [], maintenance_windows: maintenance,
    ...(blocks ? { capacity_blocks: blocks } : {}),
  };
  const sent = await sendCapacityReport(rt.baseUrl, rt.world!.providerSecrets.get(provider)!.webhook_secret, report, { nowSeconds: nowS() });
  expect(sent.status).toBe(202);
}

export async function hours(provider: string) {
  const out = await rt.doc.send(new QueryCommand({ TableName: rt.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `CAPHOURS#${provider}` }, ConsistentRead: true }));
  return (out.Items ?? []) as { pool: string; hour: string; listed_gpus: number; booked_gpus: number; free_gpus: number }[];
}

export async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`condition not met in ${ms} ms`);
    await sleep(50);
  }
}

/** A startup of its own with one facility (credit = principal × 1.25) and a key. */
export async function fundedStartup(name: string, principalMicros: number) {
  const s = (await call('POST', '/v1/admin/startups', { key: op(), body: { name, segment: 'seed' } })).body.id as string;
  const lender = (await call('POST', '/v1/admin/lenders', { key: op(), body: { name: `${name} lender` } })).body;
  const f = await call('POST', '/v1/facilities', { key: lender.key, body: { startup_id: s, principal_micros: principalMicros, multiplier: 1.25, term_months: 12, origination_fee_bps: 200, servicing_fee_bps: 75 } });
  expect(f.status).toBe(201);
  const key = (await call('POST', `/v1/admin/startups/${s}/keys`, { key: op(), body: { name: 'k' } })).body.key as string;
  return { id: s, key, lenderKey: lender.key as string, facilityId: f.body.id as string, credit: f.body.granted_micros as number };
}

export const ask = (over: Record<string, unknown> = {}) => ({ accelerator: 'H100', gpus: 2, hours: 4, earliest_start: iso(T0), latest_start: iso(T0 + 4 * HOUR_MS), ...over });

/** Books until the answer is final: a 503 (contention) is retried with the same Idempotency-Key, as docs/api.md says. */
export async function bookFinal(key: string, body: unknown, idem: string) {
  for (let i = 0; ; i++) {
    const r = await call('POST', '/v1/bookings', { key, body, headers: { 'idempotency-key': idem } });
    if (r.status !== 503 || i >= 20) return r;
    await sleep(20 + Math.random() * 50);
  }
}

export async function balances(facilityId: string) {
  const get = async (k: 'available' | 'reserved' | 'spent') => (await rt.store.sumLines(facilityAccount(facilityId, k))).sum_micros;
  return { available: await get('available'), reserved: await get('reserved'), spent: await get('spent') };
}

export const BLOCK = { accelerator: 'H100' as const, region: 'us-east-1', availability_zone: 'us-east-1a', capacity_type: 'dedicated' as const, interconnect: 'infiniband' as const };
export const POOL = 'H100|us-east-1|us-east-1a|dedicated|infiniband';

