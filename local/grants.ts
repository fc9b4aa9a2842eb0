/**
 * Grants, enforced locally as IAM enforces them on AWS.
 *
 * Each function the stacks deploy is granted exactly what its row says (infra/access.ts grantOf: the row's
 * tableActions on the table and `<table>/index/*`, sqs:SendMessage on its `sends` queues, states:StartExecution
 * on its `starts` state machines, its `relayKey` actions on the relay key-encryption key). Locally every handler
 * runs in this one process and shares its SDK clients,
 * so the grant travels with the invocation instead:
 *
 * - the runtime runs each handler invocation (HTTP route, queue consumer, schedule, workflow task) inside an
 *   AsyncLocalStorage scope holding that function's grant (withGrant; local/lambda.ts invokeHandler and the
 *   streaming path of local/http.ts). Everything the invocation does, including work after its reply or a
 *   streamed body, runs in that scope;
 * - every client a handler uses carries the call guard of packages/core/src/adapters/clients.ts (the DynamoDB
 *   document client, the functions' SQS and Step Functions clients; the local relay key-encryption key, which does
 *   KMS's work in-process, shows each use as its KMS call, adapters/kek/file.ts); installGrantEnforcement() registers the
 *   guard that maps each call to the IAM actions and resources AWS evaluates (permissionsFor) and refuses one
 *   the scope's grant lacks with an error shaped like AWS's AccessDenied (accessDenied), before anything is
 *   sent (so it is never retried);
 * - a call outside any scope (the runtime's own clients: the demo seed, the SQS poller, the Step Functions
 *   endpoint, tests) is not a function's and is not checked.
 *
 * Each refusal is recorded (LocalGrants.denials, and logged), so tests can prove a handler stayed inside its row.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import { SQSServiceException } from '@aws-sdk/client-sqs';
import { SFNServiceException } from '@aws-sdk/client-sfn';
import { KMSServiceException } from '@aws-sdk/client-kms';
import { QUEUE_SEND_ACTIONS, WORKFLOW_START_ACTIONS, grantOf, type GrantSource } from '../infra/access.js';
import { registerCallGuard, type AwsCall, type AwsService } from '../packages/core/src/adapters/clients.js';
import { nowIso } from '../packages/core/src/clock.js';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './aws.js';
import { functionNameFor } from './lambda.js';

/** One IAM authorization AWS performs for a call: an action on a resource. */
export interface Permission {
  action: string;
  resource: string;
}

/** A function's grant with its resources resolved to ARNs: what the guard checks a call against. */
export interface ResolvedGrant {
  /** The function's name (the role session in the denial message). */
  functionName: string;
  handler: string;
  /** DynamoDB actions allowed on `tableArn` and `tableArn/index/*`. */
  tableActions: ReadonlySet<string>;
  tableArn: string;
  /** Queue ARNs it may sqs:SendMessage to. */
  queueArns: ReadonlySet<string>;
  /** State machine ARNs it may states:StartExecution. */
  stateMachineArns: ReadonlySet<string>;
  /** KMS actions it may perform on `relayKeyArn` (the relay key-encryption key); none when absent. */
  relayKeyActions?: ReadonlySet<string>;
  relayKeyArn?: string;
  /** Where refusals are recorded. */
  onDenied?: (denial: Denial) => void;
}

export interface Denial extends Permission {
  functionName: string;
  handler: string;
  operation: string;
  at: string;
}

const arnPrefix = (service: string) => `arn:aws:${service}:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}`;
export const dynamoTableArn = (table: string) => `${arnPrefix('dynamodb')}:table/${table}`;
/** A queue's ARN from its URL (".../<account>/<name>"): SQS names the queue by its last path segment. */
export function queueArnFromUrl(url: string): string {
  const name = String(url).split('?')[0]!.replace(/\/+$/, '').split('/').pop() ?? '';
  return `${arnPrefix('sqs')}:${name}`;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function tableResource(table: unknown, index?: unknown): string {
  const base = dynamoTableArn(str(table) || '*');
  return index ? `${base}/index/${str(index)}` : base;
}

/**
 * The authorizations AWS performs for one call (all must pass), as IAM evaluates them:
 * TransactWriteItems is authorized per item (Put → PutItem, Update → UpdateItem, Delete → DeleteItem,
 * ConditionCheck → ConditionCheckItem), TransactGetItems per item as GetItem, BatchGetItem / BatchWriteItem per
 * table, Query and Scan on the index named; SendMessageBatch is sqs:SendMessage; anything else is the
 * operation's own action on the resource its input names.
 */
export function permissionsFor(call: AwsCall): Permission[] {
  const { service, operation, input } = call;
  if (service === 'dynamodb') {
    switch (operation) {
      case 'TransactWriteItems': {
        const items = (input.TransactItems as Array<Record<string, { TableName?: string }>> | undefined) ?? [];
        const kinds: Record<string, string> = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem' };
        return items.flatMap((item) =>
          Object.entries(kinds).flatMap(([k, action]) => (item[k] ? [{ action: `dynamodb:${action}`, resource: tableResource(item[k]!.TableName) }] : [])),
        );
      }
      case 'TransactGetItems': {
        const items = (input.TransactItems as Array<{ Get?: { TableName?: string } }> | undefined) ?? [];
        return items.map((item) => ({ action: 'dynamodb:GetItem', resource: tableResource(item.Get?.TableName) }));
      }
      case 'BatchGetItem':
      case 'BatchWriteItem':
        return Object.keys((input.RequestItems as Record<string, unknown> | undefined) ?? {}).map((t) => ({ action: `dynamodb:${operation}`, resource: tableResource(t) }));
      case 'Query':
      case 'Scan':
        return [{ action: `dynamodb:${operation}`, resource: tableResource(input.TableName, input.IndexName) }];
      default:
        return [{ action: `dynamodb:${operation}`, resource: input.TableName ? tableResource(input.TableName) : '*' }];
    }
  }
  if (service === 'sqs') {
    const action = operation === 'SendMessageBatch' ? 'sqs:SendMessage' : `sqs:${operation}`;
    return [{ action, resource: input.QueueUrl ? queueArnFromUrl(str(input.QueueUrl)) : '*' }];
  }
  if (service === 'kms') return [{ action: `kms:${operation}`, resource: str(input.KeyId) || '*' }];
  const resource = str(input.stateMachineArn) || str(input.executionArn) || str(input.activityArn) || '*';
  return [{ action: `states:${operation}`, resource }];
}

/** Whether the grant allows one authorization. */
export function allows(grant: ResolvedGrant, p: Permission): boolean {
  const [service] = p.action.split(':');
  if (service === 'dynamodb') {
    return grant.tableActions.has(p.action) && (p.resource === grant.tableArn || p.resource.startsWith(`${grant.tableArn}/index/`));
  }
  if (service === 'sqs') return QUEUE_SEND_ACTIONS.includes(p.action) && grant.queueArns.has(p.resource);
  if (service === 'states') return WORKFLOW_START_ACTIONS.includes(p.action) && grant.stateMachineArns.has(p.resource);
  if (service === 'kms') return grant.relayKeyArn !== undefined && p.resource === grant.relayKeyArn && (grant.relayKeyActions?.has(p.action) ?? false);
  return false;
}

/** The first authorization the grant lacks, or null when the call is allowed. */
export function firstDenied(grant: ResolvedGrant, call: AwsCall): Permission | null {
  const needed = permissionsFor(call);
  // A call that names nothing (an empty transaction) is still the operation's own action.
  if (needed.length === 0) needed.push({ action: `${call.service}:${call.operation}`, resource: '*' });
  return needed.find((p) => !allows(grant, p)) ?? null;
}

/** The error AWS answers an unauthorized call with, as the SDK surfaces it (a non-retryable client fault). */
export function accessDenied(service: AwsService, functionName: string, p: Permission): Error {
  const requestId = `local-${Math.random().toString(16).slice(2, 10)}`;
  // SQS spells its IAM actions in lower case in this message and calls the error AccessDenied (HTTP 403).
  const action = service === 'sqs' ? p.action.toLowerCase() : p.action;
  const message = `User: arn:aws:sts::${LOCAL_ACCOUNT_ID}:assumed-role/${functionName}-role/${functionName} is not authorized to perform: ${action} on resource: ${p.resource} because no identity-based policy allows the ${action} action`;
  const base = { $fault: 'client' as const, message };
  if (service === 'sqs') {
    return new SQSServiceException({ ...base, name: 'AccessDenied', $metadata: { httpStatusCode: 403, requestId, attempts: 1, totalRetryDelay: 0 } });
  }
  const Ctor = service === 'dynamodb' ? DynamoDBServiceException : service === 'kms' ? KMSServiceException : SFNServiceException;
  return new Ctor({ ...base, name: 'AccessDeniedException', $metadata: { httpStatusCode: 400, requestId, attempts: 1, totalRetryDelay: 0 } });
}

const scope = new AsyncLocalStorage<ResolvedGrant>();

/** Runs `fn` (a handler invocation) with `grant` in force for every guarded SDK call it makes; no grant: unchecked. */
export function withGrant<T>(grant: ResolvedGrant | undefined, fn: () => T): T {
  return grant ? scope.run(grant, fn) : fn();
}

/** The grant in force here, if inside a handler invocation. */
export function currentGrant(): ResolvedGrant | undefined {
  return scope.getStore();
}

function guard(call: AwsCall): void {
  const grant = scope.getStore();
  if (!grant) return;
  const denied = firstDenied(grant, call);
  if (!denied) return;
  const denial: Denial = { ...denied, functionName: grant.functionName, handler: grant.handler, operation: `${call.service}:${call.operation}`, at: nowIso() };
  console.error(`[grants] AccessDenied: ${grant.handler} (${grant.functionName}) called ${denial.operation}, which needs ${denied.action} on ${denied.resource}: not in its row`);
  grant.onDenied?.(denial);
  throw accessDenied(call.service, grant.functionName, denied);
}

let installed = false;

/** Registers the grant guard on every guarded client of this process (once). */
export function installGrantEnforcement(): void {
  if (installed) return;
  installed = true;
  registerCallGuard(guard);
}

/** A function as the runtime invokes it: its handler and its row's grant. */
export interface FunctionRow extends GrantSource {
  handler: string;
}

/**
 * The grants of one runtime: resolves a row to its ResolvedGrant (the row's queue and workflow names to the
 * runtime's ARNs) and keeps every refusal.
 */
/** Refusals kept per runtime (the newest): a refusal is a bug to fix, but a runtime left running must not grow. */
export const MAX_DENIALS_KEPT = 1_000;

export class LocalGrants {
  readonly denials: Denial[] = [];
  /** Invocations run under a grant so far, by handler reference. */
  readonly invocations = new Map<string, number>();
  readonly #cache = new Map<string, ResolvedGrant>();

  constructor(
    private readonly resources: {
      tableName: string;
      /** infra/queues.ts name → the queue's ARN; throws on an unknown name. */
      queueArn: (name: string) => string;
      /** infra/workflows.ts name → the state machine's ARN; throws on an unknown name. */
      stateMachineArn: (name: string) => string;
      /** The relay key-encryption key's ARN (local/relay-kek.ts); absent: no function may use it. */
      relayKeyArn?: string;
    },
  ) {
    installGrantEnforcement();
  }

  /** The grant of a function row, for one invocation of its handler (counted in `invocations`). */
  for(row: FunctionRow): ResolvedGrant {
    this.invocations.set(row.handler, (this.invocations.get(row.handler) ?? 0) + 1);
    const g = grantOf(row);
    const key = JSON.stringify([row.handler, g]);
    let resolved = this.#cache.get(key);
    if (!resolved) {
      resolved = {
        functionName: functionNameFor(row.handler),
        handler: row.handler,
        tableActions: new Set(g.tableActions),
        tableArn: dynamoTableArn(this.resources.tableName),
        queueArns: new Set(g.queues.map((q) => this.resources.queueArn(q))),
        stateMachineArns: new Set(g.workflows.map((w) => this.resources.stateMachineArn(w))),
        relayKeyActions: new Set(g.relayKeyActions),
        ...(this.resources.relayKeyArn ? { relayKeyArn: this.resources.relayKeyArn } : {}),
        onDenied: (d) => {
          this.denials.push(d);
          if (this.denials.length > MAX_DENIALS_KEPT) this.denials.splice(0, this.denials.length - MAX_DENIALS_KEPT);
        },
      };
      this.#cache.set(key, resolved);
    }
    return resolved;
  }
}
