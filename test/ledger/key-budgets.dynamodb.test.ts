/**
 * Key budgets that reset (SPEC §12) against DynamoDB Local, with an injected clock: a daily budget spent before
 * midnight is whole again after it, the refund of a hold taken before midnight goes back to the day it was taken
 * in, and the watch of a key with a soft threshold lives until the key is revoked.
 */
import { describe, expect, it } from 'vitest';
import { DynamoKeyBudgetStore } from '../../packages/core/src/adapters/dynamodb/index.js';
import { auditAll, budgetSlot, type ApiKeyRecord } from '../../packages/core/src/index.js';
import { ACCOUNT_SHARDS } from '../../infra/table.js';
import { world } from './world.js';

/** A clock the test moves: the budget's period is decided by it alone. */
function movableClock(iso: string) {
  let t = Date.parse(iso);
  return { clock: () => new Date(t), set: (at: string) => void (t = Date.parse(at)) };
}

async function dailyKey(prefix: string, budget_micros: number) {
  const c = movableClock('2027-03-09T23:59:30Z');
  const w = await world(prefix, { clock: c.clock });
  const { startup } = await w.fundedStartup([{ principal_micros: 10_000_000 }]);
  const k = await w.tenants.createStartupKey(startup.id, { name: 'daily', budget_micros, budget_period: 'daily', budget_soft_micros: 1 });
  if (!k.ok || k.replayed) throw new Error('key');
  let n = 0;
  const reserve = (key: ApiKeyRecord, amount: number) =>
    w.credits.reserve({ startup_id: startup.id, amount_micros: amount, idempotency_key: `req-${n++}`, request_hash: 'h', refs: { budget_key: budgetSlot(key, c.clock())! } });
  return { w, c, key: k.value, reserve, budgets: new DynamoKeyBudgetStore(w.doc, w.tableName) };
}

describe('daily key budgets', () => {
  it('a budget spent before midnight UTC is whole again after it', async () => {
    // Prepare: the day's whole budget taken at 23:59:30
    const { c, key, reserve } = await dailyKey('kb-reset', 10_000);
    const first = await reserve(key, 10_000);
    const late = await reserve(key, 1);
    // Act: midnight passes
    c.set('2027-03-10T00:00:01Z');
    const next = await reserve(key, 10_000);
    // Assess
    expect(first.ok).toBe(true);
    expect(late).toMatchObject({ ok: false, code: 'key_budget_exceeded' });
    expect(next.ok).toBe(true);
  });

  it("a hold taken before midnight gives its unspent part back to that day, never to the next", async () => {
    // Prepare: 6,000 taken at 23:59:30
    const { w, c, key, reserve, budgets } = await dailyKey('kb-refund', 10_000);
    const held = await reserve(key, 6_000);
    if (!held.ok) throw new Error('reserve');
    const before = budgetSlot(key, c.clock())!;
    // Act: settled at 2,000 after midnight
    c.set('2027-03-10T00:00:05Z');
    const settled = await w.credits.settle(held.hold.id, 2_000);
    // Assess
    expect(settled.ok).toBe(true);
    expect((await budgets.getBudgetUse(before, new Date('2027-03-09T23:59:59Z'))).budget_left_micros).toBe(8_000);
    expect((await budgets.getBudgetUse(budgetSlot(key, c.clock())!, c.clock())).budget_left_micros).toBe(10_000);
    expect(await auditAll(w.store, ACCOUNT_SHARDS)).toMatchObject({ ok: true, balance_sum_micros: 0 });
  });

  it('two racing first takes of a new day share one whole budget', async () => {
    // Prepare
    const { c, key, reserve } = await dailyKey('kb-race', 10_000);
    c.set('2027-03-10T08:00:00Z');
    // Act: eight takes of 3,000 at once, each the first of the day as far as it knows
    const got = await Promise.all(Array.from({ length: 8 }, () => reserve(key, 3_000)));
    // Assess: 3 fit in 10,000, never 4
    expect(got.filter((r) => r.ok)).toHaveLength(3);
  });

  it("a key's soft-threshold watch is passed over once the key is revoked", async () => {
    // Prepare
    const { w, key } = await dailyKey('kb-watch', 10_000);
    const budgets = new DynamoKeyBudgetStore(w.doc, w.tableName);
    const watched = async () => (await Promise.all(Array.from({ length: 16 }, (_, s) => budgets.listKeyBudgetWatches(s, 100)))).flatMap((p) => p.items);
    const before = await watched();
    // Act
    await w.tenants.revokeStartupKey(key.tenant_id, key.id);
    // Assess
    expect(before.map((x) => x.key_id)).toEqual([key.id]);
    expect(await watched()).toEqual([]);
  });
});
