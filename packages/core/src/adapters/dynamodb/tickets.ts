/**
 * TicketStore on the table (concurrency.ts). Taking is one transaction over the scopes' items: per scope
 * `SET tk_<ticket> = :exp ADD n 1` on condition `n < max` (absent: 0) and that the ticket is new. A scope found full
 * is looked at once more: the expired tickets its item returned (ALL_OLD on the failed condition) are cleared,
 * each on condition that it is still the same ticket, and the take is tried again; full after that is full.
 */
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { TakeResult, TicketScope, TicketStore } from '../../concurrency.js';
import { TICKET_ATTR_PREFIX, ticketAttr, ticketsKey } from './entities/tickets.js';
import { transact, unlessConditionFailed, type TransactItem } from './transact.js';

/** Expired tickets cleared in one update: bounds its size (a scope holds at most its cap anyway). */
const MAX_CLEARED_AT_ONCE = 100;

export class DynamoTickets implements TicketStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async take(scopes: readonly TicketScope[], ticket: string, expiresAtMs: number, nowMs: number): Promise<TakeResult> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const out = await transact(this.doc, scopes.map((s) => this.takeItem(s, ticket, expiresAtMs)));
      if (out.ok) return { ok: true };
      if (out.reason === 'contention') return { ok: false, code: 'contention' };
      const failed = [...out.failed].map(([i, old]) => ({ scope: scopes[i]!.scope, old }));
      // The same ticket already there: a retried take after a lost reply (DynamoDB retries); it counts once.
      if (failed.every((f) => f.old && ticketAttr(ticket) in f.old)) return { ok: true };
      let cleared = false;
      if (attempt === 0) for (const f of failed) if (f.old && (await this.clearExpired(f.scope, f.old, nowMs))) cleared = true;
      if (!cleared) return { ok: false, code: 'full', scope: failed[0]!.scope };
    }
    return { ok: false, code: 'contention' };
  }

  async give(scopes: readonly string[], ticket: string): Promise<void> {
    // One update a scope, each on its own condition: a scope whose ticket was already cleared (expired) is left alone.
    await Promise.all(scopes.map((scope) => unlessConditionFailed(this.doc.send(new UpdateCommand({
      TableName: this.tableName, Key: ticketsKey(scope), UpdateExpression: 'REMOVE #t ADD n :minus',
      ConditionExpression: 'attribute_exists(#t)', ExpressionAttributeNames: { '#t': ticketAttr(ticket) }, ExpressionAttributeValues: { ':minus': -1 },
    })))));
  }

  private takeItem(s: TicketScope, ticket: string, expiresAtMs: number): TransactItem {
    return {
      Update: {
        TableName: this.tableName, Key: ticketsKey(s.scope), UpdateExpression: 'SET #t = :exp ADD n :one',
        ConditionExpression: '(attribute_not_exists(n) OR n < :max) AND attribute_not_exists(#t)',
        ExpressionAttributeNames: { '#t': ticketAttr(ticket) }, ExpressionAttributeValues: { ':exp': expiresAtMs, ':one': 1, ':max': s.max },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  }

  /** Clears the expired tickets of `old` (each only if unchanged); true when some were. */
  private async clearExpired(scope: string, old: Record<string, unknown>, nowMs: number): Promise<boolean> {
    const expired = Object.entries(old).filter(([k, v]) => k.startsWith(TICKET_ATTR_PREFIX) && typeof v === 'number' && v <= nowMs).slice(0, MAX_CLEARED_AT_ONCE);
    if (expired.length === 0) return false;
    const names = Object.fromEntries(expired.map(([k], i) => [`#e${i}`, k]));
    const values = Object.fromEntries(expired.map(([, v], i) => [`:e${i}`, v]));
    // Cleared by another taker meanwhile (the condition failed): the next try sees the room either way.
    await unlessConditionFailed(this.doc.send(new UpdateCommand({
      TableName: this.tableName, Key: ticketsKey(scope),
      UpdateExpression: `REMOVE ${expired.map((_, i) => `#e${i}`).join(', ')} ADD n :minus`,
      ConditionExpression: expired.map((_, i) => `#e${i} = :e${i}`).join(' AND '),
      ExpressionAttributeNames: names, ExpressionAttributeValues: { ...values, ':minus': -expired.length },
    })));
    return true;
  }
}
