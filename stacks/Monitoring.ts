/**
 * The production guardrails' alarms (SPEC §9), all to one SNS topic (alarm and OK actions; missing data is
 * not breaching):
 * - every dead-letter queue (each queue's DLQ from stacks/Queues.ts, the schedule targets' DLQ from
 *   stacks/Schedules.ts): ApproximateNumberOfMessagesVisible > 0;
 * - every function of every stack (routes, schedules, workflow tasks, queue consumers): Errors and Throttles;
 * - the API stage: 5XXError;
 * - every state machine (the ledger audit included): ExecutionsFailed, ExecutionsTimedOut, ExecutionsAborted.
 *
 * The topic is encrypted with a customer-managed KMS key (rotated) whose policy lets CloudWatch publish, and
 * its policy denies any request without TLS. COMPUX_ALARM_EMAIL (read at synth, like the operator key)
 * subscribes one address; without it the topic has no subscription (subscribe later by hand or by a deploy).
 * The alarms live in this stack so the service stacks keep their resource headroom; each alarm names its
 * function / queue / state machine through a cross-stack reference. A route function is named through its ARN
 * export (the one the Api stack imports it by), so a route costs the ApiFunctions stack one output, not two.
 */
import { use, type StackContext } from 'sst/constructs';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { Api } from './Api.js';
import { ApiFunctions } from './ApiFunctions.js';
import { Queues } from './Queues.js';
import { Schedules } from './Schedules.js';
import { PROD_STAGE } from './Storage.js';
import { Workflows } from './Workflows.js';
import { constructId, importFunction } from './common.js';

/** The address alarm notifications go to, read at synth; empty: no subscription. A malformed value fails the synth. */
export function alarmEmail(): string {
  const value = (process.env.COMPUX_ALARM_EMAIL ?? '').trim();
  if (value !== '' && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value)) {
    throw new Error('COMPUX_ALARM_EMAIL must be one e-mail address');
  }
  return value;
}

/** Every alarm's period: five minutes, one period to alarm. */
const PERIOD = Duration.minutes(5);

export function Monitoring({ stack, app }: StackContext) {
  const { api } = use(Api);
  const { functions: routeFunctions } = use(ApiFunctions);
  const { queues } = use(Queues);
  const { workflows } = use(Workflows);
  const { functions: scheduleFunctions, deadLetterQueue: scheduleDlq } = use(Schedules);

  const key = new kms.Key(stack, 'AlarmTopicKey', {
    description: `CompuX alarm topic (${app.stage})`,
    enableKeyRotation: true,
    removalPolicy: app.stage === PROD_STAGE ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  });
  // CloudWatch publishes alarm state changes to the encrypted topic.
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
    }),
  );
  const topic = new sns.Topic(stack, 'AlarmTopic', {
    topicName: app.logicalPrefixedName('alarms'),
    displayName: `CompuX alarms (${app.stage})`,
    masterKey: key,
    enforceSSL: true,
  });
  const email = alarmEmail();
  if (email !== '') topic.addSubscription(new subscriptions.EmailSubscription(email));
  const action = new SnsAction(topic);

  const alarm = (scope: Construct, id: string, metric: cloudwatch.IMetric, description: string) => {
    const a = new cloudwatch.Alarm(scope, id, {
      alarmName: app.logicalPrefixedName(id),
      alarmDescription: description,
      metric,
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    a.addAlarmAction(action);
    a.addOkAction(action);
    return a;
  };

  // Dead-letter queues.
  const deadLetterQueues: Record<string, sqs.IQueue> = {
    ...Object.fromEntries(Object.entries(queues).map(([name, q]) => [name, q.deadLetterQueue])),
    'schedule-targets': scheduleDlq,
  };
  for (const [name, q] of Object.entries(deadLetterQueues)) {
    alarm(
      stack,
      constructId('Dlq', name),
      q.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: cloudwatch.Stats.MAXIMUM }),
      `Messages in the ${name} dead-letter queue`,
    );
  }

  // Every function: Errors and Throttles.
  const functions: Record<string, lambda.IFunction> = {
    // Imported by ARN: the alarm's FunctionName dimension is the ARN's name part (no extra export per route).
    ...Object.fromEntries(
      Object.entries(routeFunctions).map(([k, fn]) => [constructId('Route', k), importFunction(stack, constructId('RouteFunction', k), fn)]),
    ),
    ...Object.fromEntries(Object.entries(scheduleFunctions).map(([k, fn]) => [constructId('Scheduled', k), fn])),
    ...Object.fromEntries(
      Object.values(workflows).flatMap((w) => Object.entries(w.tasks).map(([t, fn]) => [constructId('Task', w.def.name, t), fn])),
    ),
    ...Object.fromEntries(Object.values(queues).map((q) => [constructId('Consumer', q.def.name), q.consumer])),
  };
  for (const [id, fn] of Object.entries(functions)) {
    alarm(stack, `${id}_Errors`, fn.metricErrors({ period: PERIOD, statistic: cloudwatch.Stats.SUM }), `${id}: Lambda errors`);
    alarm(stack, `${id}_Throttles`, fn.metricThrottles({ period: PERIOD, statistic: cloudwatch.Stats.SUM }), `${id}: Lambda throttles`);
  }

  // The API stage's 5xx responses.
  const apiStage = api.cdk.restApi.deploymentStage;
  alarm(stack, 'Api_5XXError', apiStage.metricServerError({ period: PERIOD, statistic: cloudwatch.Stats.SUM }), 'API Gateway 5xx responses (the stage)');

  // Every state machine run that fails, times out or is aborted (a ledger audit imbalance ends as FAILED).
  for (const w of Object.values(workflows)) {
    const sm = w.stateMachine;
    const id = constructId('StateMachine', w.def.name);
    alarm(stack, `${id}_Failed`, sm.metricFailed({ period: PERIOD, statistic: cloudwatch.Stats.SUM }), `${w.def.name}: execution failed`);
    alarm(stack, `${id}_TimedOut`, sm.metricTimedOut({ period: PERIOD, statistic: cloudwatch.Stats.SUM }), `${w.def.name}: execution timed out`);
    alarm(stack, `${id}_Aborted`, sm.metricAborted({ period: PERIOD, statistic: cloudwatch.Stats.SUM }), `${w.def.name}: execution aborted`);
  }

  stack.addOutputs({ AlarmTopicArn: topic.topicArn });
  return { topic };
}
