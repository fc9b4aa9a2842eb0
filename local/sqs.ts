/**
 * SQS, locally: the local-aws-sqs server (in-process, in-memory), one queue + dead-letter queue per row of
 * infra/queues.ts (as stacks/Queues.ts deploys them), and a poller that plays Lambda's SQS event source
 * mapping with ReportBatchItemFailures.
 *
 * What the poller does, like the event source mapping:
 * - receives up to batchSize messages (all system and message attributes) and invokes the row's consumer
 *   with a real SQSEvent (Records with messageId, receiptHandle, body, attributes incl. MessageGroupId,
 *   messageAttributes, md5OfBody, eventSource, eventSourceARN, awsRegion);
 * - on `{ batchItemFailures: [{ itemIdentifier }] }` deletes only the other messages; the failed ones become
 *   visible again after the queue's visibility timeout; an invalid response (an identifier that is empty or
 *   not in the batch) fails the whole batch, as Lambda does;
 * - a thrown error or a timeout fails the whole batch (nothing deleted);
 * - after maxReceiveCount receives a message is moved to the dead-letter queue by the server itself
 *   (local-aws-sqs implements RedrivePolicy: when a message's visibility timeout expires and its receive
 *   count has reached maxReceiveCount, it goes to the DLQ), so the poller never moves messages itself.
 *
 * Where the local server differs from SQS, and how the poller compensates:
 * - local-aws-sqs does not lock a FIFO message group while one of its messages is in flight (SQS does), so
 *   concurrent receivers could see a group out of order. The poller therefore runs one batch at a time per
 *   queue, and after a FIFO batch with any failure it pauses that queue until the failed messages are
 *   visible again: the next receive then starts with them, in order. (SQS would only hold back the failed
 *   group; locally all groups of that queue wait for one visibility timeout.)
 * - its long poll returns only when the batch is full or the wait ends (SQS returns as soon as any message
 *   is there), and the messages it collects meanwhile are already invisible, so their visibility timeout
 *   runs out while the poll is still waiting. The poller therefore short-polls (WaitTimeSeconds 0, which
 *   answers within ~40 ms) and sleeps IDLE_POLL_MS between empty polls: delivery latency stays under a
 *   quarter second and a message's visibility timeout starts when its handler is about to get it.
 */
import type { Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { createSqsServer } from 'local-aws-sqs';
import type { QueueDef } from '../infra/queues.js';
import { LOCAL_ACCOUNT_ID, LOCAL_HOST, LOCAL_REGION, localClientConfig, sleep } from './aws.js';
import { createLambdaContext, functionNameFor, invokeHandler, logInvokeError, type HandlerResolver } from './lambda.js';
import type { LocalGrants } from './grants.js';
import { nowMs } from '../packages/core/src/clock.js';

/** SQS's cap on MaxNumberOfMessages; a larger batchSize needs a batching window, which we do not emulate. */
const MAX_RECEIVE_BATCH = 10;
/** Dead-letter retention, as stacks/Queues.ts sets it (14 days, SQS's maximum). */
const DLQ_RETENTION_SECONDS = 14 * 24 * 3600;
/** ReceiveMessage WaitTimeSeconds (see file comment: the local server's long poll is not SQS's). */
const DEFAULT_WAIT_SECONDS = 0;
/** Pause after an empty short poll: bounds delivery latency and keeps idle polling cheap. */
const IDLE_POLL_MS = 200;
/** Back-off after a failed ReceiveMessage (server gone, etc.), so a broken poll does not spin. */
const RECEIVE_ERROR_BACKOFF_MS = 1_000;
/** Time allowed for createSqsServer to listen (it never rejects on a listen error, so bound it). */
const LISTEN_TIMEOUT_MS = 5_000;

export interface LocalQueue {
  def: QueueDef;
  name: string;
  url: string;
  arn: string;
  dlqName: string;
  dlqUrl: string;
  dlqArn: string;
}

export interface LocalSqs {
  endpoint: string;
  server: Server;
  client: SQSClient;
  queues: Map<string, LocalQueue>;
  stop(): Promise<void>;
}

export interface LocalSqsOptions {
  queues: readonly QueueDef[];
  /** Default: a free port (0). */
  port?: number;
  host?: string;
}

export function queueNames(def: QueueDef): { name: string; dlqName: string } {
  const suffix = def.fifo ? '.fifo' : '';
  return { name: `${def.name}${suffix}`, dlqName: `${def.name}-dlq${suffix}` };
}

/** Lambda timeout of a consumer, as stacks/Queues.ts computes it (consumerTimeoutSeconds): visibility / 6, at least 1 s. */
export function consumerTimeoutSeconds(def: QueueDef): number {
  return Math.max(1, Math.floor(def.visibilityTimeoutSeconds / 6));
}

export async function startLocalSqs(opts: LocalSqsOptions): Promise<LocalSqs> {
  const host = opts.host ?? LOCAL_HOST;
  const server = await withTimeout(
    createSqsServer({
      port: opts.port ?? 0,
      hostname: host,
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT_ID,
      validateDlqDestination: true,
      // Local queues are made once per start; AWS's 60 s wait before re-creating a deleted name only gets in the way.
      emulateQueueCreationLifecycle: false,
    }),
    LISTEN_TIMEOUT_MS,
    `local SQS server could not listen on ${host}:${opts.port ?? 0}`,
  );
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const endpoint = `http://${host}:${port}`;
  const client = new SQSClient({ ...localClientConfig(endpoint), maxAttempts: 1 });

  const queues = new Map<string, LocalQueue>();
  try {
    for (const def of opts.queues) queues.set(def.name, await createQueuePair(client, def));
  } catch (err) {
    client.destroy();
    await closeServer(server);
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    server,
    client,
    queues,
    stop: () => {
      stopping ??= (async () => {
        client.destroy();
        await closeServer(server);
      })();
      return stopping;
    },
  };
}

async function createQueuePair(client: SQSClient, def: QueueDef): Promise<LocalQueue> {
  if (!Number.isInteger(def.maxReceiveCount) || def.maxReceiveCount < 1 || def.maxReceiveCount > 1000) {
    throw new Error(`queue ${def.name}: maxReceiveCount must be 1..1000 (SQS's range)`);
  }
  const { name, dlqName } = queueNames(def);
  const fifo: Record<string, string> = def.fifo ? { FifoQueue: 'true', ContentBasedDeduplication: 'false' } : {};
  const dlq = await client.send(
    new CreateQueueCommand({ QueueName: dlqName, Attributes: { ...fifo, MessageRetentionPeriod: String(DLQ_RETENTION_SECONDS) } }),
  );
  const dlqUrl = dlq.QueueUrl as string;
  const dlqArn = await queueArn(client, dlqUrl);
  const main = await client.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        ...fifo,
        VisibilityTimeout: String(def.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: def.maxReceiveCount }),
      },
    }),
  );
  const url = main.QueueUrl as string;
  return { def, name, url, arn: await queueArn(client, url), dlqName, dlqUrl, dlqArn };
}

async function queueArn(client: SQSClient, url: string): Promise<string> {
  const out = await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  const arn = out.Attributes?.QueueArn;
  if (!arn) throw new Error(`no QueueArn for ${url}`);
  return arn;
}

export interface PollerOptions {
  client: SQSClient;
  queues: Iterable<LocalQueue>;
  resolveHandler: HandlerResolver;
  /** ReceiveMessage WaitTimeSeconds (0..20). Default 0 (see file comment). */
  waitTimeSeconds?: number;
  /** Enforce each consumer's grant (its queue row's access and sends) on its SDK calls (local/grants.ts). */
  grants?: LocalGrants;
}

export interface SqsPoller {
  stop(): Promise<void>;
}

/** Starts one receive loop per queue; stop() aborts the polls and waits for batches in progress to finish. */
export function startSqsPoller(opts: PollerOptions): SqsPoller {
  const abort = new AbortController();
  const wait = Math.min(20, Math.max(0, opts.waitTimeSeconds ?? DEFAULT_WAIT_SECONDS));
  const loops = [...opts.queues].map((q) => pollQueue(q, opts, wait, abort.signal));
  let stopping: Promise<void> | undefined;
  return {
    stop: () => {
      stopping ??= (async () => {
        abort.abort();
        await Promise.allSettled(loops);
      })();
      return stopping;
    },
  };
}

async function pollQueue(q: LocalQueue, opts: PollerOptions, waitTimeSeconds: number, signal: AbortSignal): Promise<void> {
  const batchSize = Math.min(MAX_RECEIVE_BATCH, Math.max(1, q.def.batchSize));
  const timeoutMs = consumerTimeoutSeconds(q.def) * 1000;
  const functionName = functionNameFor(q.def.consumer);
  while (!signal.aborted) {
    let messages: Message[];
    try {
      const out = await opts.client.send(
        new ReceiveMessageCommand({
          QueueUrl: q.url,
          MaxNumberOfMessages: batchSize,
          WaitTimeSeconds: waitTimeSeconds,
          AttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
        { abortSignal: signal },
      );
      messages = out.Messages ?? [];
    } catch (err) {
      if (signal.aborted) break;
      console.error(`[sqs] receive from ${q.name} failed: ${(err as Error).message}`);
      await sleep(RECEIVE_ERROR_BACKOFF_MS, signal);
      continue;
    }
    if (messages.length === 0) {
      if (waitTimeSeconds === 0) await sleep(IDLE_POLL_MS, signal); // a short poll must not spin
      continue;
    }

    const event = toSqsEvent(messages, q);
    const ids = new Set(event.Records.map((r) => r.messageId));
    let failed: Set<string>;
    try {
      const handler = await opts.resolveHandler(q.def.consumer);
      const context = createLambdaContext({ functionName, timeoutMs });
      const grant = opts.grants?.for({ handler: q.def.consumer, access: q.def.access, sends: q.def.sends ?? [] });
      const result = await invokeHandler<SQSBatchResponse | undefined>(handler, event, context, timeoutMs, grant);
      failed = batchFailures(result, ids, q.name);
    } catch (err) {
      logInvokeError(`sqs ${q.name}`, err);
      failed = ids; // the whole batch is retried
    }
    if (q.def.fifo) warnOnFifoSuccessAfterFailure(event.Records, failed, q.name);

    const done = event.Records.filter((r) => !failed.has(r.messageId));
    try {
      await deleteMessages(opts.client, q.url, done);
    } catch (err) {
      // Not deleted: they come back after the visibility timeout (at-least-once, as in AWS).
      console.error(`[sqs] delete from ${q.name} failed: ${(err as Error).message}`);
    }
    if (q.def.fifo && failed.size > 0) {
      // Keep group order (see file comment): nothing more from this queue until the failed ones are visible again.
      await sleep(q.def.visibilityTimeoutSeconds * 1000 + 100, signal);
    }
  }
}

/** Lambda's reading of a partial batch response: which messages failed. */
export function batchFailures(result: unknown, ids: ReadonlySet<string>, queue: string): Set<string> {
  if (result === null || result === undefined || typeof result !== 'object') return new Set();
  const list = (result as Partial<SQSBatchResponse>).batchItemFailures;
  if (list === null || list === undefined) return new Set();
  if (!Array.isArray(list)) {
    console.error(`[sqs] ${queue}: batchItemFailures is not an array: the whole batch fails`);
    return new Set(ids);
  }
  const failed = new Set<string>();
  for (const item of list) {
    const id = (item as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || id === '' || !ids.has(id)) {
      console.error(`[sqs] ${queue}: invalid itemIdentifier ${JSON.stringify(id)}: the whole batch fails (as Lambda treats it)`);
      return new Set(ids);
    }
    failed.add(id);
  }
  return failed;
}

/** AWS requires a FIFO consumer to stop at a group's first failure; say so when a handler reports otherwise. */
function warnOnFifoSuccessAfterFailure(records: readonly SQSRecord[], failed: ReadonlySet<string>, queue: string): void {
  const failedGroups = new Set<string>();
  for (const r of records) {
    const group = r.attributes.MessageGroupId ?? '';
    if (failed.has(r.messageId)) failedGroups.add(group);
    else if (failedGroups.has(group)) {
      console.warn(`[sqs] ${queue}: message ${r.messageId} of group ${group} succeeded after an earlier failure in its group; it is deleted, so the group is now out of order. A FIFO consumer must report every message after the first failure as failed.`);
    }
  }
}

async function deleteMessages(client: SQSClient, url: string, records: readonly SQSRecord[]): Promise<void> {
  for (let i = 0; i < records.length; i += MAX_RECEIVE_BATCH) {
    const chunk = records.slice(i, i + MAX_RECEIVE_BATCH);
    const out = await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: url,
        Entries: chunk.map((r, n) => ({ Id: String(n), ReceiptHandle: r.receiptHandle })),
      }),
    );
    for (const f of out.Failed ?? []) console.error(`[sqs] delete failed for entry ${f.Id}: ${f.Code} ${f.Message ?? ''}`);
  }
}

/** The SQSEvent Lambda builds from received messages. */
export function toSqsEvent(messages: readonly Message[], q: Pick<LocalQueue, 'arn'>): SQSEvent {
  return {
    Records: messages.map((m): SQSRecord => {
      const attrs = m.Attributes ?? {};
      const record: SQSRecord = {
        messageId: m.MessageId ?? randomUUID(),
        receiptHandle: m.ReceiptHandle ?? '',
        body: m.Body ?? '',
        attributes: {
          ApproximateReceiveCount: attrs.ApproximateReceiveCount ?? '1',
          SentTimestamp: attrs.SentTimestamp ?? String(nowMs()),
          SenderId: attrs.SenderId ?? LOCAL_ACCOUNT_ID,
          ApproximateFirstReceiveTimestamp: attrs.ApproximateFirstReceiveTimestamp ?? String(nowMs()),
          ...(attrs.SequenceNumber !== undefined ? { SequenceNumber: attrs.SequenceNumber } : {}),
          ...(attrs.MessageGroupId !== undefined ? { MessageGroupId: attrs.MessageGroupId } : {}),
          ...(attrs.MessageDeduplicationId !== undefined ? { MessageDeduplicationId: attrs.MessageDeduplicationId } : {}),
          ...(attrs.AWSTraceHeader !== undefined ? { AWSTraceHeader: attrs.AWSTraceHeader } : {}),
          ...(attrs.DeadLetterQueueSourceArn !== undefined ? { DeadLetterQueueSourceArn: attrs.DeadLetterQueueSourceArn } : {}),
        },
        messageAttributes: Object.fromEntries(
          Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [
            k,
            {
              dataType: v.DataType ?? 'String',
              ...(v.StringValue !== undefined ? { stringValue: v.StringValue } : {}),
              ...(v.BinaryValue !== undefined ? { binaryValue: Buffer.from(v.BinaryValue).toString('base64') } : {}),
              stringListValues: v.StringListValues ?? [],
              binaryListValues: (v.BinaryListValues ?? []).map((b) => Buffer.from(b).toString('base64')),
            },
          ]),
        ),
        md5OfBody: m.MD5OfBody ?? '',
        eventSource: 'aws:sqs',
        eventSourceARN: q.arn,
        awsRegion: LOCAL_REGION,
      };
      if (m.MD5OfMessageAttributes) record.md5OfMessageAttributes = m.MD5OfMessageAttributes;
      return record;
    }),
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(message)), ms);
    t.unref();
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
