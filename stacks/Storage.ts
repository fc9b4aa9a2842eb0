/**
 * The single DynamoDB table, generated from infra/table.ts (keys, GSIs, TTL attribute).
 * PAY_PER_REQUEST, point-in-time recovery on. Stage `prod`: deletion protection + RETAIN;
 * any other stage: DESTROY and no deletion protection, so `sst remove` cleans a dev stage up.
 */
import { Table, type StackContext } from 'sst/constructs';
import { RemovalPolicy } from 'aws-cdk-lib';
import { BillingMode } from 'aws-cdk-lib/aws-dynamodb';
import { TABLE } from '../infra/table.js';

export const PROD_STAGE = 'prod';

export function Storage({ stack }: StackContext) {
  const isProd = stack.stage === PROD_STAGE;
  const indexes = Object.entries(TABLE.indexes);

  // Every key attribute (table + GSIs) is a string.
  const keyAttributes = [TABLE.partitionKey, TABLE.sortKey, ...indexes.flatMap(([, ix]) => [ix.partitionKey, ix.sortKey])];
  const fields = Object.fromEntries(keyAttributes.map((name) => [name, 'string' as const]));

  const table = new Table(stack, 'Table', {
    fields,
    primaryIndex: { partitionKey: TABLE.partitionKey, sortKey: TABLE.sortKey },
    globalIndexes: Object.fromEntries(
      indexes.map(([name, ix]) => [name, { partitionKey: ix.partitionKey, sortKey: ix.sortKey }]),
    ),
    timeToLiveAttribute: TABLE.ttlAttribute,
    cdk: {
      table: {
        billingMode: BillingMode.PAY_PER_REQUEST,
        // SST sets the deprecated `pointInTimeRecovery`; replace it with the current property.
        pointInTimeRecovery: undefined,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        deletionProtection: isProd,
        removalPolicy: isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      },
    },
  });

  stack.addOutputs({ TableName: table.tableName });
  return { table, tableName: table.tableName, tableArn: table.tableArn, cdkTable: table.cdk.table };
}
