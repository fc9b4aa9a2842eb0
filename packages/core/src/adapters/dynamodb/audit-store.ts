/** AuditStore on the table: the accounts of one audit shard (accountsForAudit), and an account's lines summed. */
import { InvariantError } from '../../money.js';
import type { AuditStore, Balance, LedgerStore, Page } from '../../store.js';
import { decodeCursor } from './cursor.js';
import { toBalance } from './entities/account.js';
import type { Table } from './table.js';

const MAX_LINES_SUMMED = 5_000_000;

export class DynamoAuditStore implements AuditStore {
  constructor(
    private readonly table: Table,
    private readonly ledger: Pick<LedgerStore, 'listLines'>,
  ) {}

  async listAccounts(shard: number, limit: number, cursor?: string): Promise<Page<Balance>> {
    const pk = `ACCOUNTS#${shard}`;
    const page = await this.table.queryPage({
      IndexName: 'accountsForAudit',
      KeyConditionExpression: 'gsi4pk = :pk',
      ExpressionAttributeValues: { ':pk': pk },
      Limit: limit,
      ExclusiveStartKey: decodeCursor(cursor, { field: 'gsi4pk', value: pk }),
    });
    return { items: page.items.map(toBalance), cursor: page.cursor };
  }

  async sumLines(account: string): Promise<{ sum_micros: number; lines: number }> {
    let sum = 0;
    let lines = 0;
    let cursor: string | undefined;
    do {
      const page = await this.ledger.listLines(account, 1_000, cursor);
      for (const l of page.items) sum += l.amount_micros;
      lines += page.items.length;
      if (lines > MAX_LINES_SUMMED) throw new InvariantError(`account ${account} has more than ${MAX_LINES_SUMMED} lines to sum`);
      cursor = page.cursor ?? undefined;
    } while (cursor);
    return { sum_micros: sum, lines };
  }
}
