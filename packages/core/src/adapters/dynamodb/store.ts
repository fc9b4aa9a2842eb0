/**
 * CreditStore on one DynamoDB table. Every money-moving method is a single TransactWriteItems:
 * the posting, its lines, the cached balances (with their conditions) and the record it belongs to
 * (hold, facility, idempotency reply) commit together or not at all.
 */
import { GetCommand, QueryCommand, TransactGetCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type { RecoveryStatement, Facility } from '../../facilities.js';
import type { Hold } from '../../holds.js';
import { openAccountSpec, type AccountSpec, type Posting, type PostingLine } from '../../ledger.js';
import { InvariantError } from '../../money.js';
import type {
  ApiKeyRecord, Balance, CloseResult, CreditStore, Idempotent, IdempotencyClaim, Lender, LedgerLine, Page, PostResult, ReserveResult, Startup,
} from '../../store.js';
import { accountItem, accountKey, toBalance } from './entities/account.js';
import { apiKeyItem, apiKeyKey, toApiKey } from './entities/api-key.js';
import { facilityItem, facilityKey, toFacility } from './entities/facility.js';
import { holdItem, holdKey, openHoldShardKey, toHold } from './entities/hold.js';
import { idempotencyItem, idempotencyKey } from './entities/idempotency.js';
import { hourOf, shardOf, type Key } from './entities/keys.js';
import { LINE_PREFIX, lineItem, toLine } from './entities/line.js';
import { postingItem, postingKey, toPosting } from './entities/posting.js';
import { recoveryItem } from './entities/recovery.js';
import { spendBucketKey } from './entities/spend-bucket.js';
import { lenderItem, lenderKey, startupItem, startupKey, toLender, toStartup } from './entities/tenant.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { PROVIDER_HOUR_SHARDS, providerHourPk, providerHourSk, toUsageBucket, usageDayPk, usageDaySk, usageRecordItem } from './entities/usage.js';
import { checkUsageRecord, isBilled, type UsageBucket, type UsageRecord } from '../../usage.js';
import { MAX_ATTEMPTS, transact, type TransactItem } from './transact.js';
import { batchGet } from './batch.js';

/** Raised when retries are exhausted on a non-money write (money writes return `contention` instead). */
export class ContentionError extends Error {
  override name = 'ContentionError';
}

const MAX_LINES_SUMMED = 5_000_000;
/** 1,000 daily buckets a page: a usage query reads at most 20,000 (say 93 days × 215 key/provider/model triples). */
const MAX_USAGE_PAGES = 20;

/** A usage query that would read more than MAX_USAGE_PAGES pages: the caller should narrow the range. */
export class UsageTooLargeError extends Error {
  override name = 'UsageTooLargeError';
}

/**
 * The SET clauses that give an open account (ledger.ts) every field the audit reads, on first use only.
 * Fills `names` and `values` with its placeholders.
 */
function upsertFields(spec: AccountSpec, at: string, names: Record<string, string>, values: Record<string, unknown>): string {
  const item = accountItem(spec, at);
  return (['type', 'account', 'kind', 'non_negative', 'frozen', 'created_at', 'gsi4pk', 'gsi4sk'] as const)
    .map((field, i) => {
      names[`#f${i}`] = field;
      values[`:f${i}`] = item[field];
      return `#f${i} = if_not_exists(#f${i}, :f${i})`;
    })
    .join(', ');
}

type Tagged = { item: TransactItem; tag: string; line?: PostingLine };

/** Whether a failed transaction was refused by a closed account (a settled month's accrual): the old items DynamoDB returned say. */
function closedAccountRefused(tagged: readonly Tagged[], failed: ReadonlyMap<number, Record<string, unknown> | null>): boolean {
  for (const [i, old] of failed) if (tagged[i]?.tag === 'balance' && old?.closed_at !== undefined) return true;
  return false;
}

export class DynamoCreditStore implements CreditStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  // ---------- building blocks ----------

  private put(item: Record<string, unknown>, createOnly = true): TransactItem {
    return {
      Put: {
        TableName: this.tableName,
        Item: item,
        ...(createOnly ? { ConditionExpression: 'attribute_not_exists(pk)' } : {}),
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  }

  /**
   * The posting, one balance update per line, one line item per line. The balance conditions carry
   * I4 (non_negative accounts never below zero) and the freeze check, evaluated atomically.
   */
  private postingItems(p: Posting, expectBalance: Map<string, number> = new Map(), close: ReadonlySet<string> = new Set()): Tagged[] {
    const out: Tagged[] = [{ item: this.put(postingItem(p)), tag: 'posting' }];
    for (const line of p.lines) {
      const open = openAccountSpec(line.account);
      const conds: string[] = [];
      const names: Record<string, string> = {};
      const values: Record<string, unknown> = { ':a': line.amount_micros, ':one': 1, ':at': p.created_at };
      let update = 'SET balance_micros = balance_micros + :a, line_count = line_count + :one, updated_at = :at';
      if (open) {
        // Created by its first posting (ledger.ts, economics accounts); a closed one (a settled month's
        // accrual) takes no more lines.
        values[':zero'] = 0;
        update = `SET balance_micros = if_not_exists(balance_micros, :zero) + :a, line_count = if_not_exists(line_count, :zero) + :one, updated_at = :at, ${upsertFields(open, p.created_at, names, values)}`;
        conds.push('attribute_not_exists(closed_at)');
        if (line.amount_micros < 0 && open.non_negative) {
          conds.push('attribute_exists(pk) AND balance_micros >= :abs');
          values[':abs'] = -line.amount_micros;
        }
      } else {
        conds.push('attribute_exists(pk)');
        if (line.amount_micros < 0) {
          conds.push('(non_negative = :f OR balance_micros >= :abs)');
          values[':f'] = false;
          values[':abs'] = -line.amount_micros;
          if (line.requires_unfrozen) conds.push('frozen = :f');
        }
      }
      const expected = expectBalance.get(line.account);
      if (expected !== undefined) {
        conds.push('balance_micros = :expected');
        values[':expected'] = expected;
      }
      if (close.has(line.account)) update += ', closed_at = :at';
      out.push({
        tag: 'balance',
        line,
        item: {
          Update: {
            TableName: this.tableName,
            Key: accountKey(line.account),
            UpdateExpression: update,
            ConditionExpression: conds.join(' AND '),
            ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
            ExpressionAttributeValues: values,
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
      });
    }
    for (const line of p.lines) out.push({ item: this.put(lineItem(p, line)), tag: 'line' });
    return out;
  }

  private idemItem(claim: IdempotencyClaim, at: string): Tagged {
    return { item: this.put(idempotencyItem(claim, at)), tag: 'idempotency' };
  }

  private async get(key: Key): Promise<Record<string, unknown> | null> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    return (out.Item as Record<string, unknown> | undefined) ?? null;
  }

  private async replayOf(claim: IdempotencyClaim): Promise<Idempotent<never>> {
    const found = await this.findReplay(claim);
    if (!found) throw new InvariantError(`idempotency record ${claim.scope}/${claim.key} vanished`);
    return found;
  }

  async findReplay(claim: Omit<IdempotencyClaim, 'status_code' | 'reply'>): Promise<Idempotent<never> | null> {
    const rec = await this.get(idempotencyKey(claim.scope, claim.key));
    if (!rec) return null;
    if (rec.request_hash !== claim.request_hash) return { ok: false, code: 'idempotency_conflict' };
    return { ok: true, replayed: true, status_code: rec.status_code as number, reply: JSON.parse(rec.reply as string) };
  }

  /** A create guarded by an optional idempotency claim: first wins, replays get the stored reply. */
  private async create<T>(value: T, tagged: Tagged[], idem: IdempotencyClaim | undefined, at: string): Promise<Idempotent<T>> {
    const all = idem ? [this.idemItem(idem, at), ...tagged] : tagged;
    const out = await transact(this.doc, all.map((t) => t.item));
    if (out.ok) return { ok: true, replayed: false, value };
    if (out.reason === 'contention') throw new ContentionError('the store is busy; retry');
    if (idem && out.failed.has(0)) return this.replayOf(idem);
    throw new InvariantError(`create failed on ${[...out.failed.keys()].map((i) => all[i]?.tag).join(', ')}`);
  }

  /** Why a balance condition failed, read from the old item DynamoDB returned (or, failing that, read now). */
  private async balanceFailure(t: Tagged, old: Record<string, unknown> | null): Promise<'exceeds_credit' | 'facility_frozen' | 'balance_changed'> {
    const item = old ?? (await this.get(accountKey(t.line!.account)));
    if (!item) throw new InvariantError(`account ${t.line!.account} does not exist`);
    if (t.line!.requires_unfrozen && item.frozen === true) return 'facility_frozen';
    if ((item.balance_micros as number) + t.line!.amount_micros < 0) return 'exceeds_credit';
    return 'balance_changed';
  }

  // ---------- tenants and keys ----------

  async createStartup(s: Startup, idem?: IdempotencyClaim) {
    return this.create(s, [{ item: this.put(startupItem(s)), tag: 'startup' }], idem, s.created_at);
  }

  async getStartup(id: string) {
    const i = await this.get(startupKey(id));
    return i ? toStartup(i) : null;
  }

  async createLender(l: Lender, key: ApiKeyRecord, idem?: IdempotencyClaim) {
    return this.create(l, [{ item: this.put(lenderItem(l)), tag: 'lender' }, { item: this.put(apiKeyItem(key)), tag: 'key' }], idem, l.created_at);
  }

  async getLender(id: string) {
    const i = await this.get(lenderKey(id));
    return i ? toLender(i) : null;
  }

  async createApiKey(k: ApiKeyRecord, idem?: IdempotencyClaim) {
    return this.create(k, [{ item: this.put(apiKeyItem(k)), tag: 'key' }], idem, k.created_at);
  }

  async findApiKeyByHash(keySha256: string) {
    const i = await this.get(apiKeyKey(keySha256));
    return i ? toApiKey(i) : null;
  }

  async listStartupKeys(startupId: string, limit: number, cursor?: string): Promise<Page<ApiKeyRecord>> {
    const page = await this.listIndex('byStartup', 'gsi2', `STARTUP#${startupId}`, 'KEY#', { limit, cursor, newestFirst: true });
    return { items: page.items.map(toApiKey), cursor: page.cursor };
  }

  async revokeStartupKey(startupId: string, keyId: string, at: string): Promise<ApiKeyRecord | null> {
    // A startup holds at most MAX_KEYS_PER_STARTUP keys, so finding one by id is a bounded walk of its list.
    let cursor: string | undefined;
    let found: ApiKeyRecord | undefined;
    do {
      const page = await this.listStartupKeys(startupId, 100, cursor);
      found = page.items.find((k) => k.id === keyId);
      cursor = page.cursor ?? undefined;
    } while (!found && cursor);
    if (!found) return null;
    if (found.revoked_at) return found;
    const out = await transact(this.doc, [
      {
        Update: {
          TableName: this.tableName,
          Key: apiKeyKey(found.key_sha256),
          // revoked_at is stored as NULL until revoked; the first revocation's time stands.
          UpdateExpression: 'SET revoked_at = :at',
          ConditionExpression: 'attribute_exists(pk) AND tenant_id = :t AND (attribute_not_exists(revoked_at) OR revoked_at = :null)',
          ExpressionAttributeValues: { ':at': at, ':t': startupId, ':null': null },
        },
      },
    ]);
    if (!out.ok && out.reason === 'contention') throw new ContentionError('the store is busy; retry');
    const now = await this.get(apiKeyKey(found.key_sha256));
    return now ? toApiKey(now) : null;
  }

  // ---------- facilities ----------

  async openFacility(f: Facility, accounts: AccountSpec[], grant: Posting, idem?: IdempotencyClaim) {
    // A transaction may not touch one item twice, so the accounts are created with the grant already in
    // their balance (and its one line counted), beside the grant's posting and line items.
    const granted = new Map(grant.lines.map((l) => [l.account, l.amount_micros]));
    const opening = (a: AccountSpec) => {
      const amount = granted.get(a.id);
      return amount === undefined ? accountItem(a, f.created_at) : { ...accountItem(a, f.created_at), balance_micros: amount, line_count: 1 };
    };
    const tagged: Tagged[] = [
      { item: this.put(facilityItem(f)), tag: 'facility' },
      ...accounts.map((a) => ({ item: this.put(opening(a)), tag: 'account' })),
      { item: this.put(postingItem(grant)), tag: 'posting' },
      ...grant.lines.map((line) => ({ item: this.put(lineItem(grant, line)), tag: 'line' })),
    ];
    return this.create(f, tagged, idem, f.created_at);
  }

  async getFacility(id: string) {
    const i = await this.get(facilityKey(id));
    return i ? toFacility(i) : null;
  }

  private async queryPage(input: Omit<QueryCommandInput, 'TableName'>): Promise<{ items: Record<string, unknown>[]; cursor: string | null }> {
    const out = await this.doc.send(new QueryCommand({ TableName: this.tableName, ...input }));
    return { items: (out.Items ?? []) as Record<string, unknown>[], cursor: encodeCursor(out.LastEvaluatedKey) };
  }

  async listFacilitiesByLender(lenderId: string | null, limit: number, cursor?: string): Promise<Page<Facility>> {
    if (lenderId === null) throw new InvariantError('listing facilities needs a lender');
    const page = await this.listIndex('byLender', 'gsi1', `LENDER#${lenderId}`, 'FACILITY#', { limit, cursor, newestFirst: true });
    return { items: page.items.map(toFacility), cursor: page.cursor };
  }

  /** One page of an index partition whose sort keys start with `prefix`; the cursor is tied to that partition. */
  private listIndex(index: string, gsi: 'gsi1' | 'gsi2', pk: string, prefix: string, o: { limit: number; cursor?: string; newestFirst?: boolean }) {
    return this.queryPage({
      IndexName: index,
      KeyConditionExpression: `${gsi}pk = :pk AND begins_with(${gsi}sk, :p)`,
      ExpressionAttributeValues: { ':pk': pk, ':p': prefix },
      ScanIndexForward: !o.newestFirst,
      Limit: o.limit,
      ExclusiveStartKey: decodeCursor(o.cursor, { field: `${gsi}pk`, value: pk }),
    });
  }

  async listFacilitiesByStartup(startupId: string, limit: number): Promise<Facility[]> {
    // Earliest term end first: the SPEC §3 draw order.
    return (await this.listIndex('byStartup', 'gsi2', `STARTUP#${startupId}`, 'FACILITY#', { limit })).items.map(toFacility);
  }

  async setFacilityFrozen(id: string, frozen: boolean, reason: string | null, at: string): Promise<Facility | null> {
    const f = await this.getFacility(id);
    if (!f) return null;
    if (f.status === 'recovered') return f;
    const out = await transact(this.doc, [
      {
        Update: {
          TableName: this.tableName,
          Key: facilityKey(id),
          UpdateExpression: 'SET #s = :s, frozen_reason = :r, frozen_at = :at',
          ConditionExpression: 'attribute_exists(pk) AND #s <> :recovered',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':s': frozen ? 'frozen' : 'active', ':r': reason, ':at': frozen ? at : null, ':recovered': 'recovered' },
        },
      },
      {
        Update: {
          TableName: this.tableName,
          Key: accountKey(`facility:${id}:available`),
          UpdateExpression: 'SET frozen = :b, updated_at = :at',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':b': frozen, ':at': at },
        },
      },
    ]);
    if (!out.ok && out.reason === 'contention') throw new ContentionError('the store is busy; retry');
    return this.getFacility(id);
  }

  async recoverFacility(f: Facility, posting: Posting | null, expectedAvailable: number, statement: RecoveryStatement, idem?: IdempotencyClaim): Promise<PostResult> {
    const tagged: Tagged[] = [];
    if (idem) tagged.push(this.idemItem(idem, statement.recovered_at));
    tagged.push({
      tag: 'facility',
      item: {
        Update: {
          TableName: this.tableName,
          Key: facilityKey(f.id),
          UpdateExpression: 'SET #s = :recovered, recovered_at = :at',
          ConditionExpression: '#s = :frozen',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':recovered': 'recovered', ':frozen': 'frozen', ':at': statement.recovered_at },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
    });
    tagged.push({ item: this.put(recoveryItem(statement)), tag: 'recovery' });
    if (posting) tagged.push(...this.postingItems(posting, new Map([[`facility:${f.id}:available`, expectedAvailable]])));
    const out = await transact(this.doc, tagged.map((t) => t.item));
    if (out.ok) return { ok: true, replayed: false };
    if (out.reason === 'contention') return { ok: false, code: 'contention' };
    if (idem && out.failed.has(0)) {
      const r = await this.replayOf(idem);
      return r.ok ? { ok: true, replayed: true } : r;
    }
    return { ok: false, code: 'balance_changed' };
  }

  // ---------- ledger reads ----------

  async getBalances(accounts: readonly string[]): Promise<Map<string, Balance>> {
    const items = await batchGet(this.doc, this.tableName, accounts.map(accountKey), { consistent: true });
    return new Map(items.map((item) => [item.account as string, toBalance(item)]));
  }

  async getBalancesSnapshot(accounts: readonly string[]): Promise<Map<string, Balance>> {
    if (accounts.length > 100) throw new InvariantError('a snapshot read holds at most 100 accounts');
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await this.doc.send(new TransactGetCommand({ TransactItems: accounts.map((a) => ({ Get: { TableName: this.tableName, Key: accountKey(a) } })) }));
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
    const page = await this.queryPage({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
      ExpressionAttributeValues: { ':pk': pk, ':p': LINE_PREFIX },
      Limit: limit,
      ConsistentRead: true,
      ExclusiveStartKey: decodeCursor(cursor, { field: 'pk', value: pk }),
    });
    return { items: page.items.map(toLine), cursor: page.cursor };
  }

  async sumLines(account: string): Promise<{ sum_micros: number; lines: number }> {
    let sum = 0;
    let lines = 0;
    let cursor: string | undefined;
    do {
      const page = await this.listLines(account, 1_000, cursor);
      for (const l of page.items) sum += l.amount_micros;
      lines += page.items.length;
      if (lines > MAX_LINES_SUMMED) throw new InvariantError(`account ${account} has more than ${MAX_LINES_SUMMED} lines to sum`);
      cursor = page.cursor ?? undefined;
    } while (cursor);
    return { sum_micros: sum, lines };
  }

  async spendBetween(facilityId: string, fromIso: string, toIso: string): Promise<number> {
    const out = await this.queryPage({
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      ExpressionAttributeValues: { ':pk': spendBucketKey(facilityId, fromIso).pk, ':from': `H#${hourOf(fromIso)}`, ':to': `H#${hourOf(toIso)}` },
      // 7 days of hours is 168 buckets; the bound keeps one call one page.
      Limit: 24 * 31,
    });
    return out.items.reduce((s, i) => s + (i.spent_micros as number), 0);
  }

  async getPosting(id: string) {
    const i = await this.get(postingKey(id));
    return i ? toPosting(i) : null;
  }

  async post(p: Posting): Promise<PostResult> {
    const tagged = this.postingItems(p);
    const out = await transact(this.doc, tagged.map((t) => t.item));
    if (out.ok) return { ok: true, replayed: false };
    if (out.reason === 'contention') return { ok: false, code: 'contention' };
    if (out.failed.has(0)) {
      const first = await this.getPosting(p.id);
      const same = first && JSON.stringify(first.lines) === JSON.stringify(p.lines);
      return same ? { ok: true, replayed: true } : { ok: false, code: 'idempotency_conflict' };
    }
    for (const [i, old] of out.failed) if (tagged[i]?.tag === 'balance') return { ok: false, code: await this.balanceFailure(tagged[i]!, old) };
    throw new InvariantError('posting failed on a line item: lines are never overwritten');
  }

  /**
   * A record and the posting it carries, created together (a provider's statement and its payable posting).
   * The record is create-only, so a second run finds it and writes nothing. `expect` pins balances (the
   * amounts read and checked), `close` closes accounts so no later line can land on them.
   */
  async postWithRecord(record: Record<string, unknown>, p: Posting | null, expect: Map<string, number>, close: ReadonlySet<string>, at: string): Promise<PostResult | { ok: false; code: 'period_closed' }> {
    const tagged: Tagged[] = [{ item: this.put(record), tag: 'record' }, ...(p ? this.postingItems(p, expect, close) : [])];
    // Accounts to close that the posting does not touch (nothing accrued on them): closed at their expected
    // balance, created closed if they never existed, so a late line cannot land on them either.
    const posted = new Set(p?.lines.map((l) => l.account) ?? []);
    for (const account of close) {
      if (posted.has(account)) continue;
      const spec = openAccountSpec(account);
      if (!spec) throw new InvariantError(`only open accounts are closed here, not ${account}`);
      const names: Record<string, string> = {};
      const values: Record<string, unknown> = { ':zero': 0, ':at': at, ':expected': expect.get(account) ?? 0 };
      tagged.push({
        tag: 'balance',
        item: {
          Update: {
            TableName: this.tableName,
            Key: accountKey(account),
            UpdateExpression: `SET balance_micros = if_not_exists(balance_micros, :zero), line_count = if_not_exists(line_count, :zero), updated_at = :at, closed_at = :at, ${upsertFields(spec, at, names, values)}`,
            ConditionExpression: 'attribute_not_exists(closed_at) AND (attribute_not_exists(balance_micros) OR balance_micros = :expected)',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
      });
    }
    const out = await transact(this.doc, tagged.map((t) => t.item));
    if (out.ok) return { ok: true, replayed: false };
    if (out.reason === 'contention') return { ok: false, code: 'contention' };
    if (out.failed.has(0)) return { ok: true, replayed: true };
    if (closedAccountRefused(tagged, out.failed)) return { ok: false, code: 'period_closed' };
    return { ok: false, code: 'balance_changed' };
  }

  // ---------- holds ----------

  /**
   * A hold taken under a key with a budget carries `refs.budget_key` (the key's sha256): the reservation
   * also takes the amount from the key's budget_left_micros, under the same transaction and condition.
   */
  private budgetItem(hold: Hold, delta: { take: number } | { refund: number; spent: number }): Tagged[] {
    const keySha = hold.refs.budget_key;
    if (!keySha) return [];
    const update =
      'take' in delta
        ? { UpdateExpression: 'SET budget_left_micros = budget_left_micros - :a', ConditionExpression: 'budget_left_micros >= :a', ExpressionAttributeValues: { ':a': delta.take } }
        : { UpdateExpression: 'ADD budget_left_micros :r, spent_micros :s', ExpressionAttributeValues: { ':r': delta.refund, ':s': delta.spent } };
    return [{ tag: 'budget', item: { Update: { TableName: this.tableName, Key: apiKeyKey(keySha), ...update, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } } }];
  }

  async reserve(hold: Hold, posting: Posting): Promise<ReserveResult> {
    const tagged: Tagged[] = [{ item: this.put(holdItem(hold)), tag: 'hold' }, ...this.postingItems(posting), ...this.budgetItem(hold, { take: hold.amount_micros })];
    const out = await transact(this.doc, tagged.map((t) => t.item));
    if (out.ok) return { ok: true, hold, replayed: false };
    if (out.reason === 'contention') return { ok: false, code: 'contention' };
    if (out.failed.has(0) || out.failed.has(1)) {
      // The hold id derives from the idempotency key: the first request with this key got here before.
      const first = await this.getHold(hold.id);
      if (!first) throw new InvariantError(`hold ${hold.id} reported as existing but not found`);
      return first.request_hash === hold.request_hash ? { ok: true, hold: first, replayed: true } : { ok: false, code: 'idempotency_conflict' };
    }
    let frozen = false;
    for (const [i, old] of out.failed) {
      const t = tagged[i];
      if (t?.tag === 'budget') return { ok: false, code: 'key_budget_exceeded' };
      if (t?.tag === 'balance' && (await this.balanceFailure(t, old)) === 'facility_frozen') frozen = true;
    }
    return { ok: false, code: frozen ? 'facility_frozen' : 'exceeds_credit' };
  }

  async closeHold(hold: Hold, posting: Posting, status: 'settled' | 'released' | 'expired', settledMicros: number, at: string, usage?: UsageRecord): Promise<CloseResult> {
    const tagged: Tagged[] = [
      {
        tag: 'hold',
        item: {
          Update: {
            TableName: this.tableName,
            Key: holdKey(hold.id),
            UpdateExpression: 'SET #s = :s, settled_micros = :settled, closed_at = :at REMOVE gsi3pk, gsi3sk',
            ConditionExpression: '#s = :open',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: { ':s': status, ':settled': settledMicros, ':at': at, ':open': 'open' },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
      },
      ...this.postingItems(posting),
    ];
    for (const l of posting.lines) {
      const m = /^facility:(.+):spent$/.exec(l.account);
      if (m && l.amount_micros > 0) {
        tagged.push({
          tag: 'spend',
          item: {
            Update: {
              TableName: this.tableName,
              Key: spendBucketKey(m[1]!, at),
              UpdateExpression: 'ADD spent_micros :s SET #t = :t, updated_at = :at',
              ExpressionAttributeNames: { '#t': 'type' },
              ExpressionAttributeValues: { ':s': l.amount_micros, ':t': 'spend_bucket', ':at': at },
            },
          },
        });
      }
    }
    tagged.push(...this.budgetItem(hold, { refund: hold.amount_micros - settledMicros, spent: settledMicros }));
    if (usage) tagged.push(...this.usageItems(usage));
    const out = await transact(this.doc, tagged.map((t) => t.item));
    const closed: Hold = { ...hold, status, settled_micros: settledMicros, closed_at: at };
    if (out.ok) return { ok: true, hold: closed, replayed: false };
    if (out.reason === 'contention') return { ok: false, code: 'contention' };
    if (out.failed.has(0) || out.failed.has(1)) {
      const now = await this.getHold(hold.id);
      if (!now) return { ok: false, code: 'hold_not_found' };
      // Same close asked again (a retry after a lost reply): the first result stands.
      if (now.status === status && now.settled_micros === settledMicros) return { ok: true, hold: now, replayed: true };
      return { ok: false, code: 'hold_closed' };
    }
    if (closedAccountRefused(tagged, out.failed)) return { ok: false, code: 'period_closed' };
    throw new InvariantError(`closing hold ${hold.id} failed on ${[...out.failed.keys()].map((i) => tagged[i]?.tag).join(', ')}`);
  }

  private usageItems(r: UsageRecord): Tagged[] {
    checkUsageRecord(r);
    const day = r.created_at.slice(0, 10);
    const hour = hourOf(r.created_at);
    const providerHour: Tagged[] = isBilled(r)
      ? [{
          tag: 'provider_hour',
          item: {
            Update: {
              TableName: this.tableName,
              Key: { pk: providerHourPk(r.provider_id, shardOf(r.request_id, PROVIDER_HOUR_SHARDS)), sk: providerHourSk(hour) },
              UpdateExpression: 'ADD requests :one, #acc :g, earnings_micros :p SET #t = :t, #h = :h',
              ExpressionAttributeNames: { '#acc': `gpu_us_${r.accelerator}`, '#t': 'type', '#h': 'hour' },
              ExpressionAttributeValues: { ':one': 1, ':g': r.gpu_microseconds, ':p': r.provider_micros, ':t': 'provider_hour', ':h': hour },
            },
          },
        }]
      : [];
    return [
      ...providerHour,
      { tag: 'usage', item: this.put(usageRecordItem(r)) },
      {
        tag: 'usage_day',
        item: {
          Update: {
            TableName: this.tableName,
            Key: { pk: usageDayPk(r.startup_id), sk: usageDaySk(day, r.key_id, r.provider_id, r.model) },
            UpdateExpression:
              'ADD requests :one, errors :err, estimated :est, prompt_tokens :p, completion_tokens :c, gpu_microseconds :g, cost_micros :cost SET #t = :t, #d = :day, key_id = :k, provider_id = :pv, model = :m',
            ExpressionAttributeNames: { '#t': 'type', '#d': 'day' },
            ExpressionAttributeValues: {
              ':one': 1, ':err': r.outcome === 'ok' ? 0 : 1, ':est': r.estimated ? 1 : 0, ':p': r.prompt_tokens, ':c': r.completion_tokens,
              ':g': r.gpu_microseconds, ':cost': r.cost_micros, ':t': 'usage_day', ':day': day, ':k': r.key_id, ':pv': r.provider_id, ':m': r.model,
            },
          },
        },
      },
    ];
  }

  async listUsage(startupId: string, fromDay: string, toDay: string): Promise<UsageBucket[]> {
    const out: UsageBucket[] = [];
    let cursor: string | undefined;
    const pk = usageDayPk(startupId);
    for (let page = 0; ; page++) {
      if (page >= MAX_USAGE_PAGES) throw new UsageTooLargeError(`more than ${MAX_USAGE_PAGES} pages of usage in this range; ask for a shorter one`);
      const res = await this.queryPage({
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        // '~' sorts after every character used in ids and model names, so the whole last day is included.
        ExpressionAttributeValues: { ':pk': pk, ':from': `D#${fromDay}#`, ':to': `D#${toDay}#~` },
        Limit: 1_000,
        ExclusiveStartKey: decodeCursor(cursor, { field: 'pk', value: pk }),
      });
      out.push(...res.items.map(toUsageBucket));
      if (!res.cursor) return out;
      cursor = res.cursor;
    }
  }

  async getHold(id: string) {
    const i = await this.get(holdKey(id));
    return i ? toHold(i) : null;
  }

  async listExpiredHolds(shard: number, nowIso: string, limit: number): Promise<Hold[]> {
    const page = await this.queryPage({
      IndexName: 'openHoldsByExpiry',
      KeyConditionExpression: 'gsi3pk = :pk AND gsi3sk < :now',
      ExpressionAttributeValues: { ':pk': openHoldShardKey(shard), ':now': nowIso },
      Limit: limit,
    });
    return page.items.map(toHold);
  }

  // ---------- audit ----------

  async listAccounts(shard: number, limit: number, cursor?: string): Promise<Page<Balance>> {
    const pk = `ACCOUNTS#${shard}`;
    const page = await this.queryPage({
      IndexName: 'accountsForAudit',
      KeyConditionExpression: 'gsi4pk = :pk',
      ExpressionAttributeValues: { ':pk': pk },
      Limit: limit,
      ExclusiveStartKey: decodeCursor(cursor, { field: 'gsi4pk', value: pk }),
    });
    return { items: page.items.map(toBalance), cursor: page.cursor };
  }
}
