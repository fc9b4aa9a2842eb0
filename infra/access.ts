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

/** The IAM action a row's `sends` grants on each named queue, and its `starts` on each named state machine. */
export const QUEUE_SEND_ACTIONS: readonly string[] = ['sqs:SendMessage'];
export const WORKFLOW_START_ACTIONS: readonly string[] = ['states:StartExecution'];

/** What one function's row declares: a route row, a schedule's handler target, a queue consumer or a workflow task. */
export interface GrantSource {
  access: readonly TableAccess[];
  /** infra/queues.ts names (routes only). */
  sends?: readonly string[];
  /** infra/workflows.ts names (routes only). */
  starts?: readonly string[];
}

/**
 * A function's whole grant, derived from its row: exactly tableActions(access) on the table and `<table>/index/*`,
 * QUEUE_SEND_ACTIONS on each queue it sends to, WORKFLOW_START_ACTIONS on each state machine it starts, nothing
 * else. The stacks attach these statements; the local runtime (local/grants.ts) enforces the same grant.
 */
export interface Grant {
  tableActions: readonly string[];
  queues: readonly string[];
  workflows: readonly string[];
}

export function grantOf(row: GrantSource): Grant {
  return { tableActions: tableActions(row.access), queues: [...new Set(row.sends ?? [])].sort(), workflows: [...new Set(row.starts ?? [])].sort() };
}
