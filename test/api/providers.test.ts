/** Provider routes and the signed capacity webhook through the local runtime (SQS queue and poller included). */
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';
import { nowIso, nowS, signPayload } from '../../packages/core/src/index.js';

// Every test here applies from 127.0.0.1: a limit above what the other tests use, so the limit test meets it.
process.env.COMPUX_APPLICATIONS_PER_MINUTE = '12';

let rt: TestRuntime;
let call: ReturnType<typeof client>;

beforeAll(async () => {
  rt = await startTestRuntime('providers');
  call = client(rt.baseUrl);
});
afterAll(async () => rt?.stop());

async function applyProvider(name = 'Kestrel GPU') {
  return call('POST', '/v1/providers', { body: { name, contact_email: 'ops@kestrel.example', regions: ['us-east-1'], accelerators: ['H100'] } });
}

async function integrated() {
  const app = (await applyProvider()).body;
  await call('POST', `/v1/admin/providers/${app.id}/review`, { key: rt.adminKey, body: { decision: 'approve', notes: 'ok' } });
  await call('PUT', `/v1/providers/${app.id}/endpoints`, {
    key: app.key, body: { endpoints: [{ id: 'e1', url: 'http://127.0.0.1:9/v1', region: 'us-east-1', availability_zone: 'us-east-1a', capacity_type: 'dedicated', accelerators: ['H100'] }] },
  });
  return app as { id: string; key: string; webhook_secret: string };
}

async function routing(id: string) {
  return (await rt.doc.send(new GetCommand({ TableName: rt.tableName, Key: { pk: 'ROUTING', sk: `PROVIDER#${id}` }, ConsistentRead: true }))).Item?.provider;
}

function report(id: string, over: Record<string, unknown> = {}) {
  return {
    event_id: `evt_${Math.random().toString(36).slice(2)}`, provider_id: id, reported_at: nowIso(),
    capacity: [{ accelerator: 'H100', region: 'us-east-1', availability_zone: 'us-east-1a', available_gpu_hours: 800 }],
    burst_windows: [], maintenance_windows: [],
    ...over,
  };
}

async function send(app: { id: string; webhook_secret: string }, body: unknown, opts: { secret?: string; t?: number; header?: string | null } = {}) {
  const raw = JSON.stringify(body);
  const t = opts.t ?? nowS();
  const sig = opts.header === null ? undefined : (opts.header ?? signPayload(opts.secret ?? app.webhook_secret, t, raw));
  return call('POST', `/v1/providers/${app.id}/capacity`, { raw, headers: sig ? { 'x-compux-signature': sig } : {} });
}

async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = await f();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met in 5 s');
}

describe('provider records', () => {
  it('application → review → integration, each step recorded; another provider gets 404', async () => {
    // Act
    const app = await applyProvider();
    const pending = await call('GET', `/v1/providers/${app.body.id}`, { key: app.body.key });
    const early = await call('PUT', `/v1/providers/${app.body.id}/sla`, { key: app.body.key, body: { tier: 'premium' } });
    const approved = await call('POST', `/v1/admin/providers/${app.body.id}/review`, { key: rt.adminKey, body: { decision: 'approve', notes: 'docs checked' } });
    const sla = await call('PUT', `/v1/providers/${app.body.id}/sla`, { key: app.body.key, body: { tier: 'premium', capacity_interval_s: 1_800 } });
    const models = await call('PUT', `/v1/providers/${app.body.id}/models`, {
      key: app.body.key, body: { models: [{ model: 'llama-3.1-70b-instruct', architecture: 'llama', context_length: 131_072, accelerator: 'H100', prompt_tokens_per_gpu_second: 4_000, completion_tokens_per_gpu_second: 60 }] },
    });
    const wrongAcc = await call('PUT', `/v1/providers/${app.body.id}/models`, {
      key: app.body.key, body: { models: [{ model: 'x', architecture: 'llama', context_length: 8, accelerator: 'A100', prompt_tokens_per_gpu_second: 1, completion_tokens_per_gpu_second: 1 }] },
    });
    const other = await applyProvider('Other');
    const peek = await call('GET', `/v1/providers/${app.body.id}`, { key: other.body.key });
    const again = await call('POST', `/v1/admin/providers/${app.body.id}/review`, { key: rt.adminKey, body: { decision: 'reject' } });
    // Assess
    expect(app.status).toBe(201);
    expect(app.body).toMatchObject({ status: 'pending_review', key: expect.stringMatching(/^cx_provider_/), webhook_secret: expect.stringMatching(/^whsec_/) });
    expect(pending.body.key).toBeUndefined();
    expect(pending.body.webhook_secret).toBeUndefined();
    expect(early.status).toBe(409);
    expect(approved.body.status).toBe('integration');
    expect(sla.body).toMatchObject({ sla_tier: 'premium', capacity_interval_s: 1_800 });
    expect(models.body.models).toHaveLength(1);
    expect(models.body.steps.map((s: { step: string; result: string }) => `${s.step}:${s.result}`)).toEqual(['application:recorded', 'review:passed', 'sla:recorded', 'models:recorded']);
    expect(wrongAcc.status).toBe(400);
    expect(peek.status).toBe(404);
    expect(again.status).toBe(409);
    expect((await routing(app.body.id)).status).toBe('integration'); // routable only once live
  });
});

/** Headers every reply carries with its own value. */
const PER_REQUEST_HEADERS = new Set(['x-request-id', 'x-amzn-requestid', 'date']);

/** A webhook call as sent on the wire, its reply as received: status, the body's bytes, and headers but the per-request ones. */
async function sendRaw(id: string, raw: string, signature: string | null) {
  const res = await fetch(`${rt.baseUrl}/v1/providers/${id}/capacity`, { method: 'POST', headers: { 'content-type': 'application/json', ...(signature === null ? {} : { 'x-compux-signature': signature }) }, body: raw });
  const headers = [...res.headers.entries()].filter(([k]) => !PER_REQUEST_HEADERS.has(k));
  return { status: res.status, body: await res.text(), headers };
}

describe('the capacity webhook', () => {
  it('an unknown provider id and a bad, missing, malformed or stale signature get the same 401, byte for byte', async () => {
    // Prepare: a real provider, and ids no provider has (one of a shape no id has, longer than a key may be).
    const app = await integrated();
    const raw = JSON.stringify(report(app.id));
    const sign = (secret: string, t = nowS(), body = raw) => signPayload(secret, t, body);
    const unknown = 'prv_doesNotExist01';
    const unknownRaw = JSON.stringify(report(unknown));
    // Act
    const replies = {
      wrong_secret: await sendRaw(app.id, raw, sign('whsec_not_it')),
      missing: await sendRaw(app.id, raw, null),
      malformed: await sendRaw(app.id, raw, 't=abc,v1=zz'),
      stale: await sendRaw(app.id, raw, sign(app.webhook_secret, nowS() - 301)),
      ahead: await sendRaw(app.id, raw, sign(app.webhook_secret, nowS() + 301)),
      other_body: await sendRaw(app.id, raw, sign(app.webhook_secret, nowS(), `${raw} `)),
      unknown_signed: await sendRaw(unknown, unknownRaw, sign(app.webhook_secret, nowS(), unknownRaw)),
      unknown_missing: await sendRaw(unknown, unknownRaw, null),
      unknown_stale: await sendRaw(unknown, unknownRaw, sign(app.webhook_secret, nowS() - 301, unknownRaw)),
      unknown_malformed: await sendRaw(unknown, unknownRaw, 't=abc,v1=zz'),
      unknown_oversized_id: await sendRaw('p'.repeat(3_000), raw, sign(app.webhook_secret)),
    };
    const good = await sendRaw(app.id, raw, sign(app.webhook_secret));
    // Assess: one reply for all (the first names it); the real provider's signed report is accepted, so they can differ.
    const expected = {
      status: 401,
      body: JSON.stringify({ error: { message: 'The x-compux-signature header is missing, malformed, more than 300 s away, or does not match the body.', type: 'authentication_error', param: null, code: 'invalid_signature' } }),
      headers: replies.wrong_secret.headers,
    };
    expect(replies).toEqual(Object.fromEntries(Object.keys(replies).map((k) => [k, expected])));
    expect(good.status).toBe(202);
  });

  it('400 for a report that is not valid or names another provider, once the signature holds', async () => {
    // Prepare
    const app = await integrated();
    const body = report(app.id);
    // Act
    const bad = await send(app, { ...body, capacity: [{ accelerator: 'TPU' }] });
    const otherId = await send(app, { ...body, provider_id: 'prv_someoneElse01' });
    // Assess
    expect([bad.status, otherId.status]).toEqual([400, 400]);
    expect(otherId.body.error).toMatchObject({ code: 'invalid_request', param: 'provider_id' });
  });

  it('a good report is queued (202) and applied; a replayed event id is applied once; an older report changes nothing', async () => {
    // Prepare
    const app = await integrated();
    const first = report(app.id, { reported_at: '2026-11-21T10:00:00.000Z' });
    // Act
    const accepted = await send(app, first);
    const replay = await send(app, first);
    const applied = await until(() => routing(app.id), (r) => r.capacity.length === 1);
    const older = await send(app, report(app.id, { reported_at: '2026-11-21T09:00:00.000Z', capacity: [] }));
    await until(
      async () => (await rt.doc.send(new QueryCommand({ TableName: rt.tableName, KeyConditionExpression: 'pk = :p AND begins_with(sk, :c)', ExpressionAttributeValues: { ':p': `PROVIDER#${app.id}`, ':c': 'CAPACITY#' }, ConsistentRead: true }))).Items ?? [],
      (items) => items.length === 2,
    );
    const after = await routing(app.id);
    // Assess
    expect([accepted.status, replay.status, older.status]).toEqual([202, 202, 202]);
    expect(applied.capacity).toEqual(first.capacity);
    expect(applied.listed_gpu_hours_month).toBe(800);
    expect(after.capacity).toEqual(first.capacity);
  });

  it('an increase within the interval is coalesced; a reduction or a maintenance window applies at once', async () => {
    // Prepare
    const app = await integrated();
    const at = (m: number) => new Date(Date.UTC(2026, 10, 21, 11, m)).toISOString();
    const cap = (h: number) => [{ accelerator: 'H100', region: 'us-east-1', availability_zone: 'us-east-1a', available_gpu_hours: h }];
    await send(app, report(app.id, { reported_at: at(0), capacity: cap(500) }));
    await until(() => routing(app.id), (r) => r.capacity[0]?.available_gpu_hours === 500);
    // Act
    await send(app, report(app.id, { reported_at: at(1), capacity: cap(900) }));
    const pending = await until(
      async () => (await rt.doc.send(new GetCommand({ TableName: rt.tableName, Key: { pk: `PROVIDER#${app.id}`, sk: 'CAPSTATE' }, ConsistentRead: true }))).Item?.state,
      (s) => s?.pending?.reported_at === at(1),
    );
    const whileCoalesced = await routing(app.id);
    await send(app, report(app.id, { reported_at: at(2), capacity: cap(100) }));
    const reduced = await until(() => routing(app.id), (r) => r.capacity[0]?.available_gpu_hours === 100);
    const window = { start: '2026-11-22T00:00:00.000Z', end: '2026-11-22T04:00:00.000Z' };
    await send(app, report(app.id, { reported_at: at(3), capacity: cap(100), maintenance_windows: [window] }));
    const maintenance = await until(() => routing(app.id), (r) => r.maintenance.length === 1);
    // Assess
    expect(pending.pending.capacity[0].available_gpu_hours).toBe(900);
    expect(whileCoalesced.capacity[0].available_gpu_hours).toBe(500);
    expect(reduced.capacity[0].available_gpu_hours).toBe(100);
    expect(maintenance.maintenance).toEqual([window]);
  });
});

// Last: it uses up this minute's applications from this address.
describe('the public application route', () => {
  it('applications are rate limited per address', async () => {
    // Act (a spoofed X-Forwarded-For does not make another address)
    const replies = [];
    for (let i = 0; i < 13; i++) replies.push(await call('POST', '/v1/providers', { body: { name: `P${i}`, contact_email: 'a@b.example', regions: ['us-east-1'], accelerators: ['A100'] }, headers: { 'x-forwarded-for': `10.9.9.${i}` } }));
    // Assess
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((s) => s === 201).length).toBeLessThanOrEqual(12);
    expect(statuses[12]).toBe(429);
    expect(replies.find((r) => r.status === 429)!.headers.get('retry-after')).toBeTruthy();
  });
});
