/**
 * Every item of a test runtime's table, counted: the suites that assert a refused request wrote nothing
 * (test/api/bad-input.test.ts, test/api/tenant-matrix.test.ts) compare it before and after, with the scheduler off.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { TestRuntime } from './runtime.js';

export async function itemCount(rt: Pick<TestRuntime, 'doc' | 'tableName'>): Promise<number> {
  let n = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const out = await rt.doc.send(new ScanCommand({ TableName: rt.tableName, Select: 'COUNT', ExclusiveStartKey: start, ConsistentRead: true }));
    n += out.Count ?? 0;
    start = out.LastEvaluatedKey;
  } while (start);
  return n;
}
