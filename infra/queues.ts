/**
 * THE queue table: SQS queues (with their dead-letter queues) in stacks/Queues.ts,
 * the local SQS server and poller in local/sqs.ts.
 */
import type { TableAccess } from './access.js';

export interface QueueDef {
  name: string;
  /** FIFO: ordered per message group (the provider id). */
  fifo: boolean;
  consumer: string;
  access: readonly TableAccess[];
  batchSize: number;
  /** Receives before a message moves to the dead-letter queue. */
  maxReceiveCount: number;
  visibilityTimeoutSeconds: number;
  /** Env var through which producers learn the queue URL. */
  urlEnv: string;
}

export const QUEUES: readonly QueueDef[] = [
  {
    name: 'capacity-webhooks',
    fifo: true,
    consumer: 'functions/capacity.consume',
    // query: the provider's bookable hours, to apply a report's capacity blocks (functions/capacity.ts).
    access: ['read', 'query', 'transact'],
    batchSize: 10,
    maxReceiveCount: 5,
    visibilityTimeoutSeconds: 60,
    urlEnv: 'CAPACITY_QUEUE_URL',
  },
];
