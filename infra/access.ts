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

/**
 * What a function may do with the relay key-encryption key (the KMS key the relay signing keys are sealed under,
 * packages/core/src/relay-at-rest.ts). 'sign': open the keys to sign relay tokens (kms:Decrypt), and seal the first
 * set or a set stored before sealing (kms:GenerateDataKey). 'rotate': seal a new key; the rotation carries the other
 * keys over sealed and never opens one, so it gets no Decrypt. Every other function gets neither.
 */
export type RelayKeyUse = 'sign' | 'rotate';

export const RELAY_KEY_ACTIONS: Record<RelayKeyUse, readonly string[]> = {
  sign: ['kms:Decrypt', 'kms:GenerateDataKey'],
  rotate: ['kms:GenerateDataKey'],
};

/** What one function's row declares: a route row, a schedule's handler target, a queue consumer or a workflow task. */
export interface GrantSource {
  access: readonly TableAccess[];
  /** Its use of the relay key-encryption key, if any (RELAY_KEY_ACTIONS on that one key). */
  relayKey?: RelayKeyUse;
  /** infra/queues.ts names (routes only). */
  sends?: readonly string[];
  /** infra/workflows.ts names (routes only). */
  starts?: readonly string[];
}

/**
 * A function's whole grant, derived from its row: exactly tableActions(access) on the table and `<table>/index/*`,
 * QUEUE_SEND_ACTIONS on each queue it sends to, WORKFLOW_START_ACTIONS on each state machine it starts,
 * RELAY_KEY_ACTIONS of its `relayKey` on the relay key-encryption key, nothing else. The stacks attach these statements; the local runtime (local/grants.ts) enforces the same grant.
 */
export interface Grant {
  tableActions: readonly string[];
  queues: readonly string[];
  workflows: readonly string[];
  /** KMS actions on the relay key-encryption key (none for most functions). */
  relayKeyActions: readonly string[];
}

export function grantOf(row: GrantSource): Grant {
  return {
    tableActions: tableActions(row.access), queues: [...new Set(row.sends ?? [])].sort(), workflows: [...new Set(row.starts ?? [])].sort(),
    relayKeyActions: row.relayKey ? [...RELAY_KEY_ACTIONS[row.relayKey]].sort() : [],
  };
}
