/**
 * The ASL interpreter and the Step Functions endpoint, driven through the real @aws-sdk/client-sfn.
 * The workflow here is the test's own (a temporary ASL file and fake task handlers); the infra/workflows.ts
 * rows are only loaded and validated.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
  type DescribeExecutionCommandOutput,
} from '@aws-sdk/client-sfn';
import { WORKFLOWS, type WorkflowDef } from '../../infra/workflows.js';
import { LocalStepFunctions, executionArn, findTaskStates, loadWorkflow, startSfnEndpoint, type SfnEndpoint } from '../../local/stepfunctions.js';
import { ExecutionJournal } from '../../local/sfn-journal.js';
import { localClientConfig, REPO_ROOT } from '../../local/aws.js';
import type { AnyHandler } from '../../local/lambda.js';

describe('infra/workflows.ts', () => {
  it.each(WORKFLOWS.map((w) => [w.name, w]))('%s: the ASL validates and every Task is bound to a declared task', (_name, def) => {
    // Prepare / Act
    const loaded = loadWorkflow(def, REPO_ROOT);
    // Assess
    expect(loaded.taskStates.size).toBeGreaterThan(0);
    for (const key of loaded.taskStates.values()) expect(Object.keys(def.tasks)).toContain(key);
    expect(loaded.arn).toBe(`arn:aws:states:us-east-1:123456789012:stateMachine:${def.name}`);
  });
});

describe('findTaskStates', () => {
  it('walks Map Iterator / ItemProcessor and Parallel branches', () => {
    // Prepare
    const asl = {
      StartAt: 'A',
      States: {
        A: { Type: 'Task', Resource: '${One}', Next: 'M' },
        M: { Type: 'Map', Iterator: { StartAt: 'B', States: { B: { Type: 'Task', Resource: '${Two}', End: true } } }, Next: 'N' },
        N: { Type: 'Map', ItemProcessor: { StartAt: 'C', States: { C: { Type: 'Task', Resource: '${Three}', End: true } } }, Next: 'P' },
        P: { Type: 'Parallel', Branches: [{ StartAt: 'D', States: { D: { Type: 'Task', Resource: '${Four}', End: true } } }], End: true },
      },
    };
    // Act
    const found = findTaskStates(asl).map((t) => `${t.stateName}=${String(t.resource)}`);
    // Assess
    expect(found).toEqual(['A=${One}', 'B=${Two}', 'C=${Three}', 'D=${Four}']);
  });
});

describe('local Step Functions endpoint', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'compux-sfn-'));
  const calls: unknown[] = [];
  const handlers: Record<string, AnyHandler> = {
    'fake.double': async (event: { n: number }, context: { awsRequestId: string; getRemainingTimeInMillis(): number }) => {
      calls.push(event);
      expect(context.getRemainingTimeInMillis()).toBeGreaterThan(0);
      return { n: event.n, doubled: event.n * 2 };
    },
    'fake.sum': async (event: Array<{ doubled: number }>) => ({ total: event.reduce((s, x) => s + x.doubled, 0) }),
    'fake.boom': async () => {
      const err = new Error('the ledger does not balance');
      err.name = 'LedgerError';
      throw err;
    },
  };
  const def: WorkflowDef = {
    name: 'test-doubler',
    asl: path.relative(REPO_ROOT, path.join(dir, 'doubler.asl.json')),
    tasks: { DoubleFn: { handler: 'fake.double', access: [] }, SumFn: { handler: 'fake.sum', access: [] }, BoomFn: { handler: 'fake.boom', access: [] } },
    arnEnv: 'UNUSED',
  };
  writeFileSync(
    path.join(dir, 'doubler.asl.json'),
    JSON.stringify({
      StartAt: 'Fork',
      States: {
        Fork: { Type: 'Choice', Choices: [{ And: [{ Variable: '$.explode', IsPresent: true }, { Variable: '$.explode', BooleanEquals: true }], Next: 'Explode' }], Default: 'Each' },
        Explode: { Type: 'Task', Resource: '${BoomFn}', End: true },
        Each: {
          Type: 'Map',
          ItemsPath: '$.items',
          Parameters: { 'n.$': '$$.Map.Item.Value' },
          Iterator: { StartAt: 'Double', States: { Double: { Type: 'Task', Resource: '${DoubleFn}', End: true } } },
          Next: 'Sum',
        },
        Sum: { Type: 'Task', Resource: '${SumFn}', End: true },
      },
    }),
  );

  let sfn: LocalStepFunctions;
  let endpoint: SfnEndpoint;
  let client: SFNClient;
  beforeAll(async () => {
    sfn = new LocalStepFunctions({ workflows: [def], resolveHandler: async (ref) => handlers[ref]!, root: REPO_ROOT });
    endpoint = await startSfnEndpoint(sfn);
    client = new SFNClient({ ...localClientConfig(endpoint.endpoint), maxAttempts: 1 });
  });
  afterAll(async () => {
    client.destroy();
    await sfn.stop();
    await endpoint.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function finished(executionArn: string): Promise<DescribeExecutionCommandOutput> {
    for (let i = 0; i < 100; i++) {
      const out = await client.send(new DescribeExecutionCommand({ executionArn }));
      if (out.status !== 'RUNNING') return out;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('execution did not finish');
  }

  it('runs an execution started with StartExecution, tasks bound to local handlers, and describes it', async () => {
    // Prepare
    const stateMachineArn = sfn.arnOf('test-doubler');
    // Act
    const started = await client.send(new StartExecutionCommand({ stateMachineArn, name: 'run-1', input: JSON.stringify({ items: [1, 2, 3] }) }));
    const out = await finished(started.executionArn!);
    // Assess
    expect(started.executionArn).toBe('arn:aws:states:us-east-1:123456789012:execution:test-doubler:run-1');
    expect(started.startDate).toBeInstanceOf(Date);
    expect(out).toMatchObject({ status: 'SUCCEEDED' }); // on failure, shows error and cause
    expect(JSON.parse(out.output!)).toEqual({ total: 12 });
    expect(JSON.parse(out.input!)).toEqual({ items: [1, 2, 3] });
    expect(out.stopDate!.getTime()).toBeGreaterThanOrEqual(out.startDate!.getTime());
    expect(calls).toEqual(expect.arrayContaining([{ n: 1 }, { n: 2 }, { n: 3 }]));
  });

  it('reports a failing task as FAILED with the error name and a Lambda-style cause', async () => {
    // Prepare
    const stateMachineArn = sfn.arnOf('test-doubler');
    // Act
    const started = await client.send(new StartExecutionCommand({ stateMachineArn, input: JSON.stringify({ explode: true }) }));
    const out = await finished(started.executionArn!);
    // Assess
    expect(out.status).toBe('FAILED');
    expect(out.error).toBe('LedgerError');
    expect(JSON.parse(out.cause!)).toMatchObject({ errorType: 'LedgerError', errorMessage: 'the ledger does not balance' });
  });

  it('lists executions newest first and answers unknown ARNs with the SDK error types', async () => {
    // Prepare
    const stateMachineArn = sfn.arnOf('test-doubler');
    // Act
    const list = await client.send(new ListExecutionsCommand({ stateMachineArn }));
    const missingExec = client.send(new DescribeExecutionCommand({ executionArn: 'arn:aws:states:us-east-1:123456789012:execution:test-doubler:nope' }));
    const missingMachine = client.send(new StartExecutionCommand({ stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:nope' }));
    // Assess
    expect(list.executions?.length).toBeGreaterThanOrEqual(2);
    expect(list.executions?.[0]?.status).toBe('FAILED');
    await expect(missingExec).rejects.toBeInstanceOf(ExecutionDoesNotExist);
    await expect(missingMachine).rejects.toBeInstanceOf(StateMachineDoesNotExist);
  });

  it('refuses a Task whose Resource is not a ${Key} placeholder', () => {
    // Prepare
    const file = path.join(dir, 'real-arn.asl.json');
    writeFileSync(file, JSON.stringify({ StartAt: 'T', States: { T: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:123456789012:function:x', End: true } } }));
    // Act / Assess
    expect(() => loadWorkflow({ name: 'x', asl: path.relative(REPO_ROOT, file), tasks: {}, arnEnv: 'X' }, REPO_ROOT)).toThrow(/placeholders/);
  });

  it('refuses an invalid ASL definition', () => {
    // Prepare
    const file = path.join(dir, 'invalid.asl.json');
    writeFileSync(file, JSON.stringify({ StartAt: 'Missing', States: { T: { Type: 'Pass', End: true } } }));
    // Act / Assess
    expect(() => loadWorkflow({ name: 'x', asl: path.relative(REPO_ROOT, file), tasks: {}, arnEnv: 'X' }, REPO_ROOT)).toThrow(/invalid/i);
  });
});

describe('executions across a restart (local/sfn-journal.ts)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'compux-sfn-journal-'));
  const asl = path.join(dir, 'wait-then-task.asl.json');
  writeFileSync(asl, JSON.stringify({ StartAt: 'Pause', States: { Pause: { Type: 'Wait', Seconds: 3600, Next: 'Work' }, Work: { Type: 'Task', Resource: '${Work}', End: true } } }));
  const def = (name: string, resumable: boolean): WorkflowDef => ({
    name, asl, arnEnv: `${name.toUpperCase()}_ARN`, tasks: { Work: { handler: 'fake.work', access: [] } }, ...(resumable ? { resumable: true as const } : {}),
  });
  const workflows = [def('resumable-flow', true), def('one-shot-flow', false)];
  const resolveHandler = async () => (async (e: unknown) => e) as AnyHandler;
  const start = (file: string) => new LocalStepFunctions({ workflows, resolveHandler, root: dir, journal: new ExecutionJournal(file) });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('takes up a resumable execution the stop interrupted, same name and input; reports the others lost, once', async () => {
    // Prepare: two executions waiting an hour, one finished; the runtime stops.
    const file = path.join(dir, 'journal-1.jsonl');
    const first = start(file);
    first.startExecution({ stateMachineArn: first.arnOf('resumable-flow'), name: 'bkg_waiting', input: '{"booking_id":"bkg_waiting"}' });
    first.startExecution({ stateMachineArn: first.arnOf('one-shot-flow'), name: 'run-1', input: '{}' });
    const stopped = first.startExecution({ stateMachineArn: first.arnOf('resumable-flow'), name: 'bkg_stopped', input: '{}' });
    first.stopExecution(stopped.executionArn);
    await first.stop();
    // Act
    const second = start(file);
    const taken = second.resume();
    const third = start(file);
    const again = third.resume();
    // Assess
    expect(taken.resumed).toEqual([executionArn('resumable-flow', 'bkg_waiting')]);
    expect(taken.lost).toEqual([executionArn('one-shot-flow', 'run-1')]);
    const resumed = second.describeExecution(executionArn('resumable-flow', 'bkg_waiting'));
    expect([resumed.status, resumed.input]).toEqual(['RUNNING', '{"booking_id":"bkg_waiting"}']);
    // The second runtime never stopped: its execution is still running, so a third start takes it up too, nothing else.
    expect(again).toEqual({ resumed: [executionArn('resumable-flow', 'bkg_waiting')], lost: [] });
    await second.stop();
    await third.stop();
  });

  it('forgets an execution that ended, and skips a torn last line', async () => {
    // Prepare: a journal whose execution ended, then a line cut mid-write.
    const file = path.join(dir, 'journal-2.jsonl');
    const first = start(file);
    const ran = first.startExecution({ stateMachineArn: first.arnOf('resumable-flow'), name: 'bkg_done', input: '{}' });
    first.stopExecution(ran.executionArn);
    await first.stop();
    appendFileSync(file, '{"op":"start","arn":"arn:aws:states:us-east-1:123456789012:execution:resumable-flow:bkg_torn","machi');
    // Act
    const second = start(file);
    const taken = second.resume();
    // Assess
    expect(taken).toEqual({ resumed: [], lost: [] });
    await second.stop();
  });
});
