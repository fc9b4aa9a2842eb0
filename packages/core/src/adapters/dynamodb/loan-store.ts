/** LoanBookStore on the table: the loan entries by partition (entities/loan.ts), written conditioned on their version. */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { LoanBookEntry, LoanBookStore } from '../../loan-service.js';
import { loanItem, loanPk, toLoanEntry } from './entities/loan.js';
import { Table } from './table.js';
import { putVersion } from './transact.js';

export class DynamoLoanBook implements LoanBookStore {
  private readonly table: Table;
  constructor(doc: DynamoDBDocumentClient, tableName: string) {
    this.table = new Table(doc, tableName);
  }

  async listLoans(shard: number, limit: number, cursor?: string) {
    const page = await this.table.listPartition(loanPk(shard), 'FAC#', { limit, cursor, consistent: true });
    return { items: page.items.map(toLoanEntry), cursor: page.cursor };
  }

  async putLoan(e: LoanBookEntry): Promise<{ ok: boolean }> {
    return { ok: await putVersion(this.table.doc, this.table.name, loanItem(e)) };
  }
}
