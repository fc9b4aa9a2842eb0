/** Stores capacity reports (SPEC §6). Applying them to routing is the provider work (issue 4); this keeps every accepted report, once. */
import { PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { capacityReportKey } from './entities/capacity-report.js';
import { unlessConditionFailed } from './transact.js';

export interface StoredCapacityReport {
  event_id: string;
  provider_id: string;
  reported_at: string;
  [k: string]: unknown;
}

/** Returns false when this event id was stored before (a redelivery): applied once. */
export async function storeCapacityReport(doc: DynamoDBDocumentClient, table: string, r: StoredCapacityReport, receivedAt: string): Promise<boolean> {
  const written = await unlessConditionFailed(
    doc.send(
      new PutCommand({
        TableName: table,
        Item: { ...capacityReportKey(r.provider_id, r.reported_at, r.event_id), type: 'capacity_report', ...r, received_at: receivedAt },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    ),
  );
  return written !== null;
}
