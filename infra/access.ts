/**
 * Table access levels a function may be granted. Each maps to the exact DynamoDB actions it needs,
 * so no function ever receives dynamodb:* (checked by test/stacks.test.ts).
 */
export type TableAccess = 'read' | 'write' | 'transact' | 'query';

export const TABLE_ACTIONS: Record<TableAccess, readonly string[]> = {
  read: ['dynamodb:GetItem', 'dynamodb:BatchGetItem'],
  query: ['dynamodb:Query'],
  write: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
  // TransactWriteItems needs the per-item actions too (ConditionCheckItem for condition checks).
  transact: ['dynamodb:ConditionCheckItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:GetItem'],
};

export function tableActions(access: readonly TableAccess[]): string[] {
  return [...new Set(access.flatMap((a) => TABLE_ACTIONS[a]))].sort();
}
