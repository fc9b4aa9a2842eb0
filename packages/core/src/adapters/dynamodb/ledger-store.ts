/**
 * LedgerStore on the table: cached balances (batched or as one snapshot), lines, postings, the hourly
 * spend buckets, and a posting written together with the record it belongs to (settlement's statements).
 */
import { TransactGetCommand } from '@aws-sdk/lib-dynamodb';
import { sameLines, type Posting } from '../../ledger.js';
import { InvariantError } from '../../money.js';
import type { Balance, LedgerLine, LedgerStore, Page, PostResult } from '../../store.js';
import { batchGet } from './batch.js';
import { accountKey, toBalance } from './entities/account.js';
import { hourOf } from './entities/keys.js';
import { LINE_PREFIX, toLine } from './entities/line.js';
import { postingKey, toPosting } from './entities/posting.js';
import { spendBucketKey } from './entities/spend-bucket.js';
import { balanceFailure, closeAccountItem, closedAccountRefused, postingItems } from './posting-writes.js';
import { ContentionError, type Table, type Tagged } from './table.js';
import { MAX_ATTEMPTS, transact } from './transact.js';

export class DynamoLedgerStore implements LedgerStore {
  constructor(private readonly table: Table) {}

  async getBalances(accounts: readonly string[]): Promise<Map<string, Balance>> {
    const items = await batchGet(this.table.doc, this.table.name, accounts.map(accountKey), { consistent: true });
    return new Map(items.map((item) => [item.account as string, toBalance(item)]));
  }

  async getBalancesSnapshot(accounts: readonly string[]): Promise<Map<string, Balance>> {
    if (accounts.length > 100) throw new InvariantError('a snapshot read holds at most 100 accounts');
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await this.table.doc.send(new TransactGetCommand({ TransactItems: accounts.map((a) => ({ Get: { TableName: this.table.name, Key: accountKey(a) } })) }));
        const out = new Map<string, Balance>();
        for (const r of res.Responses ?? []) if (r.Item) out.set(r.Item.account as string, toBalance(r.Item));
        return out;
      } catch (err) {
        // A transactional read is cancelled when a write to one of its items is in flight: read again.
        if ((err as { name?: string }).name !== 'TransactionCanceledException' || attempt >= MAX_ATTEMPTS) {
          if ((err as { name?: string }).name === 'TransactionCanceledException') throw new ContentionError('balances kept changing while being read');
          throw err;
        }
        await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
      }
    }
  }

  async listLines(account: string, limit: number, cursor?: string): Promise<Page<LedgerLine>> {
    const pk = accountKey(account).pk;
    const page = await this.table.listPartition(pk, LINE_PREFIX, { limit, consistent: true, ...(cursor ? { cursor } : {}) });
    return { items: page.items.map(toLine), cursor: page.cursor };
  }

  async spendBetween(facilityId: string, fromIso: string, toIso: string): Promise<number> {
    const out = await this.table.queryPage({
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      ExpressionAttributeValues: { ':pk': spendBucketKey(facilityId, fromIso).pk, ':from': `H#${hourOf(fromIso)}`, ':to': `H#${hourOf(toIso)}` },
      // 7 days of hours is 168 buckets; the bound keeps one call one page.
      Limit: 24 * 31,
    });
    return out.items.reduce((s, i) => s + (i.spent_micros as number), 0);
  }

  async getPosting(id: string) {
    const i = await this.table.get(postingKey(id));
    return i ? toPosting(i) : null;
  }

  async post(p: Posting): Promise<PostResult> {
    const tagged = postingItems(this.table, p);
    const out = await transact(this.table.doc, tagged.map((t) => t.item));
    if (out.ok) return { ok: true, replayed: false };
    if (out.reason === 'contention') return { ok: false, code: 'contention' };
    if (out.failed.has(0)) {
      const first = await this.getPosting(p.id);
      return first && sameLines(first, p) ? { ok: true, replayed: true } : { ok: false, code: 'idempotency_conflict' };
    }
    for (const [i, old] of out.failed) if (tagged[i]?.tag === 'balance') return { ok: false, code: await balanceFailure(this.table, tagged[i]!, old) };
    throw new InvariantError('posting failed on a line item: lines are never overwritten');
  }

  /**
   * A record and the posting it carries, created together (a provider's statement and its payable posting).
   * The record is create-only, so a second run finds it and writes nothing. `expect` pins balances (the
   * amounts read and checked), `close` closes accounts so no later line can land on them.
   */
  async postWithRecord(record: Record<string, unknown>, p: Posting | null, expect: Map<string, number>, close: ReadonlySet<string>, at: string): Promise<PostResult | { ok: false; code: 'period_closed' }> {
    const tagged: Tagged[] = [{ item: this.table.put(record), tag: 'record' }, ...(p ? postingItems(this.table, p, expect, close) : [])];
    const posted = new Set(p?.lines.map((l) => l.account) ?? []);
    for (const account of close) if (!posted.has(account)) tagged.push(closeAccountItem(this.table, account, expect.get(account) ?? 0, at));
    const out = await transact(this.table.doc, tagged.map((t) => t.item));
    if (out.ok) return { ok: true, replayed: false };
    if (out.reason === 'contention') return { ok: false, code: 'contention' };
    if (out.failed.has(0)) return { ok: true, replayed: true };
    if (closedAccountRefused(tagged, out.failed)) return { ok: false, code: 'period_closed' };
    return { ok: false, code: 'balance_changed' };
  }
}
