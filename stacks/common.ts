/**
 * Helpers shared by the stacks (this file is not a stack). Every Lambda of CompuX is created through
 * `tableFunction`, so each one gets TABLE_NAME and an IAM statement with exactly the DynamoDB actions its
 * row in infra/ asks for (tableActions), on the table and its indexes — never dynamodb:*, never Resource "*".
 */
import { Function as SstFunction, type FunctionProps } from 'sst/constructs';
import type { Construct } from 'constructs';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { tableActions, type TableAccess } from '../infra/access.js';

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

export interface TableFunctionProps extends Omit<FunctionProps, 'handler' | 'permissions' | 'bind'> {
  /** SST v2 handler string: "functions/<file>.<export>". */
  handler: string;
  access: readonly TableAccess[];
  table: ITable;
  /** Extra least-privilege statements (sqs:SendMessage on one queue, states:StartExecution on one machine...). */
  statements?: readonly PolicyStatement[];
}

/** An SST Function wired to the table with only the access it declares. */
export function tableFunction(scope: Construct, id: string, props: TableFunctionProps): SstFunction {
  const { access, table, statements = [], environment, ...rest } = props;
  const fn = new SstFunction(scope, id, {
    ...rest,
    environment: { TABLE_NAME: table.tableName, ...environment },
  });
  const statement = tableStatement(table, access);
  const all = [...(statement ? [statement] : []), ...statements];
  if (all.length > 0) fn.attachPermissions(all);
  return fn;
}

/** A construct id SST accepts (letters, digits, "_"), derived from table data: "GET /v1/x/{id}" -> "GET_v1_x_id". */
export function constructId(...parts: string[]): string {
  const id = parts
    .join('_')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return /^[A-Za-z]/.test(id) ? id : `X${id}`;
}
