/**
 * Helpers shared by the stacks (this file is not a stack). Every Lambda of CompuX is created through
 * `tableFunction`, so each one gets TABLE_NAME and an IAM statement with exactly the DynamoDB actions its
 * row in infra/ asks for (tableActions), on the table and its indexes — never dynamodb:*, never Resource "*".
 *
 * Resource budget (CloudFormation allows 500 per stack; docs/stacks.md): every function is the Lambda, an
 * explicit log group (retention set by CloudFormation, no `Custom::LogRetention` and its provider Lambda) and
 * an execution role with one policy; functions with an identical grant (`roleProfile`) share the role, its
 * policy and one log group (Lambda's advanced logging lets functions share a group; every line carries its
 * function_name, written by Powertools' logger, so a search still tells the functions apart). SST's
 * per-function SSM parameter (its `Function` binding, `/sst/<app>/<stage>/Function/<id>/functionName`) is not
 * created: no function of CompuX is ever bound to another (see `tableFunction`).
 */
import { App, Function as SstFunction, type FunctionProps } from 'sst/constructs';
import type { Construct } from 'constructs';
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Effect, PolicyStatement, Role, ServicePrincipal, type IRole } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Function as LambdaFunction, type IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { RELAY_KEY_ACTIONS, tableActions, type RelayKeyUse, type TableAccess } from '../infra/access.js';
import { RELAY_KMS_KEY_ENV } from '../functions/lib/settings.js';
import { RELAY_KEY_PURPOSE } from '../packages/core/src/relay-at-rest.js';
import { PROD_STAGE } from './Storage.js';

/** The statement granting exactly `tableActions(access)` on the table and its indexes; undefined for no access. */
export function tableStatement(table: ITable, access: readonly TableAccess[]): PolicyStatement | undefined {
  const actions = tableActions(access);
  if (actions.length === 0) return undefined;
  return new PolicyStatement({
    effect: Effect.ALLOW,
    actions,
    resources: [table.tableArn, `${table.tableArn}/index/*`],
  });
}

/**
 * A row's `relayKey` as its function's grant: RELAY_KEY_ACTIONS of that use on exactly the relay key-encryption key
 * (stacks/Storage.ts), and the key's ARN in RELAY_KMS_KEY_ENV. No use: nothing, not even the key's id. The grant holds
 * only for the relay keys' EncryptionContext purpose (packages/core/src/adapters/kek/kms.ts sends it on every call),
 * so a signer cannot use the key for anything else.
 */
export function relayKeyGrant(use: RelayKeyUse | undefined, key: IKey): { environment: Record<string, string>; statements: PolicyStatement[] } {
  if (!use) return { environment: {}, statements: [] };
  return {
    environment: { [RELAY_KMS_KEY_ENV]: key.keyArn },
    statements: [
      new PolicyStatement({
        effect: Effect.ALLOW, actions: [...RELAY_KEY_ACTIONS[use]], resources: [key.keyArn],
        conditions: { StringEquals: { 'kms:EncryptionContext:purpose': RELAY_KEY_PURPOSE } },
      }),
    ],
  };
}

/** Log retention of every function's log group (and the API access log): a year on prod, two weeks elsewhere. */
export function logRetention(stage: string): RetentionDays {
  return stage === PROD_STAGE ? RetentionDays.ONE_YEAR : RetentionDays.TWO_WEEKS;
}

/** Log groups are kept when prod's stack is deleted or replaces them; other stages delete them. */
export function logRemovalPolicy(stage: string): RemovalPolicy {
  return stage === PROD_STAGE ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
}

/** The actions a function needs on its role's log group (Lambda creates the streams and writes the events). */
export const LOG_WRITE_ACTIONS: readonly string[] = ['logs:CreateLogStream', 'logs:PutLogEvents'];

export interface TableFunctionProps
  extends Omit<FunctionProps, 'handler' | 'permissions' | 'bind' | 'role' | 'logRetention' | 'logGroup'> {
  /** SST v2 handler string: "functions/<file>.<export>". */
  handler: string;
  access: readonly TableAccess[];
  table: ITable;
  /** Extra least-privilege statements (sqs:SendMessage on one queue, states:StartExecution on one machine...). */
  statements?: readonly PolicyStatement[];
  /**
   * Functions of one stack created with the same `roleProfile` share one execution role (with its one policy and one log group).
   * Give the same profile only to functions whose whole grant is identical (same table access, same queues,
   * same state machines): the synth fails if two functions of one profile bring different statements. Never add
   * grants to such a function after creating it (an event source, a dead-letter queue...): they would reach every
   * function of the profile. Without a profile the function gets its own role.
   */
  roleProfile?: string;
}

interface SharedRole {
  role: Role;
  /** The resolved statements every function of the profile must bring. */
  signature: string;
  /** The profile's one log group, which its role alone may write. */
  logGroup: LogGroup;
}

const sharedRoles = new WeakMap<Stack, Map<string, SharedRole>>();

/** A role and the log group it writes (logs:CreateLogStream / logs:PutLogEvents on that group only). */
function newRole(scope: Construct, id: string, description: string): { role: Role; logGroup: LogGroup } {
  const stage = (scope.node.root as App).stage;
  const logGroup = new LogGroup(scope, `${id}Logs`, { retention: logRetention(stage), removalPolicy: logRemovalPolicy(stage) });
  const role = new Role(scope, id, { assumedBy: new ServicePrincipal('lambda.amazonaws.com'), description });
  role.addToPrincipalPolicy(new PolicyStatement({ effect: Effect.ALLOW, actions: [...LOG_WRITE_ACTIONS], resources: [logGroup.logGroupArn] }));
  return { role, logGroup };
}

/** The role a new function runs as and its log group: its own, or its profile's (made by the profile's first function). */
function executionRole(scope: Construct, id: string, statements: readonly PolicyStatement[], profile: string | undefined): {
  role: IRole;
  logGroup: LogGroup;
  fresh: boolean;
} {
  const stack = Stack.of(scope);
  if (profile === undefined) return { ...newRole(scope, `${id}Role`, `CompuX ${id}`), fresh: true };
  const signature = JSON.stringify(stack.resolve(statements.map((s) => s.toStatementJson())));
  let roles = sharedRoles.get(stack);
  if (!roles) sharedRoles.set(stack, (roles = new Map()));
  const shared = roles.get(profile);
  if (shared) {
    if (shared.signature !== signature) {
      throw new Error(`${id}: role profile "${profile}" is shared by functions with different grants`);
    }
    return { role: shared.role, logGroup: shared.logGroup, fresh: false };
  }
  const created = newRole(stack, constructId('Role', profile), `CompuX functions with grant profile ${profile}`);
  roles.set(profile, { ...created, signature });
  return { ...created, fresh: true };
}

/** An SST Function wired to the table with only the access it declares, logging to its role's log group. */
export function tableFunction(scope: Construct, id: string, props: TableFunctionProps): SstFunction {
  const { access, table, statements = [], environment, roleProfile, ...rest } = props;
  const statement = tableStatement(table, access);
  const all = [...(statement ? [statement] : []), ...statements];

  const { role, logGroup, fresh } = executionRole(scope, id, all, roleProfile);

  const fn = new SstFunction(scope, id, {
    ...rest,
    role,
    logGroup,
    // SST would otherwise store each function's name in an SSM parameter for its `bind` / `sst/node/function`
    // client; nothing binds these functions, and the parameter is one resource per function.
    _doNotAllowOthersToBind: true,
    environment: { TABLE_NAME: table.tableName, ...environment },
  });
  // A shared role already holds the profile's statements (the signature check above proved them identical).
  if (fresh && all.length > 0) fn.attachPermissions(all);
  return fn;
}

/**
 * A function of another stack, imported into `scope`'s stack by its ARN (the function's stack exports the ARN; the
 * same export serves every importer). `sameEnvironment`: permissions added to the import (an API method's invoke
 * permission) are created in `scope`'s stack, so the function's stack never references the importer's (no cycle),
 * and nothing can add grants to the function's role through it. Its `functionName` is the ARN's last part.
 */
export function importFunction(scope: Construct, id: string, fn: IFunction): IFunction {
  return LambdaFunction.fromFunctionAttributes(scope, id, { functionArn: fn.functionArn, sameEnvironment: true });
}

/** A construct id SST accepts (letters, digits, "_"), derived from table data: "GET /v1/x/{id}" -> "GET_v1_x_id". */
export function constructId(...parts: string[]): string {
  const id = parts
    .join('_')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return /^[A-Za-z]/.test(id) ? id : `X${id}`;
}
