/**
 * Bad input on every route (issue 14, point 1), generated from the route table: for each row of infra/routes.ts, bad
 * path ids by kind (oversized, unicode, NUL, control characters), bad query and body fields from its zod schemas
 * (huge and fractional micros, impossible and inverted dates, wrong types), forged, truncated and cross-list cursors,
 * wrong content types, empty, oversized, deep and duplicate-key bodies. A new row is covered without a line here; a
 * path parameter of a new kind fails until its values are added below.
 *
 * Asserted: never a 5xx; a 4xx in the error shape naming the field it refuses; nothing written (the table's item count
 * is the same after, the runtime's scheduler is off) and the ledger audit balances.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES, routeKey, takesCursor, type RouteDef } from '../../infra/routes.js';
import { ACCOUNT_SHARDS } from '../../infra/table.js';
import { auditAll, monthOf, nowIso } from '../../packages/core/src/index.js';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';
import { servedRequest } from './served.js';
import { itemCount } from './table-items.js';
import { casesFor, pathWith, type BadCase, type World } from './bad-input/cases.js';
import type { RealCursor } from './bad-input/cursors.js';

const AURORA = 'prv_demoAurora01';
/** Requests in flight at once: enough to keep the run short, few enough for two busy cores. */
const CONCURRENCY = 8;

let rt: TestRuntime;
let call: ReturnType<typeof client>;
let world: World;
let itemsBefore = 0;
/** Bad requests sent over the whole file: the generation must not quietly shrink. */
let sent = 0;
/** 66 rows gave 2,546 when this was written; far fewer means the generator lost a dimension. */
const MIN_REQUESTS = 2_000;

async function ok(p: Promise<{ status: number; body: any }>, status = 200) {
  const r = await p;
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  return r.body;
}

beforeAll(async () => {
  rt = await startTestRuntime('bad-input', { demo: {} });
  call = client(rt.baseUrl);
  const w = rt.world!;
  const providerKey = w.providerSecrets.get(AURORA)?.key ?? undefined;
  const keys = { operator: rt.adminKey, lender: w.lenderKey ?? undefined, startup: w.startupKey, provider: providerKey };

  // Lists long enough to page, so real cursors exist to truncate, edit and send to other lists.
  await ok(call('POST', '/v1/keys', { key: w.startupKey, body: { name: 'second' } }), 201);
  await ok(call('POST', '/v1/keys', { key: w.startupKey, body: { name: 'third' } }), 201);
  const second = await ok(call('POST', '/v1/facilities', {
    key: keys.lender, body: { startup_id: w.startupId, principal_micros: 1_000_000_000, multiplier: 1.25, term_months: 12, origination_fee_bps: 200, servicing_fee_bps: 75 },
    headers: { 'idempotency-key': 'bad-input-second' },
  }), 201);
  await ok(call('POST', `/v1/facilities/${second.id}/freeze`, { key: keys.lender, body: { reason: 'test' }, headers: { 'idempotency-key': 'f1' } }));
  await ok(call('POST', `/v1/facilities/${second.id}/unfreeze`, { key: keys.lender, headers: { 'idempotency-key': 'u1' } }));
  for (const usd of [2_000_000, 2_100_000]) await ok(call('PUT', '/v1/admin/spot-prices/H100', { key: rt.adminKey, body: { usd_per_gpu_hour_micros: usd } }));
  const keyId = (await ok(call('GET', '/v1/keys', { key: w.startupKey }))).data[0].id as string;
  const requestId = await servedRequest(rt.baseUrl, w.startupKey);

  const period = monthOf(nowIso());
  world = {
    keys,
    tenants: { operator: null, lender: w.lenderId, startup: w.startupId, provider: AURORA },
    realCursors: [],
    listable: new Set(),
    kinds: {
      startup: { prefix: 'stu', existing: w.startupId, unknown: 'stu_QQQQQQQQQQQQQQQQQQQQ' },
      key: { prefix: 'key', existing: keyId, unknown: 'key_QQQQQQQQQQQQQQQQQQQQ' },
      facility: { prefix: 'fac', existing: w.facilityId, unknown: 'fac_QQQQQQQQQQQQQQQQQQQQ' },
      provider: { prefix: 'prv', existing: AURORA, unknown: 'prv_QQQQQQQQQQQQQQQQQQQQ' },
      booking: { prefix: 'bkg', existing: 'bkg_QQQQQQQQQQQQQQQQQQQQ', unknown: 'bkg_QQQQQQQQQQQQQQQQQQQQ' },
      'webhook endpoint': { prefix: 'whe', existing: 'whe_QQQQQQQQQQQQQQQQQQQQ', unknown: 'whe_QQQQQQQQQQQQQQQQQQQQ' },
      event: { prefix: 'evt', existing: 'evt_QQQQQQQQQQQQQQQQQQQQ', unknown: 'evt_QQQQQQQQQQQQQQQQQQQQ' },
      request: { prefix: '', existing: requestId, unknown: '00000000-0000-4000-8000-000000000000' },
      model: { prefix: '', existing: 'llama-3.1-70b-instruct', unknown: 'no-such-model' },
      // No stored response exists in this world (the suite pays for nothing): both ids read as unknown.
      response: { prefix: 'resp', existing: 'resp_QQQQQQQQQQQQQQQQQQQQ', unknown: 'resp_QQQQQQQQQQQQQQQQQQQQ' },
      accelerator: { prefix: '', existing: 'H100', unknown: null },
      // A month that has not ended: a settlement of it is refused (409) whatever else.
      period: { prefix: '', existing: period, unknown: null },
    },
  };
  world.realCursors = await realCursors();
  // The table is this file's own; nothing else writes to it with the scheduler off.
  itemsBefore = await itemCount(rt);
});
afterAll(async () => rt?.stop());

/** For each row that takes a cursor and each role of it: a first page of one item, and its cursor if there is more. */
async function realCursors(): Promise<RealCursor[]> {
  const out: RealCursor[] = [];
  for (const row of ROUTES.filter(takesCursor)) {
    for (const role of row.auth) {
      const key = world.keys[role as keyof World['keys']];
      if (!key || role === 'public') continue;
      const { path } = pathWith(row, world);
      const r = await call('GET', `${path}?limit=1`, { key });
      if (r.status === 200) world.listable.add(`${routeKey(row)} ${role}`);
      if (r.status === 200 && typeof r.body?.next_cursor === 'string') out.push({ row: routeKey(row), role: role as RealCursor['role'], path, cursor: r.body.next_cursor });
    }
  }
  return out;
}

async function send(c: BadCase) {
  const headers: Record<string, string> = {};
  const key = c.role === 'public' ? undefined : world.keys[c.role];
  if (key) headers.authorization = `Bearer ${key}`;
  if (c.contentType) headers['content-type'] = c.contentType;
  const res = await fetch(`${rt.baseUrl}${c.url}`, { method: c.method, headers, ...(c.body !== undefined ? { body: c.body } : {}) });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* kept as text: the assertion shows it */
  }
  return { status: res.status, body };
}

/** What is wrong with a reply to a bad case, or null. */
function problemOf(c: BadCase, r: { status: number; body: any }): string | null {
  if (r.status >= 500) return `answered ${r.status}`;
  if (r.status < 400) return c.lenient ? null : `accepted (${r.status})`;
  const e = r.body?.error;
  if (!e || typeof e.message !== 'string' || typeof e.code !== 'string') return `${r.status} without the error shape`;
  if (r.status === 401 || r.status === 403) return c.names === 'signature' && /signature/.test(e.message) ? null : `${r.status} ${e.code}: the suite's key is wrong for the row`;
  // The field itself, or a field inside it (response_format.type, alerts.0.facility_id).
  const param = typeof e.param === 'string' ? e.param : '';
  const named = param === c.names || param.startsWith(`${c.names}.`) || param.startsWith(`${c.names}[`) || e.message.toLowerCase().includes(c.names.toLowerCase()) || (c.byServer && /path/.test(e.message));
  if (c.code && e.code !== c.code) return `${r.status} ${e.code}, not ${c.code}: "${e.message.slice(0, 160)}"`;
  if (!named && !c.lenient) return `${r.status} ${e.code} does not name ${JSON.stringify(c.names)}: param ${JSON.stringify(e.param)}, "${e.message.slice(0, 160)}"`;
  return null;
}

/** Runs every case of a row, CONCURRENCY at a time; returns one line per case that went wrong. */
async function runAll(cases: BadCase[]): Promise<string[]> {
  const problems: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++]!;
      const r = await send(c);
      sent++;
      const p = problemOf(c, r);
      if (p) problems.push(`${c.method} ${c.url.slice(0, 90)} [${c.role}] ${c.label}: ${p}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return problems;
}

describe('bad input on every route (generated from infra/routes.ts)', () => {
  it('has real cursors to forge from (keys, facilities, spot history), each paging its own list', async () => {
    // Prepare
    const rows = new Set(world.realCursors.map((c) => c.row));
    // Act
    const pages = await Promise.all(world.realCursors.map((c) => call('GET', `${c.path}?limit=1&cursor=${c.cursor}`, { key: world.keys[c.role] })));
    // Assess
    expect([...rows]).toEqual(expect.arrayContaining(['GET /v1/keys', 'GET /v1/facilities', 'GET /v1/admin/spot-prices/{accelerator}/history']));
    for (const p of pages) expect(p.status, JSON.stringify(p.body)).toBe(200);
  });

  it.each(ROUTES.map((r) => [routeKey(r), r] as [string, RouteDef]))('%s: no 5xx, a 4xx naming the field', async (_key, row) => {
    // Prepare
    const cases = casesFor(row, world);
    // Act
    const problems = await runAll(cases);
    // Assess
    expect(cases.length).toBeGreaterThan(0);
    expect(problems).toEqual([]);
  });

  it('wrote nothing: the same items, a balanced ledger, no call outside a grant', async () => {
    // Act
    const after = await itemCount(rt);
    const audit = await auditAll(rt.store, ACCOUNT_SHARDS);
    // Assess
    expect(sent).toBeGreaterThan(MIN_REQUESTS);
    expect(after).toBe(itemsBefore);
    expect(audit).toMatchObject({ ok: true, balance_sum_micros: 0, mismatches: [] });
    expect(rt.denials).toEqual([]);
  });
});
