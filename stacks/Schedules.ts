/**
 * One EventBridge rule per row of infra/schedules.ts, with the row's rate()/cron() expression unchanged.
 * The target is either a Lambda (handler + its table access) or a state machine from stacks/Workflows.ts
 * (the rule's role may only states:StartExecution on that machine).
 *
 * Guardrails (SPEC §9): every target has a retry policy and the one schedule dead-letter queue (SQS, SSE,
 * TLS only; alarmed by stacks/Monitoring.ts). A row with `overlap: false` gets reserved concurrency 1, and its
 * asynchronous invocations a maximum event age of 60 s: a fire during a run is throttled, waits in Lambda's
 * async queue at most a minute, then is dropped (the next fire does the work). The local scheduler skips it.
 */
import { use, type StackContext, type Function as SstFunction } from 'sst/constructs';
import { Duration } from 'aws-cdk-lib';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { SCHEDULES, type ScheduleDef } from '../infra/schedules.js';
import { Storage } from './Storage.js';
import { Workflows } from './Workflows.js';
import { Queues } from './Queues.js';
import { QUEUE_SEND_ACTIONS } from '../infra/access.js';
import { constructId, relayKeyGrant, tableFunction } from './common.js';

/** EventBridge's delivery retries per target: a minute schedule's event is stale after a minute, a workflow's is not. */
export function targetRetryPolicy(def: ScheduleDef): { maxEventAge: Duration; retryAttempts: number } {
  return def.overlap === false
    ? { maxEventAge: Duration.minutes(1), retryAttempts: 2 }
    : { maxEventAge: Duration.hours(2), retryAttempts: 8 };
}

export function Schedules({ stack, app }: StackContext) {
  const { cdkTable, relayKek } = use(Storage);
  const { workflows } = use(Workflows);
  const { queues } = use(Queues);
  const rules: Record<string, events.Rule> = {};
  const functions: Record<string, SstFunction> = {};

  // Events EventBridge could not deliver after its retries (every target of this stack).
  const deadLetterQueue = new sqs.Queue(stack, 'ScheduleTargetsDlq', {
    queueName: app.logicalPrefixedName('schedule-targets-dlq'),
    retentionPeriod: Duration.days(14),
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
  });

  for (const def of SCHEDULES) {
    const delivery = { ...targetRetryPolicy(def), deadLetterQueue };
    const target = (() => {
      if ('workflow' in def.target) {
        if (def.overlap === false) throw new Error(`schedule ${def.name}: overlap: false applies to handler targets only`);
        const w = workflows[def.target.workflow];
        if (!w) throw new Error(`schedule ${def.name}: unknown workflow "${def.target.workflow}" (infra/workflows.ts)`);
        return new targets.SfnStateMachine(w.stateMachine, delivery);
      }
      // A handler that sends (the webhook sweeper): sqs:SendMessage on exactly its row's queues, and their URLs.
      const environment: Record<string, string> = {};
      const statements: PolicyStatement[] = [];
      for (const name of new Set(def.target.sends ?? [])) {
        const q = queues[name];
        if (!q) throw new Error(`schedule ${def.name}: sends to unknown queue "${name}" (infra/queues.ts)`);
        environment[q.def.urlEnv] = q.queue.queueUrl;
        statements.push(new PolicyStatement({ effect: Effect.ALLOW, actions: [...QUEUE_SEND_ACTIONS], resources: [q.queue.queueArn] }));
      }
      // A handler that signs relay tokens (the SLA probes): the KMS actions of its `relayKey`, and the key's id.
      const relay = relayKeyGrant(def.target.relayKey, relayKek);
      Object.assign(environment, relay.environment);
      statements.push(...relay.statements);
      const fn = tableFunction(stack, constructId('Scheduled', def.name), {
        handler: def.target.handler,
        access: def.target.access,
        table: cdkTable,
        environment,
        statements,
        ...(def.target.timeout_s ? { timeout: def.target.timeout_s } : {}),
        ...(def.overlap === false ? { reservedConcurrentExecutions: 1, maxEventAge: Duration.minutes(1), retryAttempts: 0 } : {}),
      });
      functions[def.name] = fn;
      return new targets.LambdaFunction(fn, delivery);
    })();

    rules[def.name] = new events.Rule(stack, constructId('Rule', def.name), {
      ruleName: app.logicalPrefixedName(def.name),
      description: def.description,
      schedule: events.Schedule.expression(def.expression),
      targets: [target],
    });
  }

  return { rules, functions, deadLetterQueue };
}
