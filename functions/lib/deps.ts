/**
 * What handlers need, built once per Lambda container from the environment. The DynamoDB endpoint
 * comes from the SDK's own AWS_ENDPOINT_URL_DYNAMODB, so the local runtime and AWS run this same code.
 */
import { Credits, Lending, Tenants } from '../../packages/core/src/index.js';
import { DynamoCreditStore, documentClient } from '../../packages/core/src/adapters/dynamodb/index.js';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { tracer } from './powertools.js';

export interface Deps {
  doc: DynamoDBDocumentClient;
  table: string;
  store: DynamoCreditStore;
  credits: Credits;
  lending: Lending;
  tenants: Tenants;
}

let cached: Deps | undefined;

export function deps(): Deps {
  if (cached) return cached;
  const table = process.env.TABLE_NAME;
  if (!table) throw new Error('TABLE_NAME is not set');
  const doc = documentClient();
  tracer.captureAWSv3Client(doc);
  const store = new DynamoCreditStore(doc, table);
  cached = { doc, table, store, credits: new Credits(store), lending: new Lending(store), tenants: new Tenants(store, process.env.COMPUX_ADMIN_KEY_SHA256) };
  return cached;
}

/** Tests and the bench wire their own store (e.g. with fault-injecting middleware). */
export function setDeps(d: Deps | undefined): void {
  cached = d;
}
