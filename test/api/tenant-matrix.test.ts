/**
 * The tenant matrix (issue 14, point 2), generated from the route table: every row of infra/routes.ts × no key, a
 * revoked key, each role the row does not allow, the other tenant of the owner's role (and tenants of other allowed
 * roles), the operator, the owner. SPEC §10: no key 401, a role not allowed 403, another tenant's object 404 — the very
 * reply an unknown id gets — and the owner gets through. No reply, in any cell, holds an id, key or name of the other
 * side's tenants.
 *
 * Refused cells run first, each row's with the table's items counted around them (the scheduler is off, as in
 * bad-input.test.ts), then the allowed cells, which may write. A row without a line in tenant-matrix/rows.ts, or
 * with one that names a tenant's object without an owner, fails here with what to add.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES, routeKey, type RouteDef } from '../../infra/routes.js';
import { ACCOUNT_SHARDS } from '../../infra/table.js';
import { auditAll, nowS } from '../../packages/core/src/index.js';
import { SIGNATURE_HEADER, signPayload } from '../../packages/provider-kit/src/index.js';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';
import { itemCount } from './table-items.js';
import { MATRIX } from './tenant-matrix/rows.js';
import { cellsOf, entryFor, meaninglessness, type Cell, type Sent } from './tenant-matrix/cells.js';
import { buildWorld, type MatrixWorld } from './tenant-matrix/world.js';

/** Requests in flight at once, as bad-input.test.ts: short runs, two busy cores. */
const CONCURRENCY = 8;
/** How long an event stream is read before the matrix hangs up (its first event comes at once). */
const STREAM_READ_MS = 3_000;
/** 68 rows gave 457 cells when this was written; far fewer means the generator lost a dimension. */
const MIN_CELLS = 400;

let rt: TestRuntime;
let w: MatrixWorld;
let cellsRun = 0;
/** The table's items after the last refused row: nothing writes between two refused rows, so it is the next one's count before. */
let items = 0;

beforeAll(async () => {
  rt = await startTestRuntime('tenant-matrix', { demo: { blocks: true } });
  w = await buildWorld(rt, client(rt.baseUrl));
  items = await itemCount(rt);
}, 120_000);
afterAll(async () => {
  await rt?.world?.stop();
  await rt?.stop();
});

interface Got {
  status: number;
  text: string;
  body: any;
}

async function send(c: Cell, s: Sent): Promise<Got> {
  const headers: Record<string, string> = {};
  if (c.key) headers.authorization = `Bearer ${c.key}`;
  if (s.body !== undefined) headers['content-type'] = 'application/json';
  if (c.signWith) headers[SIGNATURE_HEADER] = signPayload(c.signWith, nowS(), s.body ?? '');
  const abort = new AbortController();
  const res = await fetch(`${rt.baseUrl}${s.url}`, { method: s.method, headers, signal: abort.signal, ...(s.body !== undefined ? { body: s.body } : {}) });
  let text: string;
  if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
    // A stream runs up to a minute: its first events are what it shows this caller.
    text = await firstOf(res, STREAM_READ_MS);
    abort.abort();
  } else {
    text = await res.text();
  }
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* an event stream, or not JSON: kept as text */
  }
  return { status: res.status, text, body };
}

async function firstOf(res: Response, ms: number): Promise<string> {
  const reader = res.body!.getReader();
  const timer = new Promise<null>((r) => setTimeout(() => r(null), ms));
  const chunk = await Promise.race([reader.read(), timer]);
  return chunk && chunk.value ? new TextDecoder().decode(chunk.value) : '';
}

/** A reply with the values the request itself named blanked (echoing the caller's own input is not a leak). */
function blanked(g: Got, s: Sent): string {
  let text = g.text;
  for (const v of s.named) text = text.split(v).join('<named>');
  return text;
}

/** What is wrong with a cell's reply, or null. */
function problemOf(c: Cell, g: Got, unknown: Got | null): string | null {
  if (g.status >= 500) return `answered ${g.status}: ${g.text.slice(0, 200)}`;
  if (c.expect === 'through') {
    if (g.status === 401 || g.status === 403 || g.status === 404) return `the caller may call it, but got ${g.status}: ${g.text.slice(0, 200)}`;
    if (g.status >= 300 && g.body?.error?.code !== c.domain) return `got ${g.status}, neither a 2xx nor the row's domain refusal ${c.domain ?? '(none declared)'}: ${g.text.slice(0, 200)}`;
  } else {
    if (g.status !== c.expect) return `expected ${c.expect}, got ${g.status}: ${g.text.slice(0, 200)}`;
    if (typeof g.body?.error?.code !== 'string') return `${g.status} without the error shape: ${g.text.slice(0, 200)}`;
  }
  if (unknown) {
    const mine = blanked(g, c.sent);
    const theirs = blanked(unknown, c.unknown!);
    if (g.status !== unknown.status || mine !== theirs) return `tells the owner's object from an unknown one: ${g.status} ${mine.slice(0, 200)} vs ${unknown.status} ${theirs.slice(0, 200)}`;
  }
  return leakIn(c, g);
}

/** The other side's ids, keys or names in a reply to this caller. */
function leakIn(c: Cell, g: Got): string | null {
  if (c.sees === 'operator') return null;
  const text = blanked(g, c.sent);
  const forbidden = c.sees === 'nobody' ? [...w.secrets.A, ...w.secrets.B] : w.secrets[c.sees === 'A' ? 'B' : 'A'];
  const found = forbidden.filter((s) => text.includes(s));
  return found.length > 0 ? `the reply holds another tenant's ${found.map((f) => JSON.stringify(f.slice(0, 24))).join(', ')}: ${g.text.slice(0, 300)}` : null;
}

/** Runs cells CONCURRENCY at a time (or one by one); returns one line per cell that went wrong. */
async function runAll(cells: Cell[], concurrency: number): Promise<string[]> {
  const problems: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < cells.length) {
      const c = cells[next++]!;
      const [g, u] = await Promise.all([send(c, c.sent), c.unknown ? send(c, c.unknown) : null]);
      cellsRun++;
      const p = problemOf(c, g, u);
      if (p) problems.push(`${c.label}: ${p}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return problems;
}

const rows = ROUTES.map((r) => [routeKey(r), r] as [string, RouteDef]);
/** Public rows refuse no one (the signed webhook refuses a missing or foreign signature). */
const refusingRows = rows.filter(([, r]) => !r.auth.includes('public') || r.rawBody);

describe('the tenant matrix covers the route table', () => {
  it('has one meaningful line per row of infra/routes.ts, and none for a row that is gone', () => {
    // Prepare
    const keys = new Set(ROUTES.map(routeKey));
    // Act
    const missing = ROUTES.filter((r) => !MATRIX[routeKey(r)]).map(routeKey);
    const stale = Object.keys(MATRIX).filter((k) => !keys.has(k));
    const meaningless = ROUTES.filter((r) => MATRIX[routeKey(r)]).map((r) => [routeKey(r), meaninglessness(r, MATRIX[routeKey(r)]!)]).filter(([, why]) => why);
    // Assess
    expect(missing, 'rows with no line in test/api/tenant-matrix/rows.ts: add { owner, request } for each').toEqual([]);
    expect(stale, 'lines of test/api/tenant-matrix/rows.ts for rows infra/routes.ts no longer has').toEqual([]);
    expect(meaningless).toEqual([]);
  });
});

describe('refused: no key 401, a role not allowed 403, another tenant 404 as an unknown id; nothing written', () => {
  it.each(refusingRows)('%s', async (_key, row) => {
    // Prepare
    const entry = entryFor(row);
    const cells = cellsOf(row, entry, w).filter((c) => c.refused);
    const before = items;
    // Act
    const problems = await runAll(cells, CONCURRENCY);
    items = await itemCount(rt);
    // Assess
    expect(cells.length).toBeGreaterThan(0);
    expect(problems).toEqual([]);
    expect(items).toBe(before);
  });

  it('the refusals left the ledger balanced and made no call outside a grant', async () => {
    // Act
    const audit = await auditAll(rt.store, ACCOUNT_SHARDS);
    // Assess
    expect(audit).toMatchObject({ ok: true, balance_sum_micros: 0, mismatches: [] });
    expect(rt.denials).toEqual([]);
  });
});

describe('allowed: the owner, the operator and each tenant on its own data get through, with nothing of the other side', () => {
  it.each(rows)('%s', async (_key, row) => {
    // Prepare
    const cells = cellsOf(row, entryFor(row), w).filter((c) => !c.refused);
    // Act: one by one, in the row's order (the owner's change is the last word on its object).
    const problems = await runAll(cells, 1);
    // Assess
    expect(cells.length).toBeGreaterThan(0);
    expect(problems).toEqual([]);
  });

  it('ran the whole matrix, and the ledger still balances', async () => {
    // Act
    const audit = await auditAll(rt.store, ACCOUNT_SHARDS);
    // Assess
    expect(cellsRun).toBeGreaterThan(MIN_CELLS);
    expect(audit).toMatchObject({ ok: true, balance_sum_micros: 0, mismatches: [] });
  });
});
