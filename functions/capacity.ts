/**
 * Consumer of the capacity-webhooks FIFO queue. Reports partial batch failures: a record that fails
 * (malformed, or a store error) is retried alone and, after maxReceiveCount receives, lands in the
 * dead-letter queue — it is never silently dropped. A redelivered event id is stored once.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { CapacityReport } from '../events/capacity.js';
import { storeCapacityReport } from '../packages/core/src/adapters/dynamodb/index.js';
import { deps } from './lib/deps.js';
import { logger } from './lib/powertools.js';

export const consume = middy(async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const failures: SQSBatchResponse['batchItemFailures'] = [];
  const { doc, table } = deps();
  for (const [i, record] of event.Records.entries()) {
    try {
      const parsed = CapacityReport.safeParse(JSON.parse(record.body));
      if (!parsed.success) throw new Error(`malformed capacity report: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      await storeCapacityReport(doc, table, parsed.data, new Date().toISOString());
    } catch (err) {
      logger.warn('capacity record failed', { messageId: record.messageId, error: err as Error });
      // FIFO: once one message of a group fails, later ones of the batch must wait too, or order breaks.
      for (const rest of event.Records.slice(i)) failures.push({ itemIdentifier: rest.messageId });
      break;
    }
  }
  return { batchItemFailures: failures };
}).use(injectLambdaContext(logger));
