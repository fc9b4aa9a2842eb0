/**
 * Concurrency tickets (packages/core/src/concurrency.ts, adapters/dynamodb/tickets.ts) on DynamoDB Local: a scope
 * never holds more tickets than its cap however many take at once (with injected TransactionConflict and lost
 * replies), taking in several scopes is all or none, a ticket given back frees its place, and an expired ticket
 * (its holder died) is cleared by the next taker that finds the scope full.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoTickets } from '../../packages/core/src/adapters/dynamodb/index.js';
import { ticketsKey } from '../../packages/core/src/adapters/dynamodb/entities/tickets.js';
import { world } from './world.js';

const HOUR_MS = 3_600_000;

async function heldIn(w: Awaited<ReturnType<typeof world>>, scope: string): Promise<{ n: number; tickets: number }> {
  const item = (await w.doc.send(new GetCommand({ TableName: w.tableName, Key: ticketsKey(scope), ConsistentRead: true }))).Item ?? {};
  return { n: Number(item.n ?? 0), tickets: Object.keys(item).filter((k) => k.startsWith('tk_')).length };
}

describe('concurrency tickets', () => {
  it('64 takers at once on a cap of 10: exactly 10 get a ticket, and the count matches the tickets held', async () => {
    // Prepare
    const w = await world('tickets-race', { faults: { conflictBefore: 0.2, throttleBefore: 0.05, lostReplyAfter: 0.1 } });
    const t = new DynamoTickets(w.doc, w.tableName);
    const now = Date.now();
    // Act
    const results = await Promise.all(Array.from({ length: 64 }, (_, i) => t.take([{ scope: 'key:k1', max: 10 }], `req_${i}`, now + HOUR_MS, now)));
    // Assess
    const ok = results.filter((r) => r.ok).length;
    const full = results.filter((r) => !r.ok && r.code === 'full').length;
    const held = await heldIn(w, 'key:k1');
    // A lost reply's retry finds its own ticket: it counts once, as taken.
    expect(ok).toBe(10);
    expect(full).toBe(54);
    expect(held).toEqual({ n: 10, tickets: 10 });
  });

  it('takes in the key and the startup together or in neither; a ticket given back frees its place, once', async () => {
    // Prepare: the startup's scope is full (cap 1, taken by another key's request).
    const w = await world('tickets-both');
    const t = new DynamoTickets(w.doc, w.tableName);
    const now = Date.now();
    await t.take([{ scope: 'key:other', max: 5 }, { scope: 'startup:s1', max: 1 }], 'req_a', now + HOUR_MS, now);
    // Act
    const refused = await t.take([{ scope: 'key:k1', max: 5 }, { scope: 'startup:s1', max: 1 }], 'req_b', now + HOUR_MS, now);
    const keyAfterRefusal = await heldIn(w, 'key:k1');
    await t.give(['key:other', 'startup:s1'], 'req_a');
    await t.give(['key:other', 'startup:s1'], 'req_a');
    const taken = await t.take([{ scope: 'key:k1', max: 5 }, { scope: 'startup:s1', max: 1 }], 'req_b', now + HOUR_MS, now);
    // Assess
    expect(refused).toEqual({ ok: false, code: 'full', scope: 'startup:s1' });
    expect(keyAfterRefusal).toEqual({ n: 0, tickets: 0 });
    expect(taken).toEqual({ ok: true });
    expect(await heldIn(w, 'startup:s1')).toEqual({ n: 1, tickets: 1 });
    expect(await heldIn(w, 'key:other')).toEqual({ n: 0, tickets: 0 });
  });

  it("a dead holder's ticket counts until it expires, then the next taker clears it", async () => {
    // Prepare: a cap of 2, both taken; one of them expires in a minute.
    const w = await world('tickets-expiry');
    const t = new DynamoTickets(w.doc, w.tableName);
    const now = Date.now();
    await t.take([{ scope: 'key:k1', max: 2 }], 'req_dead', now + 60_000, now);
    await t.take([{ scope: 'key:k1', max: 2 }], 'req_live', now + HOUR_MS, now);
    // Act
    const before = await t.take([{ scope: 'key:k1', max: 2 }], 'req_new', now + HOUR_MS, now + 59_000);
    const after = await t.take([{ scope: 'key:k1', max: 2 }], 'req_new', now + HOUR_MS, now + 61_000);
    // Assess
    expect(before).toEqual({ ok: false, code: 'full', scope: 'key:k1' });
    expect(after).toEqual({ ok: true });
    expect(await heldIn(w, 'key:k1')).toEqual({ n: 2, tickets: 2 });
  });
});
