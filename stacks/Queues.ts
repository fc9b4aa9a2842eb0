/**
 * One SQS queue per row of infra/queues.ts, each with a dead-letter queue (FIFO when the main queue is)
 * and a redrive policy, and a consumer Lambda attached by an event source mapping that reports partial
 * batch failures (ReportBatchItemFailures). Content-based deduplication is off: producers set
 * MessageDeduplicationId to the event id. A row's `sends` grants its consumer sqs:SendMessage on those queues. Both queues: SQS-managed encryption at rest, TLS-only access
 * (a queue policy denies aws:SecureTransport false); the dead-letter queue is alarmed by stacks/Monitoring.ts.
 */
import { Queue, use, type StackContext, type Function as SstFunction } from 'sst/constructs';
import { Duration } from 'aws-cdk-lib';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { QUEUES, type QueueDef } from '../infra/queues.js';
import { QUEUE_SEND_ACTIONS } from '../infra/access.js';
import { Storage } from './Storage.js';
import { constructId, tableFunction } from './common.js';

export interface DeployedQueue {
  def: QueueDef;
  queue: sqs.IQueue;
  deadLetterQueue: sqs.IQueue;
  consumer: SstFunction;
}

/** Lambda timeout for a consumer: AWS advises a visibility timeout of at least 6× the function timeout. */
export function consumerTimeoutSeconds(def: QueueDef): number {
  return Math.max(1, Math.floor(def.visibilityTimeoutSeconds / 6));
}

export function Queues({ stack, app }: StackContext) {
  const { cdkTable } = use(Storage);
  const queues: Record<string, DeployedQueue> = {};

  for (const def of QUEUES) {
    const suffix = def.fifo ? '.fifo' : '';
    const deadLetterQueue = new sqs.Queue(stack, constructId(def.name, 'dlq'), {
      queueName: `${app.logicalPrefixedName(`${def.name}-dlq`)}${suffix}`,
      fifo: def.fifo || undefined,
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });

    const consumer = tableFunction(stack, constructId('Consumer', def.name), {
      handler: def.consumer,
      access: def.access,
      table: cdkTable,
      timeout: consumerTimeoutSeconds(def),
    });

    const queue = new Queue(stack, constructId(def.name), {
      cdk: {
        queue: {
          queueName: `${app.logicalPrefixedName(def.name)}${suffix}`,
          fifo: def.fifo || undefined,
          contentBasedDeduplication: def.fifo ? false : undefined,
          visibilityTimeout: Duration.seconds(def.visibilityTimeoutSeconds),
          deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: def.maxReceiveCount },
          encryption: sqs.QueueEncryption.SQS_MANAGED,
          enforceSSL: true,
        },
      },
      consumer: {
        function: consumer,
        cdk: { eventSource: { batchSize: def.batchSize, reportBatchItemFailures: true } },
      },
    });

    queues[def.name] = { def, queue: queue.cdk.queue, deadLetterQueue, consumer };
    stack.addOutputs({ [constructId(def.name, 'url')]: queue.queueUrl });
  }

  // A consumer that sends (its own delayed retries): sqs:SendMessage on exactly its row's `sends`, and their URLs.
  // After the loop, so a consumer may name its own queue. Consumers have their own role, so this reaches no other.
  for (const def of QUEUES) {
    for (const name of new Set(def.sends ?? [])) {
      const target = queues[name];
      if (!target) throw new Error(`queue ${def.name}: its consumer sends to unknown queue "${name}" (infra/queues.ts)`);
      const consumer = queues[def.name]!.consumer;
      consumer.addEnvironment(target.def.urlEnv, target.queue.queueUrl);
      consumer.attachPermissions([new PolicyStatement({ effect: Effect.ALLOW, actions: [...QUEUE_SEND_ACTIONS], resources: [target.queue.queueArn] })]);
    }
  }

  return { queues };
}
