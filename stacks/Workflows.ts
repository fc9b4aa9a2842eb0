/**
 * One Step Functions state machine per row of infra/workflows.ts. The definition is the ASL file's body,
 * unchanged; its "${TaskName}" placeholders are filled with DefinitionSubstitutions pointing at one Lambda
 * per `tasks` entry (each with only its table access, and sqs:SendMessage on exactly the queues its `sends`
 * names, with their URL env vars). The state machine may invoke exactly those Lambdas.
 * Each machine logs every event (level ALL, without execution data) to its own log group and is traced
 * with X-Ray; its ASL carries the task retries (with full jitter) and the overall TimeoutSeconds.
 */
import fs from 'node:fs';
import path from 'node:path';
import { use, type StackContext, type Function as SstFunction } from 'sst/constructs';
import { useProject } from 'sst/project.js';
import { RemovalPolicy } from 'aws-cdk-lib';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { WORKFLOWS, type WorkflowDef } from '../infra/workflows.js';
import { QUEUE_SEND_ACTIONS } from '../infra/access.js';
import { Storage, PROD_STAGE } from './Storage.js';
import { Queues, type DeployedQueue } from './Queues.js';
import { constructId, relayKeyGrant, tableFunction } from './common.js';

export interface DeployedWorkflow {
  def: WorkflowDef;
  stateMachine: sfn.StateMachine;
  logGroup: logs.LogGroup;
  tasks: Record<string, SstFunction>;
}

/** The "${Name}" placeholders of an ASL document (DefinitionSubstitutions syntax). */
export function aslPlaceholders(asl: string): string[] {
  return [...new Set([...asl.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1] as string))].sort();
}

export function readAsl(def: WorkflowDef, root: string): string {
  const body = fs.readFileSync(path.resolve(root, def.asl), 'utf8');
  JSON.parse(body); // fail the synth on a malformed file
  return body;
}

/**
 * A task's `sends` as its function's grant: sqs:SendMessage on exactly those queues and their URL env vars, as a
 * schedule's handler target gets. An unknown queue name fails the synth.
 */
export function taskSends(task: string, sends: readonly string[], queues: Readonly<Record<string, Pick<DeployedQueue, 'def' | 'queue'>>>): {
  environment: Record<string, string>;
  statements: PolicyStatement[];
} {
  const environment: Record<string, string> = {};
  const statements: PolicyStatement[] = [];
  for (const name of new Set(sends)) {
    const q = queues[name];
    if (!q) throw new Error(`task ${task}: sends to unknown queue "${name}" (infra/queues.ts)`);
    environment[q.def.urlEnv] = q.queue.queueUrl;
    statements.push(new PolicyStatement({ effect: Effect.ALLOW, actions: [...QUEUE_SEND_ACTIONS], resources: [q.queue.queueArn] }));
  }
  return { environment, statements };
}

export function Workflows({ stack, app }: StackContext) {
  const { cdkTable, relayKek } = use(Storage);
  const { queues } = use(Queues);
  const root = useProject().paths.root;
  const isProd = app.stage === PROD_STAGE;
  const workflows: Record<string, DeployedWorkflow> = {};

  for (const def of WORKFLOWS) {
    const asl = readAsl(def, root);
    const declared = Object.keys(def.tasks).sort();
    const used = aslPlaceholders(asl);
    const undeclared = used.filter((p) => !declared.includes(p));
    if (undeclared.length > 0) {
      throw new Error(`${def.asl} uses placeholders with no task in infra/workflows.ts: ${undeclared.join(', ')}`);
    }

    const tasks: Record<string, SstFunction> = {};
    for (const [taskName, task] of Object.entries(def.tasks)) {
      const sends = taskSends(`${def.name}.${taskName}`, task.sends ?? [], queues);
      // The probing tasks sign relay tokens: the KMS actions of `relayKey` on the key-encryption key, and its id.
      const relay = relayKeyGrant(task.relayKey, relayKek);
      tasks[taskName] = tableFunction(stack, constructId('Task', def.name, taskName), {
        handler: task.handler,
        access: task.access,
        table: cdkTable,
        environment: { ...sends.environment, ...relay.environment },
        statements: [...sends.statements, ...relay.statements],
        ...(task.timeout_s ? { timeout: task.timeout_s } : {}),
      });
    }

    // Every event of every execution (level ALL) but never its data: inputs and outputs carry money figures
    // and provider details, so includeExecutionData is off (the task Lambdas log what they need).
    const logGroup = new logs.LogGroup(stack, constructId('StateMachineLogs', def.name), {
      logGroupName: `/aws/vendedlogs/states/${app.logicalPrefixedName(def.name)}`,
      retention: isProd ? logs.RetentionDays.ONE_YEAR : logs.RetentionDays.TWO_WEEKS,
      removalPolicy: isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    const stateMachine = new sfn.StateMachine(stack, constructId('StateMachine', def.name), {
      stateMachineName: app.logicalPrefixedName(def.name),
      definitionBody: sfn.DefinitionBody.fromString(asl),
      definitionSubstitutions: Object.fromEntries(Object.entries(tasks).map(([name, fn]) => [name, fn.functionArn])),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    const functionArns = Object.values(tasks).map((fn) => fn.functionArn);
    if (functionArns.length > 0) {
      stateMachine.addToRolePolicy(
        new PolicyStatement({ effect: Effect.ALLOW, actions: ['lambda:InvokeFunction'], resources: functionArns }),
      );
    }

    workflows[def.name] = { def, stateMachine, logGroup, tasks };
    stack.addOutputs({ [constructId(def.name, 'arn')]: stateMachine.stateMachineArn });
  }

  return { workflows };
}
