/**
 * The local SQS server (local-aws-sqs, for real) and the poller playing Lambda's event source mapping.
 * Queues here are the test's own rows (short visibility timeouts so redelivery takes seconds), created by the
 * same code as the infra/queues.ts rows.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { QueueDef } from '../../infra/queues.js';
import { QUEUES } from '../../infra/queues.js';
import { startLocalSqs, startSqsPoller, batchFailures, type LocalSqs, type SqsPoller } from '../../local/sqs.js';
import type { AnyHandler } from '../../local/lambda.js';

const started: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  for (const s of started.splice(0).reverse()) await s.stop();
});

function queueDef(name: string, over: Partial<QueueDef> = {}): QueueDef {
  return {
    name,
    fifo: false,
    consumer: `test.${name.replace(/\W/g, '')}`,
    access: [],
    batchSize: 10,
    maxReceiveCount: 2,
    visibilityTimeoutSeconds: 1,
    urlEnv: 'UNUSED',
    ...over,
  };
}

async function world(defs: QueueDef[], handler: AnyHandler): Promise<{ sqs: LocalSqs; poller: SqsPoller }> {
  const sqs = await startLocalSqs({ queues: defs });
  started.push(sqs);
  const poller = startSqsPoller({ client: sqs.client, queues: sqs.queues.values(), resolveHandler: async () => handler });
  started.push(poller);
  return { sqs, poller };
}

async function until(cond: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function drain(sqs: LocalSqs, url: string): Promise<string[]> {
  const out = await sqs.client.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
  return (out.Messages ?? []).map((m) => m.Body ?? '');
}

describe('local SQS', () => {
  it('creates every infra/queues.ts row with its dead-letter queue', async () => {
    // Prepare / Act
    const sqs = await startLocalSqs({ queues: QUEUES });
    started.push(sqs);
    // Assess
    for (const def of QUEUES) {
      const q = sqs.queues.get(def.name);
      expect(q?.url).toContain(sqs.endpoint);
      expect(q?.name.endsWith('.fifo')).toBe(def.fifo);
      expect(q?.dlqName.endsWith('.fifo')).toBe(def.fifo);
      expect(q?.arn).toMatch(/^arn:aws:sqs:us-east-1:123456789012:/);
    }
  });

  it('batchFailures reads partial batch responses as Lambda does', () => {
    // Prepare
    const ids = new Set(['a', 'b']);
    // Act / Assess
    expect([...batchFailures(undefined, ids, 'q')]).toEqual([]);
    expect([...batchFailures({ batchItemFailures: [] }, ids, 'q')]).toEqual([]);
    expect([...batchFailures({ batchItemFailures: [{ itemIdentifier: 'b' }] }, ids, 'q')]).toEqual(['b']);
    expect([...batchFailures({ batchItemFailures: [{ itemIdentifier: 'zzz' }] }, ids, 'q')].sort()).toEqual(['a', 'b']);
    expect([...batchFailures({ batchItemFailures: [{ itemIdentifier: '' }] }, ids, 'q')].sort()).toEqual(['a', 'b']);
  });

  it('a record failed by the consumer comes back, then lands in the DLQ after maxReceiveCount; the others are processed once', async () => {
    // Prepare
    const def = queueDef('partial', { maxReceiveCount: 2, visibilityTimeoutSeconds: 1 });
    const seen = new Map<string, number>();
    let shape: SQSEvent | undefined;
    const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
      shape ??= event;
      for (const r of event.Records) seen.set(r.body, (seen.get(r.body) ?? 0) + 1);
      return { batchItemFailures: event.Records.filter((r) => r.body === 'poison').map((r) => ({ itemIdentifier: r.messageId })) };
    };
    const { sqs } = await world([def], handler);
    const q = sqs.queues.get(def.name)!;
    // Act
    await sqs.client.send(
      new SendMessageBatchCommand({
        QueueUrl: q.url,
        Entries: ['ok-1', 'poison', 'ok-2'].map((body, i) => ({ Id: String(i), MessageBody: body })),
      }),
    );
    await until(async () => (seen.get('poison') ?? 0) >= 2, 10_000);
    let inDlq: string[] = [];
    await until(async () => {
      inDlq = inDlq.concat(await drain(sqs, q.dlqUrl));
      return inDlq.length > 0;
    }, 10_000);
    // Assess
    expect(seen.get('ok-1')).toBe(1);
    expect(seen.get('ok-2')).toBe(1);
    expect(seen.get('poison')).toBe(2);
    expect(inDlq).toEqual(['poison']);
    const r = shape!.Records[0]!;
    expect(r).toMatchObject({ eventSource: 'aws:sqs', eventSourceARN: q.arn, awsRegion: 'us-east-1' });
    expect(r.messageId).toEqual(expect.any(String));
    expect(r.receiptHandle).toEqual(expect.any(String));
    expect(r.md5OfBody).toMatch(/^[0-9a-f]{32}$/);
    expect(r.attributes.ApproximateReceiveCount).toBe('1');
    expect(r.attributes.SentTimestamp).toMatch(/^\d+$/);
  });

  it('a thrown error redelivers the whole batch', async () => {
    // Prepare
    const def = queueDef('throws', { maxReceiveCount: 5, visibilityTimeoutSeconds: 1 });
    const deliveries: string[][] = [];
    const handler = async (event: SQSEvent) => {
      deliveries.push(event.Records.map((r) => r.body).sort());
      if (deliveries.length === 1) throw new Error('transient failure');
    };
    const { sqs } = await world([def], handler);
    const q = sqs.queues.get(def.name)!;
    // Act
    await sqs.client.send(
      new SendMessageBatchCommand({ QueueUrl: q.url, Entries: ['a', 'b'].map((body, i) => ({ Id: String(i), MessageBody: body })) }),
    );
    await until(() => deliveries.flat().length >= 4, 10_000);
    await new Promise((r) => setTimeout(r, 1_500)); // would a third delivery come?
    // Assess
    expect(deliveries.flat().sort()).toEqual(['a', 'a', 'b', 'b']);
    expect(await drain(sqs, q.dlqUrl)).toEqual([]);
  });

  it('keeps FIFO order within a group, across a failure and its retry', async () => {
    // Prepare: the consumer fails g1's second message once, and (as AWS asks of FIFO consumers) reports
    // every later message of that group as failed too.
    const def = queueDef('ordered', { fifo: true, batchSize: 3, maxReceiveCount: 5, visibilityTimeoutSeconds: 1 });
    const processed: Record<string, string[]> = {};
    let failedOnce = false;
    const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
      const failures: string[] = [];
      const brokenGroups = new Set<string>();
      for (const r of event.Records) {
        const group = r.attributes.MessageGroupId!;
        if (brokenGroups.has(group)) {
          failures.push(r.messageId);
          continue;
        }
        if (r.body === 'g1-2' && !failedOnce) {
          failedOnce = true;
          brokenGroups.add(group);
          failures.push(r.messageId);
          continue;
        }
        (processed[group] ??= []).push(r.body);
      }
      return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
    };
    const { sqs } = await world([def], handler);
    const q = sqs.queues.get(def.name)!;
    // Act
    for (let i = 1; i <= 5; i++) {
      for (const g of ['g1', 'g2']) {
        await sqs.client.send(
          new SendMessageCommand({ QueueUrl: q.url, MessageBody: `${g}-${i}`, MessageGroupId: g, MessageDeduplicationId: `${g}-${i}` }),
        );
      }
    }
    await until(() => (processed.g1?.length ?? 0) === 5 && (processed.g2?.length ?? 0) === 5, 15_000);
    // Assess
    expect(failedOnce).toBe(true);
    expect(processed.g1).toEqual(['g1-1', 'g1-2', 'g1-3', 'g1-4', 'g1-5']);
    expect(processed.g2).toEqual(['g2-1', 'g2-2', 'g2-3', 'g2-4', 'g2-5']);
  });
});
