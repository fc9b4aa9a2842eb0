/**
 * Settlement on the table: the run record of a month, the provider-month record pages (usageByProviderMonth),
 * startups' segments, and statements issued with their payable posting in one transaction.
 */
import { GetCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { MAX_PROVIDERS_PER_SETTLEMENT, MAX_RUN_FAILURES, STALE_RUN_S, type BilledRecord, type MonthTotals, type Statement } from '../../settlement.js';
import { ROUTING_PK } from './entities/routing.js';
import type { Posting } from '../../ledger.js';
import { decodeCursor, encodeCursor, withCursor } from './cursor.js';
import { providerMonthPk } from './entities/usage.js';
import { runKey, statementItem, statementKey, toRun, toStatement, type SettlementRun } from './entities/settlement.js';
import { startupKey } from './entities/tenant.js';
import type { DynamoLedgerStore } from './ledger-store.js';
import { batchGet } from './batch.js';
import { unlessConditionFailed } from './transact.js';

/** Segments remembered per container; cleared when full (startups are few next to requests). */
const MAX_CACHED_SEGMENTS = 50_000;

export class DynamoSettlement {
  private readonly segmentCache = new Map<string, string>();

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly ledger: DynamoLedgerStore,
  ) {}

  async getRun(period: string): Promise<SettlementRun | null> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: runKey(period), ConsistentRead: true }));
    return out.Item ? toRun(out.Item) : null;
  }

  /**
   * Marks the month's run as started by `executionId`, unless it is settled, or another run is running
   * (and not stale): then that run is returned unchanged, and the caller must not go on.
   */
  async begin(period: string, executionId: string | null, at: string): Promise<SettlementRun> {
    const out = await unlessConditionFailed(
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: runKey(period),
          UpdateExpression: 'SET #t = :t, period = :p, #s = :running, started_at = :at, finished_at = :null, execution_id = :e, totals = :null, failures = :none',
          ConditionExpression: 'attribute_not_exists(pk) OR #s = :failed OR (#s = :running AND (execution_id = :e OR started_at < :stale))',
          ExpressionAttributeNames: { '#t': 'type', '#s': 'status' },
          ExpressionAttributeValues: {
            ':t': 'settlement_run', ':p': period, ':running': 'running', ':failed': 'failed', ':at': at, ':null': null, ':e': executionId, ':none': [],
            ':stale': new Date(Date.parse(at) - STALE_RUN_S * 1000).toISOString(),
          },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    return out ? toRun(out.Attributes!) : (await this.getRun(period))!;
  }

  /** Records how the run ended; a month already settled (by a concurrent run) is left as it is. */
  async finish(period: string, status: 'settled' | 'failed', totals: MonthTotals | null, failures: SettlementRun['failures'], at: string): Promise<SettlementRun> {
    await unlessConditionFailed(
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: runKey(period),
          UpdateExpression: 'SET #s = :s, finished_at = :at, totals = :totals, failures = :f',
          ConditionExpression: 'attribute_exists(pk) AND #s <> :settled',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':s': status, ':at': at, ':totals': totals, ':f': failures, ':settled': 'settled' },
        }),
      ),
    );
    return (await this.getRun(period))!;
  }

  /** Adds a provider's failure to the running run (bounded: past MAX_RUN_FAILURES the rest are counted in the last). */
  async addFailure(period: string, failure: SettlementRun['failures'][number]): Promise<void> {
    await unlessConditionFailed(
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: runKey(period),
          UpdateExpression: 'SET failures = list_append(failures, :f)',
          ConditionExpression: '#s = :running AND size(failures) < :max',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':f': [failure], ':running': 'running', ':max': MAX_RUN_FAILURES },
        }),
      ),
    );
  }

  /**
   * Every provider past review (only those can have served traffic), from the routing partition, read to
   * the end; more than MAX_PROVIDERS_PER_SETTLEMENT fails loudly rather than settling some.
   */
  async providerIds(): Promise<string[]> {
    const ids: string[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const res = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
          ExpressionAttributeValues: { ':pk': ROUTING_PK, ':p': 'PROVIDER#' },
          ProjectionExpression: 'sk, #pv.#st',
          ExpressionAttributeNames: { '#pv': 'provider', '#st': 'status' },
          ExclusiveStartKey: start,
        }),
      );
      for (const i of res.Items ?? []) if ((i.provider as { status?: string } | undefined)?.status !== 'pending_review') ids.push(String(i.sk).slice('PROVIDER#'.length));
      if (ids.length > MAX_PROVIDERS_PER_SETTLEMENT) throw new RangeError(`more than ${MAX_PROVIDERS_PER_SETTLEMENT} providers to settle: raise the bound and the state machine's payload budget`);
      start = res.LastEvaluatedKey;
    } while (start);
    return ids.sort();
  }

  /**
   * One page of a provider's billed records of a month in one accrual shard: a held request's own record, or a
   * closed lease's record page (many records in one item). DynamoDB's 1 MB page bounds what one call returns.
   */
  async recordsPage(providerId: string, period: string, shard: number, cursor: string | null, limit: number): Promise<{ records: BilledRecord[]; cursor: string | null }> {
    const pk = providerMonthPk(providerId, period, shard);
    const out = await withCursor(cursor !== null, () => this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'usageByProviderMonth',
        KeyConditionExpression: 'gsi5pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ProjectionExpression: '#t, request_id, startup_id, accelerator, workload, gpu_microseconds, cost_micros, provider_micros, margin_micros, records',
        ExpressionAttributeNames: { '#t': 'type' },
        Limit: limit,
        ExclusiveStartKey: decodeCursor(cursor ?? undefined, { field: 'gsi5pk', value: pk }),
      }),
    ));
    const records: BilledRecord[] = [];
    for (const i of out.Items ?? []) {
      if (i.type === 'record_page') records.push(...(JSON.parse(i.records as string) as BilledRecord[]));
      else {
        const { type: _t, records: _r, ...r } = i;
        records.push(r as BilledRecord);
      }
    }
    return { records, cursor: encodeCursor(out.LastEvaluatedKey) };
  }

  /** Startups' client segments (unknown when the startup record is missing). */
  async segments(startupIds: readonly string[]): Promise<Map<string, string>> {
    const missing = [...new Set(startupIds)].filter((id) => !this.segmentCache.has(id));
    if (this.segmentCache.size + missing.length > MAX_CACHED_SEGMENTS) this.segmentCache.clear();
    const found = await batchGet(this.doc, this.tableName, missing.map(startupKey), { projection: 'id, #seg', names: { '#seg': 'segment' } });
    for (const item of found) this.segmentCache.set(item.id as string, (item.segment as string | undefined) ?? 'unknown');
    for (const id of missing) if (!this.segmentCache.has(id)) this.segmentCache.set(id, 'unknown');
    return new Map(startupIds.map((id) => [id, this.segmentCache.get(id)!]));
  }

  /** Ledger balances (consistent reads); an account never posted to reads as 0. */
  async balances(accounts: readonly string[]): Promise<Map<string, number>> {
    const found = await this.ledger.getBalances(accounts);
    return new Map(accounts.map((a) => [a, found.get(a)?.balance_micros ?? 0]));
  }

  async getStatement(providerId: string, period: string): Promise<Statement | null> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: statementKey(providerId, period), ConsistentRead: true }));
    return out.Item ? toStatement(out.Item) : null;
  }

  async statementsOf(period: string, providerIds: readonly string[]): Promise<Statement[]> {
    const items = await batchGet(this.doc, this.tableName, providerIds.map((id) => statementKey(id, period)), { consistent: true });
    return items.map(toStatement).sort((a, b) => a.provider_id.localeCompare(b.provider_id));
  }

  /** A provider's statements, newest period first. */
  async listStatements(providerId: string, limit: number, cursor?: string): Promise<{ data: Statement[]; next_cursor: string | null }> {
    const pk = statementKey(providerId, '').pk;
    const out = await withCursor(cursor !== undefined, () => this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
        ExpressionAttributeValues: { ':pk': pk, ':p': 'P#' },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: decodeCursor(cursor, { field: 'pk', value: pk }),
      }),
    ));
    return { data: (out.Items ?? []).map(toStatement), next_cursor: encodeCursor(out.LastEvaluatedKey) };
  }

  /** The statement and its payable posting, at once; a statement already issued is left as it is (replayed). */
  issue(statement: Statement, posting: Posting | null, expect: Map<string, number>, close: ReadonlySet<string>) {
    return this.ledger.postWithRecord(statementItem(statement), posting, expect, close, statement.issued_at);
  }
}
