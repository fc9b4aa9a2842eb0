/**
 * freshTable(prefix): a uniquely named table, created from infra/table.ts (local/dynamodb.ts createTable),
 * in the run's shared DynamoDB Local (test/setup/global-dynamodb.ts). Every test file gets its own table,
 * so files can run in parallel without seeing each other's items.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createTable } from '../../local/dynamodb.js';
import { localClientConfig } from '../../local/aws.js';

export interface FreshTable {
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  tableName: string;
  endpoint: string;
}

/** The shared DynamoDB Local's endpoint (from globalSetup; the env var is the fallback for other runners). */
export function dynamodbEndpoint(): string {
  const endpoint = inject('dynamodbEndpoint') ?? process.env.AWS_ENDPOINT_URL_DYNAMODB;
  if (!endpoint) throw new Error('no DynamoDB Local: test/setup/global-dynamodb.ts must be the vitest globalSetup');
  return endpoint;
}

export async function freshTable(prefix: string): Promise<FreshTable> {
  // DynamoDB table names: 3–255 of [A-Za-z0-9_.-].
  const safe = prefix.replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 200) || 'test';
  const tableName = `${safe}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const endpoint = dynamodbEndpoint();
  const client = new DynamoDBClient(localClientConfig(endpoint));
  await createTable(client, tableName);
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return { client, doc, tableName, endpoint };
}
