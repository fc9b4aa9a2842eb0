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
  /**
   * Queues (names of this table) the consumer itself sends to, e.g. its own queue for a delayed retry: it gets
   * sqs:SendMessage on exactly those and their urlEnv. Optional, additive.
   */
  sends?: readonly string[];
}

export const QUEUES: readonly QueueDef[] = [
  {
    name: 'capacity-webhooks',
    fifo: true,
    consumer: 'functions/capacity.consume',
    // query: the provider's bookable hours, to apply a report's capacity blocks (functions/capacity.ts); write and
    // the webhook queue: a reduction below booked GPUs interrupts those bookings and tells their startups.
    access: ['read', 'query', 'write', 'transact'],
    sends: ['webhook-deliveries'],
    batchSize: 10,
    maxReceiveCount: 5,
    visibilityTimeoutSeconds: 60,
    urlEnv: 'CAPACITY_QUEUE_URL',
  },
  {
    // Outbound webhooks (SPEC §12): one message per delivery attempt. Standard: deliveries are independent and
    // idempotent per (event, endpoint, round, attempt). A failed attempt is not left to SQS's redrive: the
    // consumer queues the next one itself with DelaySeconds (hopping while it is more than 15 minutes away), so
    // the backoff runs for 3 days; only a consumer that keeps crashing sends a message to the DLQ.
    name: 'webhook-deliveries',
    fifo: false,
    consumer: 'functions/webhooks.deliver',
    access: ['read', 'query', 'transact'],
    sends: ['webhook-deliveries'],
    batchSize: 10,
    maxReceiveCount: 5,
    // The consumer (180 / 6 = 30 s) attempts a batch in parallel, each within the 10 s delivery timeout.
    visibilityTimeoutSeconds: 180,
    urlEnv: 'WEBHOOK_QUEUE_URL',
  },
];
