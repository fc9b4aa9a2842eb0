/**
 * startRuntime wiring, with the test's own tables and fixture handlers (test/local/fixtures), against the
 * run's shared DynamoDB Local: the handlers reach DynamoDB, SQS and Step Functions through nothing but the
 * environment the runtime sets, as functions/*.ts do. (The runtime with the real infra/ tables and
 * functions/*.ts is exercised elsewhere.)
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHash } from 'node:crypto';
import { startRuntime, type Runtime } from '../../local/runtime.js';

const H = 'test/local/fixtures/runtime-handlers';
let rt: Runtime;

beforeAll(async () => {
  rt = await startRuntime({
    port: 0,
    dynamodbEndpoint: inject('dynamodbEndpoint'),
    tableName: `runtime-test-${Date.now().toString(36)}`,
    adminKey: 'cx_op_test-key',
    scheduler: false,
    tables: {
      routes: [
        { method: 'GET', path: '/env', handler: `${H}.env` },
        { method: 'POST', path: '/enqueue', handler: `${H}.enqueue` },
        { method: 'POST', path: '/start', handler: `${H}.start` },
        { method: 'GET', path: '/items/{pk}', handler: `${H}.item` },
      ],
      queues: [
        { name: 'rt-test', fifo: false, consumer: `${H}.consume`, access: [], batchSize: 10, maxReceiveCount: 3, visibilityTimeoutSeconds: 6, urlEnv: 'RT_TEST_QUEUE_URL' },
      ],
      workflows: [
        { name: 'rt-store', asl: 'test/local/fixtures/store.asl.json', tasks: { StoreFn: { handler: `${H}.task`, access: [] } }, arnEnv: 'RT_TEST_FLOW_ARN' },
      ],
      schedules: [],
    },
  });
});
afterAll(async () => {
  await rt?.stop();
});

async function eventually(url: string, ms: number): Promise<Response> {
  const end = Date.now() + ms;
  for (;;) {
    const res = await fetch(url);
    if (res.status === 200 || Date.now() > end) return res;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('startRuntime', () => {
  it('sets the environment the handlers read', async () => {
    // Prepare / Act
    const res = await fetch(`${rt.baseUrl}/env`);
    // Assess
    expect(await res.json()).toEqual({ table: rt.tableName, adminSha: createHash('sha256').update('cx_op_test-key').digest('hex') });
    expect(process.env.RT_TEST_QUEUE_URL).toBe(rt.queues.get('rt-test')?.url);
    expect(process.env.RT_TEST_FLOW_ARN).toBe('arn:aws:states:us-east-1:123456789012:stateMachine:rt-store');
    expect(process.env.AWS_ENDPOINT_URL_SQS).toBe(rt.endpoints.sqs);
    expect(process.env.AWS_ENDPOINT_URL_SFN).toBe(rt.endpoints.sfn);
    expect(process.env.AWS_ENDPOINT_URL_DYNAMODB).toBe(rt.endpoints.dynamodb);
  });

  it('route -> SQS -> consumer -> DynamoDB', async () => {
    // Prepare
    const body = `m-${Date.now()}`;
    // Act
    const sent = await fetch(`${rt.baseUrl}/enqueue`, { method: 'POST', body });
    const stored = await eventually(`${rt.baseUrl}/items/${encodeURIComponent(`MSG#${body}`)}`, 10_000);
    // Assess
    expect(sent.status).toBe(202);
    expect(stored.status).toBe(200);
    expect(await stored.json()).toEqual({ pk: `MSG#${body}`, sk: 'MSG' });
  });

  it('route -> Step Functions (client-sfn) -> task -> DynamoDB', async () => {
    // Prepare
    const id = `t-${Date.now()}`;
    // Act
    const started = await fetch(`${rt.baseUrl}/start`, { method: 'POST', body: JSON.stringify({ id }) });
    const { executionArn } = (await started.json()) as { executionArn: string };
    const stored = await eventually(`${rt.baseUrl}/items/${encodeURIComponent(`TASK#${id}`)}`, 10_000);
    // Assess
    expect(started.status).toBe(202);
    expect(stored.status).toBe(200);
    const exec = rt.stepFunctions.describeExecution(executionArn);
    await exec.done;
    expect(exec.status).toBe('SUCCEEDED');
    expect(JSON.parse(exec.output!)).toEqual({ stored: id });
  });

  it('refuses to start when a handler reference does not resolve, naming it', async () => {
    // Prepare / Act
    const failing = startRuntime({
      port: 0,
      dynamodbEndpoint: inject('dynamodbEndpoint'),
      tableName: `runtime-test-bad-${Date.now().toString(36)}`,
      scheduler: false,
      tables: { routes: [{ method: 'GET', path: '/x', handler: `${H}.missingExport` }], queues: [], workflows: [], schedules: [] },
    });
    // Assess
    await expect(failing).rejects.toThrow(/missingExport/);
  });
});
