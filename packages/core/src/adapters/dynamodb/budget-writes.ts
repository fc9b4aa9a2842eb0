/**
 * A key budget's update as a transaction item (holds and leases both draw on it): a take is conditioned on
 * the budget covering it; a refund is not (it only returns what a take took, and counts the spend).
 */
import type { KeyBudgetChange } from '../../holds.js';
import { apiKeyKey } from './entities/api-key.js';
import type { Table, Tagged } from './table.js';

export function budgetItem(table: Table, change: KeyBudgetChange | null): Tagged[] {
  if (!change) return [];
  const update =
    'take' in change
      ? { UpdateExpression: 'SET budget_left_micros = budget_left_micros - :a', ConditionExpression: 'budget_left_micros >= :a', ExpressionAttributeValues: { ':a': change.take } }
      : { UpdateExpression: 'ADD budget_left_micros :r, spent_micros :s', ExpressionAttributeValues: { ':r': change.refund, ':s': change.spent } };
  return [{ tag: 'budget', item: { Update: { TableName: table.name, Key: apiKeyKey(change.key_sha256), ...update, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } } }];
}
