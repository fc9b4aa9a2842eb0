/**
 * A key budget's update as a transaction item (holds and leases both draw on it): a take is conditioned on
 * the budget covering it; a refund is not (it only returns what a take took, and counts the spend).
 *
 * A lifetime budget is counted on the key's own item. A period's budget (key-budgets.ts) is counted on an item
 * of its own beside the key (BUDGET#<period id>), which the period's first take creates from the whole budget:
 * `if_not_exists` makes that creation and the take one atomic step, so the reset needs no writer of its own.
 */
import { nowS as clockNowS } from '../../clock.js';
import { parseBudgetSlot, type BudgetSlot } from '../../key-budgets.js';
import type { KeyBudgetChange } from '../../holds.js';
import { apiKeyKey } from './entities/api-key.js';
import type { Key } from './entities/keys.js';
import type { Table, Tagged } from './table.js';

/** A period's budget item outlives its period by this long (a booking's hold may refund weeks later), then TTL removes it. */
const PERIOD_ITEM_KEEP_S = 400 * 86_400;

export const budgetPeriodKey = (keySha256: string, periodId: string): Key => ({ pk: `APIKEY#${keySha256}`, sk: `BUDGET#${periodId}` });

/** The item a slot is counted on. */
export const slotKey = (s: BudgetSlot): Key => (s.period_id === null ? apiKeyKey(s.key_sha256) : budgetPeriodKey(s.key_sha256, s.period_id));

function periodTake(s: BudgetSlot, amount: number, nowS: number) {
  return {
    UpdateExpression: 'SET budget_left_micros = if_not_exists(budget_left_micros, :full) - :a, #type = :type, budget_micros = :full, #ttl = if_not_exists(#ttl, :ttl)',
    ConditionExpression: '(attribute_not_exists(budget_left_micros) AND :full >= :a) OR budget_left_micros >= :a',
    ExpressionAttributeNames: { '#type': 'type', '#ttl': 'ttl' },
    ExpressionAttributeValues: { ':a': amount, ':full': s.budget_micros, ':type': 'key_budget_period', ':ttl': nowS + PERIOD_ITEM_KEEP_S },
  };
}

export function budgetItem(table: Table, change: KeyBudgetChange | null, nowS = clockNowS()): Tagged[] {
  if (!change) return [];
  const slot = parseBudgetSlot(change.slot);
  const update =
    'take' in change
      ? slot.period_id === null
        ? { UpdateExpression: 'SET budget_left_micros = budget_left_micros - :a', ConditionExpression: 'budget_left_micros >= :a', ExpressionAttributeValues: { ':a': change.take } }
        : periodTake(slot, change.take, nowS)
      : { UpdateExpression: 'ADD budget_left_micros :r, spent_micros :s', ExpressionAttributeValues: { ':r': change.refund, ':s': change.spent } };
  return [{ tag: 'budget', item: { Update: { TableName: table.name, Key: slotKey(slot), ...update, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } } }];
}
