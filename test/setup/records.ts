/**
 * A startup's request records as the table holds them: a held request's own item (USAGE#<startup>), and a
 * leased request's place in its lease's flush item (many records in one item). Tests read both, by scan
 * and query: fine for a test table, never used on the request path.
 */
import { QueryCommand, ScanCommand, type DynamoDBDocumentClient, type QueryCommandOutput, type ScanCommandOutput } from '@aws-sdk/lib-dynamodb';

export type RecordItem = Record<string, any>;

export async function requestRecords(doc: DynamoDBDocumentClient, tableName: string, startupId: string): Promise<RecordItem[]> {
  const out: RecordItem[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page: QueryCommandOutput = await doc.send(new QueryCommand({ TableName: tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `USAGE#${startupId}` }, ConsistentRead: true, ExclusiveStartKey: start }));
    out.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  do {
    const page: ScanCommandOutput = await doc.send(new ScanCommand({ TableName: tableName, FilterExpression: '#t = :t AND startup_id = :s', ExpressionAttributeNames: { '#t': 'type' }, ExpressionAttributeValues: { ':t': 'lease_flush', ':s': startupId }, ConsistentRead: true, ExclusiveStartKey: start }));
    for (const f of page.Items ?? []) out.push(...(JSON.parse(f.records as string) as RecordItem[]));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

/** One request's record, or undefined when it is not (yet) written. */
export async function requestRecord(doc: DynamoDBDocumentClient, tableName: string, startupId: string, requestId: string): Promise<RecordItem | undefined> {
  return (await requestRecords(doc, tableName, startupId)).find((r) => r.request_id === requestId);
}
