/**
 * Credit leases against DynamoDB Local (SPEC §2, §3): many holders — as Lambda runs many containers — spend
 * one startup's credit in memory and flush after each "reply", under injected TransactionConflict,
 * throttling and lost replies; a freeze raced against them; a holder that vanishes and the sweeper.
 * After every run the books are checked from the table itself: the audit, the balances, the request records.
 */
import { describe, expect, it } from 'vitest';
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ACCOUNT_SHARDS } from '../../infra/table.js';
import {
  ACCRUAL_SHARDS, DEFAULT_HOLDER_CONFIG, LeaseCloser, LeaseHolder, auditAll, facilityAccount, maxLeaseLifeMs, newId, nowIso, type BilledRecord, type LeaseReservation, type LeaseTiming, type UsageRecord,
} from '../../packages/core/src/index.js';
import { prng, world } from './world.js';
import { requestRecords } from '../setup/records.js';
import { DynamoSettlement } from '../../packages/core/src/adapters/dynamodb/settlement.js';

const TIMING: LeaseTiming = { reserve_s: 5, spend_s: 5 };
const holderOf = (w: Awaited<ReturnType<typeof world>>, timing = TIMING) => new LeaseHolder(w.store, { ...DEFAULT_HOLDER_CONFIG, timing });

/** A billed request's record as the gateway would write it: cost split 85/15 between provider and margin. */
function recordFor(startupId: string, r: LeaseReservation, cost: number, n: number): UsageRecord {
  const provider = Math.floor((cost * 85) / 100);
  return {
    request_id: newId('req'), startup_id: startupId, key_id: 'key_test', hold_id: r.lease_id, workload: 'chat', model: n % 2 ? 'model-a' : 'model-b',
    provider_id: n % 3 ? 'prv_one' : 'prv_two', endpoint_id: 'ep', accelerator: 'H100', stream: false, outcome: 'ok', status_code: 200, attempts: 1,
    prompt_tokens: 10, completion_tokens: 5, estimated: false, gpu_microseconds: 1_000, cost_micros: cost, provider_micros: provider, margin_micros: cost - provider,
    spot_micros_per_gpu_hour: 2_000_000, facilities: cost > 0 ? [{ facility_id: r.facility_id, amount_micros: cost }] : [], latency_ms: 5, ttft_ms: 5,
    created_at: nowIso(),
  };
}

/** One environment's traffic: one request at a time, each reserved, settled, then flushed after its "reply". */
async function traffic(h: LeaseHolder, startupId: string, requests: number, seed: number, onSettle?: (r: LeaseReservation, cost: number) => void) {
  const rand = prng(seed);
  let served = 0;
  let refused = 0;
  for (let i = 0; i < requests; i++) {
    const amount = 1_000 + Math.floor(rand() * 4_000);
    const r = await h.reserve({ startup_id: startupId, budget_key: null, budget_left_micros: null, amount_micros: amount });
    if (!r.ok) {
      refused++;
      continue;
    }
    const cost = Math.floor(rand() * amount);
    h.settle(r.reservation, recordFor(startupId, r.reservation, cost, i));
    onSettle?.(r.reservation, cost);
    served++;
    await h.afterReply();
  }
  return { served, refused };
}

async function scanAll(doc: DynamoDBDocumentClient, table: string, filter: string, values: Record<string, unknown>, names: Record<string, string>) {
  const out: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new ScanCommand({ TableName: table, FilterExpression: filter, ExpressionAttributeNames: names, ExpressionAttributeValues: values, ExclusiveStartKey: start, ConsistentRead: true }));
    out.push(...((page.Items ?? []) as Record<string, unknown>[]));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

/** The books of one facility, read from the table: balances, request records, open leases. */
async function books(w: Awaited<ReturnType<typeof world>>, startupId: string, facilityId: string) {
  const bal = await w.store.getBalances((['available', 'leased', 'spent', 'funding'] as const).map((k) => facilityAccount(facilityId, k)));
  const b = (k: 'available' | 'leased' | 'spent' | 'funding') => bal.get(facilityAccount(facilityId, k))?.balance_micros ?? 0;
  const records = await requestRecords(w.doc, w.tableName, startupId);
  const openLeases = await scanAll(w.doc, w.tableName, '#t = :t AND #st = :open', { ':t': 'lease', ':open': 'open' }, { '#t': 'type', '#st': 'status' });
  return { available: b('available'), leased: b('leased'), spent: b('spent'), granted: -b('funding'), records, openLeases };
}

describe('credit leases on DynamoDB Local', () => {
  it('eight holders spend one startup concurrently under conflicts, throttles and lost replies: every lease closes, each flushed request is billed once, the audit balances', async () => {
    // Prepare
    const w = await world('lease-faults', { faults: { conflictBefore: 0.05, throttleBefore: 0.05, lostReplyAfter: 0.05 }, seed: 7 });
    const { startup, facilities } = await w.fundedStartup([{ principal_micros: 2_000_000 }]);
    const f = facilities[0]!;
    const holders = Array.from({ length: 8 }, () => holderOf(w));
    // Act
    const runs = await Promise.all(holders.map((h, i) => traffic(h, startup.id, 30, 100 + i)));
    await Promise.all(holders.map((h) => h.closeAll()));
    // Assess
    const after = await books(w, startup.id, f.id);
    const flushed = holders.reduce((s, h) => s + h.report.records_flushed, 0);
    const lost = holders.reduce((s, h) => s + h.report.records_lost, 0);
    expect(runs.reduce((s, r) => s + r.served, 0)).toBe(flushed + lost);
    expect(after.openLeases).toEqual([]);
    expect(after.leased).toBe(0);
    expect(new Set(after.records.map((r) => r.request_id)).size).toBe(after.records.length);
    expect(after.records.length).toBe(flushed);
    expect(after.spent).toBe(after.records.reduce((s, r) => s + (r.cost_micros as number), 0));
    expect(after.available + after.spent).toBe(after.granted);
    expect(after.available).toBeGreaterThanOrEqual(0);
    expect(await auditAll(w.store, ACCOUNT_SHARDS)).toMatchObject({ ok: true, balance_sum_micros: 0 });
    const usage = await w.store.listUsage(startup.id, '2000-01-01', '2999-12-31');
    expect(usage.reduce((s, u) => s + u.cost_micros, 0)).toBe(after.spent);
    expect(usage.reduce((s, u) => s + u.requests, 0)).toBe(flushed);
    // The faults really happened.
    expect(w.counts.conflicts + w.counts.throttles).toBeGreaterThan(0);
    expect(w.counts.lostReplies).toBeGreaterThan(0);
  });

  it('settlement reads every billed leased request once, from the record pages its lease wrote at close', async () => {
    // Prepare: two holders, lost replies on flushes and closes
    const w = await world('lease-pages', { faults: { conflictBefore: 0, throttleBefore: 0.05, lostReplyAfter: 0.1 }, seed: 5 });
    const { startup, facilities } = await w.fundedStartup([{ principal_micros: 2_000_000 }]);
    const holders = [holderOf(w), holderOf(w)];
    // Act
    await Promise.all(holders.map((h, i) => traffic(h, startup.id, 40, 700 + i)));
    await Promise.all(holders.map((h) => h.closeAll()));
    const settlement = new DynamoSettlement(w.doc, w.tableName, w.store.ledger);
    const read: BilledRecord[] = [];
    for (const provider of ['prv_one', 'prv_two']) {
      for (let shard = 0; shard < ACCRUAL_SHARDS; shard++) {
        let cursor: string | null = null;
        do {
          const page = await settlement.recordsPage(provider, nowIso().slice(0, 7), shard, cursor, 3);
          read.push(...page.records);
          cursor = page.cursor;
        } while (cursor);
      }
    }
    // Assess: exactly the billed records, each once, adding up to what the facility spent
    const billed = (await books(w, startup.id, facilities[0]!.id)).records.filter((r) => (r.cost_micros as number) > 0);
    expect(read.map((r) => r.request_id).sort()).toEqual(billed.map((r) => r.request_id as string).sort());
    expect(read.reduce((s, r) => s + r.cost_micros, 0)).toBe((await books(w, startup.id, facilities[0]!.id)).spent);
    expect(w.counts.lostReplies).toBeGreaterThan(0);
  });

  it('a holder never reserves beyond its lease, and credit a startup cannot cover is refused (fallback to a hold), never overspent', async () => {
    // Prepare: 1.25 USD of credit, far less than the traffic asks for
    const w = await world('lease-short');
    const { startup, facilities } = await w.fundedStartup([{ principal_micros: 1_000_000 }]);
    const holders = Array.from({ length: 4 }, () => holderOf(w));
    // Act
    const runs = await Promise.all(holders.map((h, i) => traffic(h, startup.id, 300, 300 + i)));
    await Promise.all(holders.map((h) => h.closeAll()));
    // Assess
    const after = await books(w, startup.id, facilities[0]!.id);
    expect(runs.reduce((s, r) => s + r.refused, 0)).toBeGreaterThan(0);
    expect(after.available).toBeGreaterThanOrEqual(0);
    expect(after.leased).toBe(0);
    expect(after.spent + after.available).toBe(after.granted);
    expect(await auditAll(w.store, ACCOUNT_SHARDS)).toMatchObject({ ok: true, balance_sum_micros: 0 });
  });

  it('group commit: requests still running on a holder are flushed with the first to finish, in one flush item', async () => {
    // Prepare: one holder (a local process), three requests in flight at once
    const w = await world('lease-group');
    const { startup } = await w.fundedStartup([{ principal_micros: 2_000_000 }]);
    const h = new LeaseHolder(w.store, { ...DEFAULT_HOLDER_CONFIG, timing: TIMING, flush_linger_ms: 100 });
    const ask = { startup_id: startup.id, budget_key: null, budget_left_micros: null, amount_micros: 2_000 };
    const rs = [await h.reserve(ask), await h.reserve(ask), await h.reserve(ask)].map((r) => (r.ok ? r.reservation : expect.unreachable()));
    // Act: the first finishes and waits for its record while the other two are still running
    const first = h.afterReply(h.settle(rs[0]!, recordFor(startup.id, rs[0]!, 1_000, 0)));
    await new Promise((r) => setTimeout(r, 10));
    const rest = rs.slice(1).map((r, i) => h.afterReply(h.settle(r, recordFor(startup.id, r, 1_000, i + 1))));
    await Promise.all([first, ...rest]);
    // Assess: one flush carried all three; a lone request afterwards is flushed at once, on its own
    expect(h.report).toMatchObject({ flushes: 1, records_flushed: 3 });
    const lone = await h.reserve(ask);
    if (!lone.ok) expect.unreachable();
    await h.afterReply(h.settle(lone.reservation, recordFor(startup.id, lone.reservation, 1_000, 9)));
    expect(h.report).toMatchObject({ flushes: 2, records_flushed: 4 });
    await h.closeAll();
    expect((await books(w, startup.id, (await w.store.listFacilitiesByStartup(startup.id, 8))[0]!.id)).spent).toBe(4_000);
  });

  it('lingering idle (one process serving requests in turn): a request served within the linger rides the previous one\'s flush', async () => {
    // Prepare
    const w = await world('lease-idle');
    const { startup } = await w.fundedStartup([{ principal_micros: 2_000_000 }]);
    const h = new LeaseHolder(w.store, { ...DEFAULT_HOLDER_CONFIG, timing: TIMING, flush_linger_ms: 100, flush_linger_idle: true });
    const ask = { startup_id: startup.id, budget_key: null, budget_left_micros: null, amount_micros: 2_000 };
    const serve = async (n: number) => {
      const r = await h.reserve(ask);
      if (!r.ok) expect.unreachable();
      return h.afterReply(h.settle(r.reservation, recordFor(startup.id, r.reservation, 1_000, n)));
    };
    // Act: the second request starts after the first has replied, while the first's flush lingers
    const first = serve(0);
    await new Promise((r) => setTimeout(r, 10));
    await Promise.all([first, serve(1)]);
    // Assess
    expect(h.report).toMatchObject({ flushes: 1, records_flushed: 2 });
    await h.closeAll();
  });

  it('items shared between holders take at most one write per ten requests', async () => {
    // Prepare: count every write per item (TransactWriteItems items, UpdateItem, PutItem)
    const w = await world('lease-writes');
    const writes = new Map<string, number>();
    w.doc.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { TransactItems?: Record<string, { Key?: Record<string, string>; Item?: Record<string, string> }>[]; Key?: Record<string, string>; Item?: Record<string, string> };
        const command = context.commandName ?? '';
        const keys = command.startsWith('TransactWrite') ? (input.TransactItems ?? []).map((t) => Object.values(t)[0]!) : /^(Update|Put)/.test(command) ? [input] : [];
        for (const k of keys) {
          const key = k.Key ?? k.Item;
          if (key) writes.set(`${key.pk}|${key.sk}`, (writes.get(`${key.pk}|${key.sk}`) ?? 0) + 1);
        }
        return next(args);
      },
      { step: 'initialize', name: 'writeCounter' },
    );
    const { startup } = await w.fundedStartup([{ principal_micros: 100_000_000 }]);
    writes.clear();
    const holders = Array.from({ length: 4 }, () => holderOf(w));
    // Act
    const runs = await Promise.all(holders.map((h, i) => traffic(h, startup.id, 150, 500 + i)));
    await Promise.all(holders.map((h) => h.closeAll()));
    // Assess: a lease item is its holder's own; every other item written more than once is shared
    const requests = runs.reduce((s, r) => s + r.served, 0);
    const shared = [...writes].filter(([k, n]) => !k.startsWith('LEASE#') && n > 1).sort((a, b) => b[1] - a[1]);
    expect(requests).toBe(600);
    expect(shared.length).toBeGreaterThan(0);
    expect(shared[0]![1] / requests).toBeLessThanOrEqual(0.1);
  });

  it('a freeze stops new leases at once, and what leases spend after it stays within exposure_micros_max before exposure_ends_at', async () => {
    // Prepare: traffic running on leases under faults
    const w = await world('lease-freeze', { faults: { conflictBefore: 0.05, throttleBefore: 0.02, lostReplyAfter: 0.05 }, seed: 11 });
    const { startup, facilities, caller } = await w.fundedStartup([{ principal_micros: 50_000_000 }]);
    const f = facilities[0]!;
    const holders = Array.from({ length: 6 }, () => holderOf(w));
    let frozenAtMs: number | null = null;
    let afterFreeze = 0;
    let lastReserveMs = 0;
    const note = () => {
      if (frozenAtMs !== null) {
        lastReserveMs = Date.now();
      }
    };
    const running = holders.map((h, i) => traffic(h, startup.id, 60, 700 + i, (_r, cost) => {
      note();
      if (frozenAtMs !== null) afterFreeze += cost;
    }));
    // Act: freeze mid-traffic, then read the exposure as the freeze route does (leased, after the freeze committed)
    await new Promise((r) => setTimeout(r, 150));
    const frozen = await w.lending.freeze(caller, f.id, 'covenant breach');
    frozenAtMs = Date.now();
    const exposure = (await w.store.getBalances([facilityAccount(f.id, 'leased')])).get(facilityAccount(f.id, 'leased'))!.balance_micros;
    const endsMs = frozenAtMs + maxLeaseLifeMs(TIMING);
    const fresh = await holderOf(w).reserve({ startup_id: startup.id, budget_key: null, budget_left_micros: null, amount_micros: 1_000 });
    const hold = await w.credits.reserve({ startup_id: startup.id, amount_micros: 1_000, idempotency_key: 'after-freeze', request_hash: 'h' });
    await Promise.all(running);
    await Promise.all(holders.map((h) => h.closeAll()));
    // Assess
    expect(frozen && 'status' in frozen ? frozen.status : null).toBe('frozen');
    expect(fresh).toMatchObject({ ok: false, code: 'fallback' });
    expect(hold).toMatchObject({ ok: false, code: 'facility_frozen' });
    expect(afterFreeze).toBeGreaterThan(0); // leases did spend after the freeze: the bound was exercised
    expect(afterFreeze).toBeLessThanOrEqual(exposure);
    if (lastReserveMs > 0) expect(lastReserveMs).toBeLessThanOrEqual(endsMs);
    const after = await books(w, startup.id, f.id);
    expect(after.leased).toBe(0);
    expect(after.openLeases).toEqual([]);
    expect(await auditAll(w.store, ACCOUNT_SHARDS)).toMatchObject({ ok: true, balance_sum_micros: 0 });
  });

  it('a key budget bounds what leases may spend through that key: never above the budget, and budget left + spent = budget after the leases close', async () => {
    // Prepare: a key with a 30,000-micro budget on a startup with plenty of credit, three holders
    const w = await world('lease-budget');
    const { startup } = await w.fundedStartup([{ principal_micros: 10_000_000 }]);
    const key = await w.tenants.createStartupKey(startup.id, { name: 'budgeted', budget_micros: 30_000 });
    if (!key.ok || key.replayed) throw new Error('key');
    const holders = Array.from({ length: 3 }, () => holderOf(w));
    let spent = 0;
    let refused = 0;
    // Act: each asks for far more than the budget over its requests, re-reading the budget left as the cache would
    await Promise.all(holders.map(async (h, k) => {
      const rand = prng(900 + k);
      for (let i = 0; i < 40; i++) {
        const left = (await w.store.findApiKeyByHash(key.value.key_sha256))!.budget_left_micros;
        const amount = 500 + Math.floor(rand() * 1_500);
        const r = await h.reserve({ startup_id: startup.id, budget_key: key.value.key_sha256, budget_left_micros: left, amount_micros: amount });
        if (!r.ok) {
          refused++;
          continue;
        }
        const cost = Math.floor(rand() * amount);
        h.settle(r.reservation, recordFor(startup.id, r.reservation, cost, i));
        spent += cost;
        await h.afterReply();
      }
    }));
    const during = (await w.store.findApiKeyByHash(key.value.key_sha256))!;
    await Promise.all(holders.map((h) => h.closeAll()));
    const after = (await w.store.findApiKeyByHash(key.value.key_sha256))!;
    // Assess
    expect(refused).toBeGreaterThan(0); // the budget, not the credit, stopped them
    expect(during.budget_left_micros).toBeGreaterThanOrEqual(0);
    expect(spent).toBeLessThanOrEqual(30_000);
    expect(after.budget_left_micros).toBe(30_000 - spent);
    expect(await auditAll(w.store, ACCOUNT_SHARDS)).toMatchObject({ ok: true, balance_sum_micros: 0 });
  });

  it('a strict facility never lends to a lease: the holder falls back to holds', async () => {
    // Prepare
    const w = await world('lease-strict');
    const s = await w.tenants.createStartup({ name: 'strict', segment: 'seed' });
    const l = await w.tenants.createLender({ name: 'strict lender' });
    if (!s.ok || s.replayed || !l.ok || l.replayed) throw new Error('setup');
    const opened = await w.lending.open({ role: 'lender', lender_id: l.value.id }, {
      startup_id: s.value.id, principal_micros: 10_000_000, multiplier_bps: 12_500, term_months: 12, origination_fee_bps: 200, servicing_fee_bps: 50, freeze_mode: 'strict',
    });
    // Act
    const r = await holderOf(w).reserve({ startup_id: s.value.id, budget_key: null, budget_left_micros: null, amount_micros: 1_000 });
    // Assess
    expect(opened.ok && !opened.replayed ? opened.value.freeze_mode : null).toBe('strict');
    expect(r).toEqual({ ok: false, code: 'fallback', why: 'no_leasable_facility' });
  });

  it('the sweeper closes a vanished holder\'s lease: what it flushed is billed, the rest returned, a late flush is refused and reported, never billed', async () => {
    // Prepare: a holder serves and flushes three requests, then vanishes with a fourth settled but unflushed
    const w = await world('lease-sweep');
    const { startup, facilities } = await w.fundedStartup([{ principal_micros: 10_000_000 }]);
    const h = holderOf(w);
    const costs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await h.reserve({ startup_id: startup.id, budget_key: null, budget_left_micros: null, amount_micros: 5_000 });
      if (!r.ok) throw new Error('reserve');
      h.settle(r.reservation, recordFor(startup.id, r.reservation, 1_000 + i, i));
      costs.push(1_000 + i);
      await h.afterReply();
    }
    const last = await h.reserve({ startup_id: startup.id, budget_key: null, budget_left_micros: null, amount_micros: 5_000 });
    if (!last.ok) throw new Error('reserve');
    h.settle(last.reservation, recordFor(startup.id, last.reservation, 4_000, 3));
    const lease = h.openLeases()[0]!;
    // Act: the sweeper runs after the lease's expiry plus its grace
    const later = () => new Date(Date.parse(lease.expires_at) + 61_000);
    const report = await new LeaseCloser(w.store, later).sweep();
    await h.afterReply(); // the vanished holder "comes back" too late
    // Assess
    expect(report).toMatchObject({ closed: 1, billed_micros: costs.reduce((a, b) => a + b, 0), returned_micros: lease.amount_micros - costs.reduce((a, b) => a + b, 0) });
    expect(h.report).toMatchObject({ records_lost: 1, micros_lost: 4_000 });
    const after = await books(w, startup.id, facilities[0]!.id);
    expect(after.spent).toBe(costs.reduce((a, b) => a + b, 0));
    expect(after.records.length).toBe(3);
    expect(after.leased).toBe(0);
    expect(await auditAll(w.store, ACCOUNT_SHARDS)).toMatchObject({ ok: true, balance_sum_micros: 0 });
  });
});
