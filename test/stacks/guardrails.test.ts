/**
 * The production guardrails of SPEC §9 on the synthesized prod stacks (offline, like test/stacks.test.ts):
 * cdk-nag AwsSolutions checks pass (errors and warnings) with every suppression justified, alarms to the one
 * topic on every DLQ, every function's errors and throttles, API 5xx and every state machine's failed and
 * timed-out runs; reserved concurrency 1 on non-overlapping schedules; retries and a DLQ on every EventBridge
 * target; state machines that log, trace, retry with jitter and time out; no stack within 100 resources of
 * CloudFormation's 500 limit. Every expectation is derived from infra/ and the templates.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { SCHEDULES } from '../../infra/schedules.js';
import { WORKFLOWS } from '../../infra/workflows.js';
import { STALE_RUN_S } from '../../packages/core/src/settlement.js';
import { SUPPRESSIONS, nagFindings, type NagFinding } from '../../stacks/nag.js';
import { synthesize, type Json, type Synth } from './synth.js';
import { lambdaByHandler, refId, resources, target, taskStates, type Res } from './cfn.js';

const MAX_RESOURCES_PER_STACK = 400;
const TRANSIENT_LAMBDA_ERRORS = ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'];

let synth: Synth;
let findings: NagFinding[];

beforeAll(async () => {
  synth = await synthesize('prod', { COMPUX_ADMIN_KEY_SHA256: 'a'.repeat(64), COMPUX_ALARM_EMAIL: 'ops@example.com' });
  findings = [...nagFindings];
  console.info(`prod synthesized offline in ${synth.ms} ms; cdk-nag: ${findings.length} findings, ${findings.filter((f) => !f.suppressedBecause).length} open`);
}, 600_000);

const alarms = () => resources(synth, 'AWS::CloudWatch::Alarm');
const topicId = () => {
  const topics = resources(synth, 'AWS::SNS::Topic', 'Monitoring');
  expect(topics).toHaveLength(1);
  return (topics[0] as Res).id;
};

/** The alarms on `metric` whose `dimension` points (through cross-stack imports) at resource `id`. */
function alarmsOn(metric: string, dimension: string, res: Res): Res[] {
  return alarms().filter((a) => {
    if (a.props.MetricName !== metric) return false;
    const d = (a.props.Dimensions as Json[] | undefined)?.find((x) => x.Name === dimension);
    if (!d) return false;
    const t = target(synth, d.Value, a.stack);
    return t?.stack === res.stack && t.id === res.id;
  });
}

/** The app's own functions (handlers under functions/), not SST's or CDK's deploy-time helpers. */
const appFunctions = () => resources(synth, 'AWS::Lambda::Function').filter((f) => /^functions\//.test(f.props.Handler ?? ''));

describe('cdk-nag AwsSolutions (prod)', () => {
  it('leaves no error and no warning unsuppressed', () => {
    // Prepare
    const open = findings.filter((f) => f.suppressedBecause === undefined);
    // Act
    const listed = open.map((f) => `${f.level} ${f.ruleId}${f.findingId ? `[${f.findingId}]` : ''} ${f.path}: ${f.info}`);
    // Assess
    expect(findings.length).toBeGreaterThan(0); // the checks really ran
    expect(listed).toEqual([]);
  });

  it('justifies every suppression, and each one is used', () => {
    // Prepare
    const used = new Set(findings.filter((f) => f.suppressedBecause).map((f) => `${f.ruleId} ${f.suppressedBecause?.replace(/^\[[^\]]*\] /, '')}`));
    // Act / Assess
    for (const s of SUPPRESSIONS) {
      expect(s.reason.trim().length, s.id).toBeGreaterThanOrEqual(20);
      expect(used.has(`${s.id} ${s.reason}`), `unused suppression ${s.id}: ${s.reason}`).toBe(true);
    }
    for (const f of findings.filter((x) => x.suppressedBecause !== undefined)) expect(f.suppressedBecause?.trim()).not.toBe('');
  });
});

describe('alarms (prod)', () => {
  it('every alarm notifies the one topic on alarm and on OK, and treats missing data as not breaching', () => {
    // Prepare
    const topic = topicId();
    // Act
    const all = alarms();
    // Assess
    expect(all.length).toBeGreaterThan(0);
    for (const a of all) {
      expect(a.stack, a.id).toBe('Monitoring');
      expect(a.props.AlarmActions.map(refId), a.id).toEqual([topic]);
      expect(a.props.OKActions.map(refId), a.id).toEqual([topic]);
      expect(a.props.TreatMissingData, a.id).toBe('notBreaching');
    }
  });

  it('the topic is KMS-encrypted, TLS-only and subscribes COMPUX_ALARM_EMAIL', () => {
    // Prepare
    const topic = resources(synth, 'AWS::SNS::Topic', 'Monitoring')[0] as Res;
    // Act
    const policies = resources(synth, 'AWS::SNS::TopicPolicy', 'Monitoring');
    const subs = resources(synth, 'AWS::SNS::Subscription', 'Monitoring');
    // Assess
    expect(topic.props.KmsMasterKeyId).toBeDefined();
    expect(JSON.stringify(policies.map((p) => p.props.PolicyDocument))).toContain('aws:SecureTransport');
    expect(subs.map((s) => [s.props.Protocol, s.props.Endpoint])).toEqual([['email', 'ops@example.com']]);
  });

  it('alarms on every dead-letter queue', () => {
    // Prepare: queue DLQs (redrive targets) and the EventBridge targets' DLQ
    const queues = resources(synth, 'AWS::SQS::Queue');
    const redriveTargets = queues.flatMap((q) => (q.props.RedrivePolicy ? [refId(q.props.RedrivePolicy.deadLetterTargetArn)] : []));
    const targetDlqs = resources(synth, 'AWS::Events::Rule').flatMap((r) => (r.props.Targets as Json[]).map((t) => refId(t.DeadLetterConfig?.Arn)));
    const dlqs = queues.filter((q) => redriveTargets.includes(q.id) || targetDlqs.includes(q.id));
    // Act / Assess
    expect(dlqs.length).toBeGreaterThanOrEqual(2);
    for (const q of dlqs) expect(alarmsOn('ApproximateNumberOfMessagesVisible', 'QueueName', q), q.id).toHaveLength(1);
  });

  it("alarms on every function's Errors and Throttles", () => {
    // Prepare
    const fns = appFunctions();
    // Act / Assess
    expect(fns.length).toBeGreaterThan(20);
    for (const fn of fns) {
      expect(alarmsOn('Errors', 'FunctionName', fn), `${fn.stack}/${fn.id} Errors`).toHaveLength(1);
      expect(alarmsOn('Throttles', 'FunctionName', fn), `${fn.stack}/${fn.id} Throttles`).toHaveLength(1);
    }
  });

  it("alarms on the API stage's 5XXError", () => {
    // Prepare
    const stage = resources(synth, 'AWS::ApiGateway::Stage', 'Api')[0] as Res;
    // Act
    const found = alarms().filter((a) => a.props.Namespace === 'AWS/ApiGateway' && a.props.MetricName === '5XXError');
    // Assess
    expect(found).toHaveLength(1);
    const dims = Object.fromEntries((found[0]?.props.Dimensions as Json[]).map((d) => [d.Name, d.Value]));
    expect(Object.keys(dims).sort()).toEqual(['ApiName', 'Stage']);
    // The stage's name: a literal, or a Ref to the Stage (whose Ref is its name), through the cross-stack import.
    const named = dims.Stage === stage.props.StageName || target(synth, dims.Stage, 'Monitoring')?.id === stage.id;
    expect(named, JSON.stringify(dims.Stage)).toBe(true);
  });

  it('alarms on every state machine run that fails or times out (the ledger audit included)', () => {
    // Prepare
    const machines = resources(synth, 'AWS::StepFunctions::StateMachine');
    // Act / Assess
    expect(machines).toHaveLength(WORKFLOWS.length);
    for (const sm of machines) {
      for (const metric of ['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted']) {
        expect(alarmsOn(metric, 'StateMachineArn', sm), `${sm.props.StateMachineName} ${metric}`).toHaveLength(1);
      }
    }
    expect(machines.map((m) => m.props.StateMachineName)).toContain('prod-compux-ledger-audit');
  });
});

describe('schedules (prod)', () => {
  it.each(SCHEDULES.filter((s) => s.overlap === false).map((s) => [s.name, s]))('%s runs with reserved concurrency 1', (_name, def) => {
    // Prepare
    const handler = 'handler' in def.target ? def.target.handler : '';
    // Act
    const [fn] = lambdaByHandler(synth, handler);
    const invokeConfigs = resources(synth, 'AWS::Lambda::EventInvokeConfig').filter((c) => refId(c.props.FunctionName) === fn?.id);
    // Assess
    expect(fn?.props.ReservedConcurrentExecutions).toBe(1);
    expect(invokeConfigs).toHaveLength(1);
    expect(invokeConfigs[0]?.props.MaximumEventAgeInSeconds).toBe(60);
  });

  it('every EventBridge target has a retry policy and an encrypted, TLS-only dead-letter queue', () => {
    // Prepare
    const rules = resources(synth, 'AWS::Events::Rule');
    // Act / Assess
    expect(rules).toHaveLength(SCHEDULES.length);
    for (const rule of rules) {
      for (const t of rule.props.Targets as Json[]) {
        expect(t.RetryPolicy?.MaximumRetryAttempts, rule.props.Name).toBeGreaterThan(0);
        expect(t.RetryPolicy?.MaximumEventAgeInSeconds, rule.props.Name).toBeGreaterThanOrEqual(60);
        const dlq = target(synth, t.DeadLetterConfig?.Arn, rule.stack) as Res;
        expect(dlq.type, rule.props.Name).toBe('AWS::SQS::Queue');
        expect(dlq.props.SqsManagedSseEnabled ?? dlq.props.KmsMasterKeyId).toBeTruthy();
        const policy = resources(synth, 'AWS::SQS::QueuePolicy', dlq.stack).find((p) => (p.props.Queues as unknown[]).some((q) => refId(q) === dlq.id));
        expect(JSON.stringify(policy?.props.PolicyDocument)).toContain('aws:SecureTransport');
        expect(JSON.stringify(policy?.props.PolicyDocument)).toContain('events.amazonaws.com');
      }
    }
  });
});

describe('state machines (prod)', () => {
  it.each(WORKFLOWS.map((w) => [w.name, w]))('%s logs, traces, times out and retries every task with full jitter', (name) => {
    // Prepare
    const sm = resources(synth, 'AWS::StepFunctions::StateMachine').find((m) => m.props.StateMachineName === `prod-compux-${name}`) as Res;
    // Act
    const asl = JSON.parse(sm.props.DefinitionString as string) as Json;
    const logging = sm.props.LoggingConfiguration as Json;
    // Assess
    expect(['ALL', 'ERROR']).toContain(logging.Level);
    expect(logging.IncludeExecutionData).toBe(false);
    expect(target(synth, logging.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn, sm.stack)?.type).toBe('AWS::Logs::LogGroup');
    expect(sm.props.TracingConfiguration).toEqual({ Enabled: true });
    expect(asl.TimeoutSeconds).toBeGreaterThan(0);
    if (name === 'provider-settlement') expect(asl.TimeoutSeconds).toBeLessThan(STALE_RUN_S); // a timed-out run becomes stale, then restartable
    const tasks = taskStates(asl);
    expect(tasks.length).toBeGreaterThan(0);
    for (const { name: state, state: task } of tasks) {
      const retrier = (task.Retry as Json[] | undefined)?.find((r) => TRANSIENT_LAMBDA_ERRORS.every((e) => r.ErrorEquals.includes(e)));
      expect(retrier, `${name}.${state} retries transient Lambda errors`).toBeDefined();
      expect(retrier?.JitterStrategy).toBe('FULL');
      expect(retrier?.BackoffRate).toBeGreaterThan(1);
      expect(retrier?.MaxDelaySeconds).toBeGreaterThan(0);
      for (const r of task.Retry as Json[]) expect(r.JitterStrategy, `${name}.${state}`).toBe('FULL');
    }
  });
});

describe('resource headroom (prod)', () => {
  it(`no stack has more than ${MAX_RESOURCES_PER_STACK} resources (CloudFormation's limit is 500)`, () => {
    // Prepare / Act
    const counts = Object.fromEntries(Object.entries(synth.json).map(([id, t]) => [id, Object.keys(t.Resources ?? {}).length]));
    console.info('resources per stack:', counts);
    // Assess
    for (const [id, n] of Object.entries(counts)) expect(n, id).toBeLessThanOrEqual(MAX_RESOURCES_PER_STACK);
  });

  it('no stack has more than 200 outputs', () => {
    for (const [id, t] of Object.entries(synth.json)) expect(Object.keys(t.Outputs ?? {}).length, id).toBeLessThanOrEqual(200);
  });
});
