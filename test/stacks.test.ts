/**
 * The SST v2 stacks, synthesized offline for a dev stage and for prod, checked against the tables in infra/
 * (never against hard-coded counts). Real AWS deployment is not exercised here.
 */
import fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { TABLE } from '../infra/table.js';
import { ROUTES, routeKey, takesCursor } from '../infra/routes.js';
import { CURSOR_SECRET_ENV, RELAY_KMS_KEY_ENV } from '../functions/lib/settings.js';
import { RELAY_KEY_PURPOSE } from '../packages/core/src/relay-at-rest.js';
import { QUEUES } from '../infra/queues.js';
import { WORKFLOWS } from '../infra/workflows.js';
import { SCHEDULES } from '../infra/schedules.js';
import { RELAY_KEY_ACTIONS, tableActions, type RelayKeyUse, type TableAccess } from '../infra/access.js';
import { GATEWAY_RESPONSE_CORS_HEADERS, corsMethodsByPath, preflightHeaders } from '../infra/cors.js';
import { MIN_COMPRESSION_BYTES } from '../infra/compression.js';
import { apiThrottles, BUFFERED_FUNCTION_TIMEOUT_SECONDS, BUFFERED_INTEGRATION_TIMEOUT_SECONDS, isInferenceRoute } from '../stacks/Api.js';
import { adminKeySha256 } from '../stacks/ApiFunctions.js';
import { taskSends } from '../stacks/Workflows.js';
import { LOG_WRITE_ACTIONS } from '../stacks/common.js';
import {
  MORE_ROUTES,
  REQUIRED_HEADROOM,
  STACK_OUTPUT_LIMIT,
  STACK_RESOURCE_LIMIT,
  methodFunction,
  routeFunctions,
  stackBudgets,
} from './stacks/headroom.js';
import { API_PATHS, WEB_CSP } from '../stacks/Web.js';
import { synthesize, type Json, type Synth } from './stacks/synth.js';
import {
  actionsOf,
  allStatements,
  apiPath,
  dynamoActions,
  functionStatements,
  lambdaByHandler,
  placeholders,
  refId,
  resolveImport,
  resource,
  resources,
  resourcesOf,
  target,
  taskStates,
  type Res,
  type Statement,
} from './stacks/cfn.js';

const ADMIN_KEY_SHA256 = 'a'.repeat(64);
const STAGES = ['dev', 'prod'] as const;
type Stage = (typeof STAGES)[number];

const synths = {} as Record<Stage, Synth>;

beforeAll(async () => {
  // Sequential: SST keeps one current app per process.
  synths.dev = await synthesize('dev', { COMPUX_ADMIN_KEY_SHA256: undefined });
  synths.prod = await synthesize('prod', { COMPUX_ADMIN_KEY_SHA256: ADMIN_KEY_SHA256 });
  console.info(`stacks synthesized offline: dev ${synths.dev.ms} ms, prod ${synths.prod.ms} ms`);
}, 900_000); // two full syntheses (esbuild bundles every Lambda); minutes on a loaded 2-core machine

/** The one Lambda with this handler string (SST v2 keeps "functions/file.export" as the Lambda handler). */
function lambdaFor(synth: Synth, handler: string): Res {
  const found = lambdaByHandler(synth, handler);
  expect(found, `exactly one Lambda runs ${handler}`).toHaveLength(1);
  return found[0] as Res;
}

function tableLogicalId(synth: Synth): string {
  const tables = resources(synth, 'AWS::DynamoDB::Table');
  expect(tables).toHaveLength(1);
  return (tables[0] as Res).id;
}

/** The function's DynamoDB grant is exactly tableActions(access), on the table ARN and its indexes only. */
function expectTableAccess(synth: Synth, fn: Res, access: readonly TableAccess[]): void {
  const statements = functionStatements(synth, fn);
  expect(dynamoActions(statements), `${fn.id} DynamoDB actions`).toEqual(tableActions(access));

  const tableId = tableLogicalId(synth);
  for (const s of statements.filter((st) => actionsOf(st).some((a) => a.startsWith('dynamodb:')))) {
    const [arn, indexes, ...rest] = resourcesOf(s);
    expect(rest).toEqual([]);
    const table = resolveImport(synth, arn, fn.stack);
    expect(table.value).toEqual({ 'Fn::GetAtt': [tableId, 'Arn'] });
    expect(indexes).toEqual({ 'Fn::Join': ['', [arn, '/index/*']] });
  }
}

function nonTableStatements(synth: Synth, fn: Res): Statement[] {
  return functionStatements(synth, fn).filter(
    // logs: writing its own log group (checked in 'stage %s: Api headroom and guardrails').
    (s) => !actionsOf(s).some((a) => a.startsWith('dynamodb:') || a.startsWith('xray:') || a.startsWith('logs:')),
  );
}

describe.each(STAGES)('stage %s: Storage', (stage) => {
  it('deploys the table of infra/table.ts: keys, GSIs, TTL, PITR, on demand', () => {
    // Prepare
    const synth = synths[stage];

    // Act
    const [table] = resources(synth, 'AWS::DynamoDB::Table', 'Storage');
    const p = (table as Res).props;

    // Assess
    expect(p.KeySchema).toEqual([
      { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
    ]);
    expect(p.BillingMode).toBe('PAY_PER_REQUEST');
    expect(p.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(p.TimeToLiveSpecification).toEqual({ AttributeName: TABLE.ttlAttribute, Enabled: true });
    const gsis = Object.fromEntries((p.GlobalSecondaryIndexes as Json[]).map((g) => [g.IndexName, g.KeySchema]));
    expect(gsis).toEqual(
      Object.fromEntries(
        Object.entries(TABLE.indexes).map(([name, ix]) => [
          name,
          [
            { AttributeName: ix.partitionKey, KeyType: 'HASH' },
            { AttributeName: ix.sortKey, KeyType: 'RANGE' },
          ],
        ]),
      ),
    );
    const keyAttributes = [TABLE.partitionKey, TABLE.sortKey, ...Object.values(TABLE.indexes).flatMap((ix) => [ix.partitionKey, ix.sortKey])];
    expect(p.AttributeDefinitions).toEqual(expect.arrayContaining(keyAttributes.map((name) => ({ AttributeName: name, AttributeType: 'S' }))));
    expect(p.AttributeDefinitions).toHaveLength(keyAttributes.length);
  });

  it('protects the table on prod only', () => {
    // Prepare
    const synth = synths[stage];

    // Act
    const [table] = resources(synth, 'AWS::DynamoDB::Table', 'Storage');

    // Assess
    const { raw, props } = table as Res;
    if (stage === 'prod') {
      expect(props.DeletionProtectionEnabled).toBe(true);
      expect(raw.DeletionPolicy).toBe('Retain');
      expect(raw.UpdateReplacePolicy).toBe('Retain');
    } else {
      expect(props.DeletionProtectionEnabled ?? false).toBe(false);
      expect(raw.DeletionPolicy).toBe('Delete');
      expect(raw.UpdateReplacePolicy).toBe('Delete');
    }
  });

  it('generates the cursor secret (kept on prod): its value is in no template', () => {
    // Prepare
    const synth = synths[stage];

    // Act
    const secrets = resources(synth, 'AWS::SecretsManager::Secret', 'Storage');

    // Assess
    expect(secrets).toHaveLength(1);
    const { raw, props } = secrets[0] as Res;
    expect(props.GenerateSecretString).toMatchObject({ PasswordLength: 64, ExcludePunctuation: true });
    expect(props.SecretString).toBeUndefined();
    expect(raw.DeletionPolicy).toBe(stage === 'prod' ? 'Retain' : 'Delete');
  });
});

describe.each(STAGES)('stage %s: Api', (stage) => {
  it('is a REST API with one method per route row, at its path, backed by the row handler (a Lambda of the ApiFunctions stack)', () => {
    // Prepare
    const synth = synths[stage];

    // Act
    expect(resources(synth, 'AWS::ApiGateway::RestApi', 'Api')).toHaveLength(1);
    const methods = resources(synth, 'AWS::ApiGateway::Method', 'Api').filter((m) => m.props.HttpMethod !== 'OPTIONS');
    const byKey = new Map(methods.map((m) => [`${m.props.HttpMethod} ${apiPath(synth, 'Api', m.props.ResourceId)}`, m]));

    // Assess
    expect(methods).toHaveLength(ROUTES.length);
    expect([...byKey.keys()].sort()).toEqual(ROUTES.map(routeKey).sort());
    for (const row of ROUTES) {
      const method = byKey.get(routeKey(row)) as Res;
      expect(method.props.Integration.Type).toBe('AWS_PROXY'); // REST proxy event, payload v1
      const fn = methodFunction(synth, method);
      expect(fn?.stack, routeKey(row)).toBe('ApiFunctions');
      expect(fn?.props.Handler, routeKey(row)).toBe(row.handler);
    }
    expect(synth.json.Api?.Outputs?.ApiUrl).toBeDefined();
    // The route functions live in ApiFunctions only, and that stack never references the Api stack (no cycle).
    const ours = (f: Res) => /^functions\//.test(f.props.Handler ?? ''); // not SST's custom resource handler
    expect(resources(synth, 'AWS::Lambda::Function', 'Api').filter(ours)).toEqual([]);
    const apiExports = new Set(Object.values((synth.json.Api?.Outputs ?? {}) as Record<string, Json>).map((o) => o.Export?.Name).filter(Boolean));
    const imports = JSON.stringify(synth.json.ApiFunctions).match(/"Fn::ImportValue":"[^"]+"/g) ?? [];
    expect(imports.filter((i) => apiExports.has(JSON.parse(`{${i}}`)['Fn::ImportValue']))).toEqual([]);
  });

  it('streams the rows marked streaming (REST response streaming), buffers the others', () => {
    // Prepare
    const synth = synths[stage];
    const methods = resources(synth, 'AWS::ApiGateway::Method', 'Api').filter((m) => m.props.HttpMethod !== 'OPTIONS');
    const byKey = new Map(methods.map((m) => [`${m.props.HttpMethod} ${apiPath(synth, 'Api', m.props.ResourceId)}`, m]));

    for (const row of ROUTES) {
      // Act
      const method = byKey.get(routeKey(row)) as Res;
      const integration = method.props.Integration as Json;
      const uri = JSON.stringify(integration.Uri);
      const fn = lambdaFor(synth, row.handler);

      // Assess: the URI names the row's Lambda (imported from ApiFunctions by its ARN)
      expect(uri).toContain('"Fn::ImportValue"');
      expect(methodFunction(synth, method)?.id, routeKey(row)).toBe(fn.id);
      if (row.streaming) {
        expect(integration.ResponseTransferMode, routeKey(row)).toBe('STREAM');
        expect(uri).toContain(':apigateway:us-east-1:lambda:path/2021-11-15/functions/');
        expect(uri).toContain('/response-streaming-invocations');
        expect(integration.TimeoutInMillis).toBe((row.timeoutSeconds as number) * 1000);
        expect(fn.props.Timeout).toBe(row.timeoutSeconds);
      } else {
        expect(integration.ResponseTransferMode ?? 'BUFFERED', routeKey(row)).toBe('BUFFERED');
        expect(uri).toContain('/2015-03-31/functions/');
        expect(integration.TimeoutInMillis).toBe(BUFFERED_INTEGRATION_TIMEOUT_SECONDS * 1000);
        // The Lambda times out first, with room for its error reply to get through API Gateway.
        expect(fn.props.Timeout, routeKey(row)).toBeLessThanOrEqual(BUFFERED_FUNCTION_TIMEOUT_SECONDS);
        expect(fn.props.Timeout, routeKey(row)).toBeLessThanOrEqual(integration.TimeoutInMillis / 1000 - 4);
      }
    }
  });

  it("grants each route function exactly its row's table actions, and sends/starts only what the row names", () => {
    // Prepare
    const synth = synths[stage];

    for (const row of ROUTES) {
      // Act
      const fn = lambdaFor(synth, row.handler);
      const env = fn.props.Environment.Variables as Json;

      // Assess
      expectTableAccess(synth, fn, row.access);
      const expectedExtra = [
        ...(row.sends ?? []).map((q) => ['sqs:SendMessage', q]),
        ...(row.starts ?? []).map((w) => ['states:StartExecution', w]),
        ...(row.relayKey ? [[RELAY_KEY_ACTIONS[row.relayKey].join(','), 'relay key-encryption key']] : []),
      ];
      const extra = nonTableStatements(synth, fn);
      expect(extra.map((s) => actionsOf(s).join(',')).sort(), routeKey(row)).toEqual(expectedExtra.map(([a]) => a).sort());
      for (const name of row.sends ?? []) {
        const def = QUEUES.find((q) => q.name === name);
        expect(def, `queue ${name}`).toBeDefined();
        expect(env[def!.urlEnv]).toBeDefined();
      }
      for (const name of row.starts ?? []) {
        const def = WORKFLOWS.find((w) => w.name === name);
        expect(def, `workflow ${name}`).toBeDefined();
        expect(env[def!.arnEnv]).toBeDefined();
      }
      expect(env.COMPUX_ADMIN_KEY_SHA256).toBe(stage === 'prod' ? ADMIN_KEY_SHA256 : '');
      // Rows that take a cursor, and only they, get the cursor secret: a dynamic reference, never its value.
      if (takesCursor(row)) expect(JSON.stringify(env[CURSOR_SECRET_ENV]), routeKey(row)).toContain('{{resolve:secretsmanager:');
      else expect(env[CURSOR_SECRET_ENV], routeKey(row)).toBeUndefined();
    }
  });
});

describe.each(STAGES)('stage %s: every stack', (stage) => {
  it('runs every Lambda on nodejs22.x, with TABLE_NAME and the Powertools service name on ours', () => {
    // Prepare
    const synth = synths[stage];
    const handlers = [
      ...ROUTES.map((r) => r.handler),
      ...QUEUES.map((q) => q.consumer),
      ...WORKFLOWS.flatMap((w) => Object.values(w.tasks).map((t) => t.handler)),
      ...SCHEDULES.flatMap((s) => ('handler' in s.target ? [s.target.handler] : [])),
    ];

    // Act
    const lambdas = resources(synth, 'AWS::Lambda::Function');

    // Assess
    for (const fn of lambdas) expect(fn.props.Runtime, `${fn.stack}/${fn.id}`).toBe('nodejs22.x');
    const tableRef = { stack: 'Storage', value: { Ref: tableLogicalId(synth) } };
    for (const handler of handlers) {
      const fn = lambdaFor(synth, handler);
      const env = fn.props.Environment.Variables as Json;
      expect(env.POWERTOOLS_SERVICE_NAME).toBe('compux');
      expect(resolveImport(synth, env.TABLE_NAME, fn.stack)).toEqual(tableRef);
    }
    // Task and schedule functions that probe providers get the longer timeout their row names.
    const timed = [
      ...WORKFLOWS.flatMap((w) => Object.values(w.tasks).flatMap((t) => (t.timeout_s ? [[t.handler, t.timeout_s] as const] : []))),
      ...SCHEDULES.flatMap((s) => ('handler' in s.target && s.target.timeout_s ? [[s.target.handler, s.target.timeout_s] as const] : [])),
    ];
    expect(timed.length).toBeGreaterThan(0);
    for (const [handler, seconds] of timed) expect(lambdaFor(synth, handler).props.Timeout, handler).toBe(seconds);
  });

  it('never grants dynamodb:* nor a DynamoDB action on Resource "*"', () => {
    // Prepare
    const synth = synths[stage];

    // Act
    const statements = allStatements(synth);

    // Assess
    expect(statements.length).toBeGreaterThan(0);
    for (const { where, statement } of statements) {
      const actions = actionsOf(statement);
      expect(actions, where).not.toContain('dynamodb:*');
      expect(actions, where).not.toContain('*');
      if (actions.some((a) => a.toLowerCase().startsWith('dynamodb:'))) {
        expect(resourcesOf(statement), where).not.toContain('*');
      }
    }
  });
});

describe.each(STAGES)('stage %s: the relay key-encryption key', (stage) => {
  /** Every function row of infra/ with its relayKey use (routes, workflow tasks, schedule handlers; queue consumers have none). */
  const rows = (): Array<{ handler: string; relayKey?: RelayKeyUse }> => [
    ...ROUTES, ...QUEUES.map((q) => ({ handler: q.consumer })), ...WORKFLOWS.flatMap((w) => Object.values(w.tasks)),
    ...SCHEDULES.flatMap((sc) => ('handler' in sc.target ? [sc.target] : [])),
  ];
  /** Storage's one KMS key (Monitoring has its own, for the alarm topic). */
  const relayKek = (synth: Synth) => {
    const keys = resources(synth, 'AWS::KMS::Key', 'Storage');
    expect(keys).toHaveLength(1);
    return keys[0] as Res;
  };

  it('is a KMS key in Storage, yearly rotation on, kept on prod; its key policy names only the account', () => {
    // Prepare
    const synth = synths[stage];
    // Act
    const key = relayKek(synth);
    const principals = (key.props.KeyPolicy.Statement as Json[]).map((st) => JSON.stringify(st.Principal));
    // Assess
    expect(key.stack).toBe('Storage');
    expect(key.props.EnableKeyRotation).toBe(true);
    expect(key.raw.DeletionPolicy).toBe(stage === 'prod' ? 'Retain' : 'Delete');
    expect(principals.every((p) => p.includes(':root'))).toBe(true);
  });

  it('holds kms:Decrypt on it for exactly the functions that sign relay tokens, GenerateDataKey for them and the rotation; only they know its ARN', () => {
    // Prepare
    const synth = synths[stage];
    const key = relayKek(synth);
    const holding = (action: string) =>
      rows().filter((row) => {
        const fn = lambdaFor(synth, row.handler);
        const on = functionStatements(synth, fn).filter((st) => actionsOf(st).includes(action));
        for (const st of on) {
          expect(resourcesOf(st).map((r) => target(synth, r, fn.stack)?.id), `${row.handler} ${action}`).toEqual([key.id]);
          expect((st as Statement & { Condition?: unknown }).Condition, `${row.handler} ${action}`).toEqual({ StringEquals: { 'kms:EncryptionContext:purpose': RELAY_KEY_PURPOSE } });
        }
        return on.length > 0;
      }).map((row) => row.handler).sort();
    // Act
    const decrypt = holding('kms:Decrypt');
    const generate = holding('kms:GenerateDataKey');
    // Every identity statement of the app with a KMS action: where it is, its actions, what it names.
    const kms = allStatements(synth).filter(({ statement }) => actionsOf(statement).some((a) => a.startsWith('kms:')));
    const knowing = rows().filter((row) => (lambdaFor(synth, row.handler).props.Environment.Variables as Json)[RELAY_KMS_KEY_ENV] !== undefined).map((r) => r.handler).sort();
    // Assess
    const signers = [
      'functions/inference.chat', 'functions/inference.completions', 'functions/inference.embeddings', 'functions/inference.responses', 'functions/sla.probeAll',
      'functions/validation.relayHandshake', 'functions/validation.reliability', 'functions/validation.slaLatency', 'functions/validation.throughput',
    ];
    expect(decrypt).toEqual(signers);
    expect(generate).toEqual([...signers, 'functions/relay.rotate'].sort());
    expect(knowing).toEqual([...signers, 'functions/relay.rotate'].sort());
    expect(new Set(kms.flatMap(({ statement }) => actionsOf(statement)))).toEqual(new Set(['kms:Decrypt', 'kms:GenerateDataKey']));
    for (const { where, statement } of kms) {
      expect(resourcesOf(statement).map((r) => target(synth, r, where.split('/')[0]!)?.id), where).toEqual([key.id]);
    }
  });
});

describe.each(STAGES)('stage %s: Queues', (stage) => {
  it('deploys each queue with its DLQ, redrive, FIFO mode and a partial-batch consumer', () => {
    // Prepare
    const synth = synths[stage];
    const queues = resources(synth, 'AWS::SQS::Queue', 'Queues');

    for (const def of QUEUES) {
      // Act
      const name = `${stage}-compux-${def.name}${def.fifo ? '.fifo' : ''}`;
      const queue = queues.find((q) => q.props.QueueName === name);
      expect(queue, name).toBeDefined();
      const q = (queue as Res).props;
      const dlq = resource(synth, 'Queues', refId(q.RedrivePolicy.deadLetterTargetArn) as string).props;
      const mappings = resources(synth, 'AWS::Lambda::EventSourceMapping', 'Queues').filter(
        (m) => refId(m.props.EventSourceArn) === (queue as Res).id,
      );

      // Assess
      expect(q.FifoQueue ?? false).toBe(def.fifo);
      expect(dlq.FifoQueue ?? false).toBe(def.fifo);
      if (def.fifo) expect(q.ContentBasedDeduplication).toBe(false);
      expect(q.VisibilityTimeout).toBe(def.visibilityTimeoutSeconds);
      expect(q.RedrivePolicy.maxReceiveCount).toBe(def.maxReceiveCount);
      expect(mappings).toHaveLength(1);
      const mapping = (mappings[0] as Res).props;
      expect(mapping.BatchSize).toBe(def.batchSize);
      expect(mapping.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      const consumer = lambdaFor(synth, def.consumer);
      expect(refId(mapping.FunctionName)).toBe(consumer.id);
      expect(consumer.props.Timeout).toBeLessThanOrEqual(def.visibilityTimeoutSeconds);
      expectTableAccess(synth, consumer, def.access);
    }
    expect(queues).toHaveLength(QUEUES.length * 2);
  });
});

describe('ASL files', () => {
  it.each(WORKFLOWS.map((w) => [w.name, w] as const))('%s parses and every Task resource is a declared task', (_name, def) => {
    // Prepare
    const text = fs.readFileSync(def.asl, 'utf8');

    // Act
    const asl = JSON.parse(text) as Json;
    const tasks = taskStates(asl);

    // Assess
    expect(tasks.length).toBeGreaterThan(0);
    for (const { name, state } of tasks) {
      const match = /^\$\{([A-Za-z0-9_]+)\}$/.exec(state.Resource);
      expect(match, `${def.asl} ${name}.Resource`).not.toBeNull();
      expect(Object.keys(def.tasks)).toContain(match?.[1]);
    }
    expect(placeholders(text).every((p) => p in def.tasks)).toBe(true);
  });
});

describe.each(STAGES)('stage %s: Workflows', (stage) => {
  it('deploys each ASL file unchanged, with a substitution per placeholder and invoke rights on exactly its tasks', () => {
    // Prepare
    const synth = synths[stage];
    const machines = resources(synth, 'AWS::StepFunctions::StateMachine', 'Workflows');
    expect(machines).toHaveLength(WORKFLOWS.length);

    for (const def of WORKFLOWS) {
      // Act
      const sm = machines.find((m) => m.props.StateMachineName === `${stage}-compux-${def.name}`) as Res;
      const asl = fs.readFileSync(def.asl, 'utf8');
      const subs = sm.props.DefinitionSubstitutions as Json;
      const roleStatements = resources(synth, 'AWS::IAM::Policy', 'Workflows')
        .filter((p) => (p.props.Roles as unknown[]).some((r) => refId(r) === refId(sm.props.RoleArn)))
        .flatMap((p) => p.props.PolicyDocument.Statement as Statement[]);
      const invoke = roleStatements.filter((s) => actionsOf(s).some((a) => a.startsWith('lambda:')));

      // Assess
      expect(sm.props.DefinitionString).toBe(asl);
      expect(Object.keys(subs).sort()).toEqual(Object.keys(def.tasks).sort());
      for (const p of placeholders(asl)) expect(subs, `${def.asl} \${${p}}`).toHaveProperty(p);
      const taskFnIds: string[] = [];
      for (const [taskName, task] of Object.entries(def.tasks)) {
        const fn = lambdaFor(synth, task.handler);
        expect(subs[taskName]).toEqual({ 'Fn::GetAtt': [fn.id, 'Arn'] });
        expectTableAccess(synth, fn, task.access);
        taskFnIds.push(fn.id);
      }
      expect(invoke).toHaveLength(1);
      expect(actionsOf(invoke[0] as Statement)).toEqual(['lambda:InvokeFunction']);
      expect(resourcesOf(invoke[0] as Statement).map(refId).sort()).toEqual(taskFnIds.sort());
    }
  });

  it("grants each task function sqs:SendMessage on exactly the queues its row sends to (their URLs in its environment), nothing else beyond its table access", () => {
    // Prepare
    const synth = synths[stage];
    const tasks = WORKFLOWS.flatMap((w) => Object.entries(w.tasks).map(([name, t]) => ({ id: `${w.name}.${name}`, ...t })));
    expect(tasks.filter((t) => (t.sends ?? []).length > 0).map((t) => t.id).sort()).toEqual([
      'booking-lifecycle.AwaitAnswerFn', 'booking-lifecycle.BillHourFn', 'provider-settlement.IssueStatementFn', 'provider-validation.GoLiveFn', 'provider-validation.ReturnToIntegrationFn',
    ]);

    for (const task of tasks) {
      // Act
      const fn = lambdaFor(synth, task.handler);
      const env = fn.props.Environment.Variables as Json;
      const extra = nonTableStatements(synth, fn);
      const queueNames = extra.flatMap(resourcesOf).map((arn) => target(synth, arn, fn.stack)?.props.QueueName);

      // Assess
      expect(extra.map((st) => actionsOf(st).join(',')), task.id).toEqual([
        ...(task.sends ?? []).map(() => 'sqs:SendMessage'), ...(task.relayKey ? [RELAY_KEY_ACTIONS[task.relayKey].join(',')] : []),
      ]);
      expect(queueNames.filter((n) => n !== undefined), task.id).toEqual((task.sends ?? []).map((q) => `${stage}-compux-${q}`));
      for (const def of QUEUES) {
        const url = env[def.urlEnv];
        if (!(task.sends ?? []).includes(def.name)) expect(url, `${task.id} ${def.urlEnv}`).toBeUndefined();
        else expect(target(synth, url, fn.stack)?.props.QueueName, `${task.id} ${def.urlEnv}`).toBe(`${stage}-compux-${def.name}`);
      }
    }
  });
});

describe('workflow task sends', () => {
  it('fails the synth on a task that sends to a queue infra/queues.ts does not have', () => {
    // Prepare
    const sends = ['webhook-deliverys'];

    // Act
    const resolve = () => taskSends('provider-validation.GoLiveFn', sends, {});

    // Assess
    expect(resolve).toThrow('task provider-validation.GoLiveFn: sends to unknown queue "webhook-deliverys" (infra/queues.ts)');
  });
});

describe.each(STAGES)('stage %s: Schedules', (stage) => {
  it('deploys one rule per schedule with the exact expression and its target', () => {
    // Prepare
    const synth = synths[stage];
    const rules = resources(synth, 'AWS::Events::Rule', 'Schedules');
    expect(rules).toHaveLength(SCHEDULES.length);

    for (const def of SCHEDULES) {
      // Act
      const rule = rules.find((r) => r.props.Name === `${stage}-compux-${def.name}`) as Res;
      const targets = rule.props.Targets as Json[];
      expect(targets).toHaveLength(1);
      const t = targets[0] as Json;
      const pointsAt = target(synth, t.Arn, 'Schedules') as Res;

      // Assess
      expect(rule.props.ScheduleExpression).toBe(def.expression);
      if ('workflow' in def.target) {
        expect(pointsAt.type).toBe('AWS::StepFunctions::StateMachine');
        expect(pointsAt.props.StateMachineName).toBe(`${stage}-compux-${def.target.workflow}`);
        const role = target(synth, t.RoleArn, 'Schedules') as Res;
        const statements = resources(synth, 'AWS::IAM::Policy', role.stack)
          .filter((p) => (p.props.Roles as unknown[]).some((r) => refId(r) === role.id))
          .flatMap((p) => p.props.PolicyDocument.Statement as Statement[]);
        expect(statements.flatMap(actionsOf)).toEqual(['states:StartExecution']);
        expect(statements.flatMap(resourcesOf).map(refId)).toEqual([pointsAt.id]);
      } else {
        expect(pointsAt.type).toBe('AWS::Lambda::Function');
        expect(pointsAt.props.Handler).toBe(def.target.handler);
        expectTableAccess(synth, pointsAt, def.target.access);
      }
    }
  });
});

describe('operator key configuration', () => {
  it('refuses to synthesize prod without COMPUX_ADMIN_KEY_SHA256, and any malformed value', () => {
    // Prepare
    const saved = process.env.COMPUX_ADMIN_KEY_SHA256;
    try {
      // Act + Assess
      delete process.env.COMPUX_ADMIN_KEY_SHA256;
      expect(() => adminKeySha256('prod')).toThrow(/must be set/);
      expect(adminKeySha256('dev')).toBe('');
      process.env.COMPUX_ADMIN_KEY_SHA256 = 'not-a-hash';
      expect(() => adminKeySha256('dev')).toThrow(/64 hex/);
      process.env.COMPUX_ADMIN_KEY_SHA256 = 'AB'.repeat(32);
      expect(adminKeySha256('prod')).toBe('ab'.repeat(32));
    } finally {
      if (saved === undefined) delete process.env.COMPUX_ADMIN_KEY_SHA256;
      else process.env.COMPUX_ADMIN_KEY_SHA256 = saved;
    }
  });
});

describe.each(STAGES)('stage %s: Web', (stage) => {
  it('serves the dashboards from CloudFront with the API behind /v1/* at the same origin, uncached, and no error page rewriting', () => {
    // Prepare
    const synth = synths[stage];
    // Act
    const [dist] = resources(synth, 'AWS::CloudFront::Distribution', 'Web');
    const config = dist!.props.DistributionConfig as Json;
    const behaviors = config.CacheBehaviors as Json[];
    // Assess
    expect(behaviors.map((b) => b.PathPattern).sort()).toEqual([...API_PATHS].sort());
    for (const b of behaviors) {
      expect(b.AllowedMethods).toEqual(expect.arrayContaining(['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'HEAD']));
      expect(b.CachePolicyId).toBe('4135ea2d-6df8-44a3-9df3-4b5a84be39ad'); // CachingDisabled
      expect(b.OriginRequestPolicyId).toBe('b689b0a8-53d0-40ab-baf2-68738e2966ac'); // AllViewerExceptHostHeader
      const origin = (config.Origins as Json[]).find((o) => o.Id === b.TargetOriginId)!;
      expect(origin.CustomOriginConfig.OriginProtocolPolicy).toBe('https-only');
      expect(JSON.stringify(origin.DomainName)).toContain('execute-api');
    }
    expect(config.CustomErrorResponses).toBeUndefined();
    const [policy] = resources(synth, 'AWS::CloudFront::ResponseHeadersPolicy', 'Web');
    expect(policy!.props.ResponseHeadersPolicyConfig.SecurityHeadersConfig.ContentSecurityPolicy.ContentSecurityPolicy).toBe(WEB_CSP);
  });
});


describe.each(STAGES)('stage %s: Api headroom and guardrails', (stage) => {
  /** Every handler of infra/ (routes, queue consumers, workflow tasks, schedule targets): each is one tableFunction. */
  const ourHandlers = () => [
    ...ROUTES.map((r) => r.handler),
    ...QUEUES.map((q) => q.consumer),
    ...WORKFLOWS.flatMap((w) => Object.values(w.tasks).map((t) => t.handler)),
    ...SCHEDULES.flatMap((s) => ('handler' in s.target ? [s.target.handler] : [])),
  ];
  const stageMethods = (synth: Synth) => resources(synth, 'AWS::ApiGateway::Method', 'Api');

  it(`keeps every stack ${REQUIRED_HEADROOM} resources below CloudFormation's limit, now and with ${MORE_ROUTES} more routes`, () => {
    // Prepare
    const synth = synths[stage];
    const ceiling = STACK_RESOURCE_LIMIT - REQUIRED_HEADROOM;

    // Act
    const budgets = stackBudgets(synth, ROUTES.length);
    console.info(
      `${stage} stack resources (now → with ${MORE_ROUTES} more routes): ` +
        budgets.map((b) => `${b.stack} ${b.resources} → ${b.projected} (${b.perRoute.toFixed(2)}/route), worst ${b.projectedWorst}`).join(', '),
    );

    // Assess
    const budget = (stack: string) => budgets.find((b) => b.stack === stack);
    expect(budget('Api')!.perRoute).toBeGreaterThanOrEqual(2); // method, permission (+ path resources)
    expect(budget('ApiFunctions')!.perRoute).toBeGreaterThanOrEqual(1); // the Lambda (+ a share of its grant's role)
    for (const b of budgets) {
      expect(b.resources, `${b.stack} now`).toBeLessThanOrEqual(ceiling);
      expect(b.projected, `${b.stack} with ${MORE_ROUTES} more routes (${b.perRoute.toFixed(2)} per route)`).toBeLessThanOrEqual(ceiling);
      // The worst case: every new route brings a grant no route has yet (its own role, policy and log group).
      expect(b.projectedWorst, `${b.stack} with ${MORE_ROUTES} more routes, each a new grant (${b.perRouteWorst.toFixed(2)} per route)`).toBeLessThanOrEqual(ceiling);
    }
  });

  it(`keeps every stack's outputs ${MORE_ROUTES} below CloudFormation's ${STACK_OUTPUT_LIMIT}, and within it with ${MORE_ROUTES} more routes`, () => {
    // Prepare
    const synth = synths[stage];

    // Act: each route function's ARN is one ApiFunctions export (read by the Api stack and by Monitoring)
    const budgets = stackBudgets(synth, ROUTES.length);
    console.info(
      `${stage} stack outputs (now → with ${MORE_ROUTES} more routes): ` +
        budgets.map((b) => `${b.stack} ${b.outputs} → ${b.projectedOutputs} (${b.outputsPerRoute.toFixed(2)}/route)`).join(', '),
    );

    // Assess
    expect(budgets.find((b) => b.stack === 'ApiFunctions')!.outputsPerRoute).toBeGreaterThan(0); // measured, not assumed
    for (const b of budgets) {
      expect(b.outputs, `${b.stack} outputs now`).toBeLessThanOrEqual(STACK_OUTPUT_LIMIT - MORE_ROUTES);
      expect(b.projectedOutputs, `${b.stack} outputs with ${MORE_ROUTES} more routes (${b.outputsPerRoute.toFixed(2)} per route)`).toBeLessThanOrEqual(
        STACK_OUTPUT_LIMIT,
      );
    }
  });

  it('gives every function a log group with the stage retention, shared only with the functions of its role and writable by that role only; no Custom::LogRetention or SSM parameter per function', () => {
    // Prepare
    const synth = synths[stage];
    const lambdas = ourHandlers().map((h) => lambdaFor(synth, h));

    // Act
    const logGroupOf = new Map(lambdas.map((fn) => [fn.id, refId(fn.props.LoggingConfig?.LogGroup)]));

    // Assess
    expect(resources(synth, 'Custom::LogRetention')).toEqual([]);
    expect(resources(synth, 'AWS::SSM::Parameter').filter((p) => JSON.stringify(p.props.Name).includes('/Function/'))).toEqual([]);
    // One log group per execution role: functions share a group exactly when they share a role.
    const roleOf = new Map(lambdas.map((fn) => [fn.id, `${fn.stack}/${refId(fn.props.Role)}`]));
    expect(new Set(lambdas.map((fn) => `${fn.stack}/${logGroupOf.get(fn.id)}`)).size).toBe(new Set(roleOf.values()).size);
    for (const fn of lambdas) {
      const logGroup = resource(synth, fn.stack, logGroupOf.get(fn.id) as string);
      expect(logGroup.type, fn.id).toBe('AWS::Logs::LogGroup');
      expect(logGroup.props.RetentionInDays, fn.id).toBe(stage === 'prod' ? 365 : 14);
      expect(logGroup.raw.DeletionPolicy, fn.id).toBe(stage === 'prod' ? 'Retain' : 'Delete');
      const role = resource(synth, fn.stack, refId(fn.props.Role) as string);
      expect(role.props.ManagedPolicyArns, `${fn.id}: no AWS managed policy`).toBeUndefined();
      // The role writes exactly the log groups of the functions that run as it.
      const sharers = lambdas.filter((other) => other.stack === fn.stack && refId(other.props.Role) === role.id);
      const logStatements = functionStatements(synth, fn).filter((s) => actionsOf(s).some((a) => a.startsWith('logs:')));
      expect(logStatements.flatMap(actionsOf).sort(), fn.id).toEqual([...LOG_WRITE_ACTIONS].sort());
      expect(logStatements.flatMap(resourcesOf).map(refId).sort(), fn.id).toEqual([...new Set(sharers.map((s) => logGroupOf.get(s.id)))].sort());
    }
  });

  it('shares an execution role only between routes with an identical grant; every other function has its own', () => {
    // Prepare
    const synth = synths[stage];
    const grant = (row: (typeof ROUTES)[number]) =>
      JSON.stringify([tableActions(row.access), [...new Set(row.sends ?? [])].sort(), [...new Set(row.starts ?? [])].sort(), row.relayKey ?? null]);

    // Act
    const byRole = new Map<string, Set<string>>();
    for (const row of ROUTES) {
      const role = refId(lambdaFor(synth, row.handler).props.Role) as string;
      byRole.set(role, (byRole.get(role) ?? new Set()).add(grant(row)));
    }
    const others = [...QUEUES.map((q) => q.consumer), ...WORKFLOWS.flatMap((w) => Object.values(w.tasks).map((t) => t.handler))];
    const otherRoles = others.map((h) => lambdaFor(synth, h)).map((fn) => `${fn.stack}/${refId(fn.props.Role)}`);

    // Assess
    for (const [role, grants] of byRole) expect([...grants], `routes running as ${role}`).toHaveLength(1);
    expect(byRole.size).toBe(new Set(ROUTES.map(grant)).size);
    expect(new Set(otherRoles).size).toBe(otherRoles.length);
  });

  it('adds a CORS preflight only on the paths of rows marked cors', () => {
    // Prepare
    const synth = synths[stage];

    // Act
    const options = stageMethods(synth).filter((m) => m.props.HttpMethod === 'OPTIONS');

    // Assess
    expect(options.map((m) => apiPath(synth, 'Api', m.props.ResourceId)).sort()).toEqual(
      [...new Set(ROUTES.filter((r) => r.cors).map((r) => r.path))].sort(),
    );
  });

  it("answers each preflight with infra/cors.ts's headers for its cors rows' methods, and API Gateway's own errors with the origin", () => {
    // Prepare
    const synth = synths[stage];
    const quoted = (headers: Record<string, string>) =>
      Object.fromEntries(Object.entries(headers).map(([name, value]) => [`method.response.header.${name}`, `'${value}'`]));

    // Act
    const options = stageMethods(synth).filter((m) => m.props.HttpMethod === 'OPTIONS');
    const gatewayResponses = resources(synth, 'AWS::ApiGateway::GatewayResponse', 'Api');

    // Assess
    const methods = corsMethodsByPath(ROUTES);
    expect(options).toHaveLength(methods.size);
    for (const method of options) {
      const path = apiPath(synth, 'Api', method.props.ResourceId);
      const response = (method.props.Integration.IntegrationResponses as Json[])[0] as Json;
      expect(method.props.Integration.Type, path).toBe('MOCK');
      expect(response.StatusCode, path).toBe('204');
      expect(response.ResponseParameters, path).toEqual(quoted(preflightHeaders(methods.get(path)!)));
    }
    expect(gatewayResponses.map((r) => r.props.ResponseType).sort()).toEqual(['DEFAULT_4XX', 'DEFAULT_5XX']);
    for (const r of gatewayResponses) {
      expect(r.props.ResponseParameters).toEqual(
        Object.fromEntries(Object.entries(GATEWAY_RESPONSE_CORS_HEADERS).map(([name, value]) => [`gatewayresponse.header.${name}`, `'${value}'`])),
      );
    }
  });

  it('turns on API Gateway compression of buffered replies from infra/compression.ts\'s threshold', () => {
    // Prepare
    const synth = synths[stage];

    // Act
    const [restApi] = resources(synth, 'AWS::ApiGateway::RestApi', 'Api');

    // Assess
    expect((restApi as Res).props.MinimumCompressionSize).toBe(MIN_COMPRESSION_BYTES);
  });

  it('throttles the stage per method, the inference methods with their own limits, and logs access and errors', () => {
    // Prepare
    const synth = synths[stage];
    const throttles = apiThrottles(stage);

    // Act
    const [apiStage] = resources(synth, 'AWS::ApiGateway::Stage', 'Api');
    const settings = (apiStage as Res).props.MethodSettings as Json[];
    const setting = (path: string, method: string) => settings.find((s) => s.ResourcePath === path && s.HttpMethod === method);

    // Assess
    expect(resources(synth, 'AWS::ApiGateway::Stage', 'Api')).toHaveLength(1);
    expect(setting('/*', '*')).toMatchObject({
      ThrottlingRateLimit: throttles.default.rateLimit,
      ThrottlingBurstLimit: throttles.default.burstLimit,
      LoggingLevel: 'ERROR',
      DataTraceEnabled: false,
    });
    const inference = ROUTES.filter(isInferenceRoute);
    expect(inference.length).toBeGreaterThan(0);
    for (const row of inference) {
      expect(setting(`/${row.path.replace(/\//g, '~1')}`, row.method), routeKey(row)).toMatchObject({
        ThrottlingRateLimit: throttles.inference.rateLimit,
        ThrottlingBurstLimit: throttles.inference.burstLimit,
      });
    }
    expect(settings).toHaveLength(1 + inference.length);
    const accessLog = target(synth, (apiStage as Res).props.AccessLogSetting.DestinationArn, 'Api') as Res;
    expect(accessLog.type).toBe('AWS::Logs::LogGroup');
    expect(accessLog.props.RetentionInDays).toBe(stage === 'prod' ? 365 : 14);
    expect((apiStage as Res).props.AccessLogSetting.Format).toContain('$context.requestId');
    const execution = resources(synth, 'AWS::Logs::LogGroup', 'Api').filter((g) =>
      JSON.stringify(g.props.LogGroupName ?? '').includes('API-Gateway-Execution-Logs_'),
    );
    expect(execution).toHaveLength(1);
    expect((execution[0] as Res).props.RetentionInDays).toBe(stage === 'prod' ? 365 : 14);
  });

  it('validates every method against one request validator and gives each route function one stage-scoped invoke permission', () => {
    // Prepare
    const synth = synths[stage];
    const validators = resources(synth, 'AWS::ApiGateway::RequestValidator', 'Api');
    const permissions = resources(synth, 'AWS::Lambda::Permission', 'Api');

    // Act
    const methods = stageMethods(synth).filter((m) => m.props.HttpMethod !== 'OPTIONS');

    // Assess
    expect(validators).toHaveLength(1);
    expect((validators[0] as Res).props).toMatchObject({ ValidateRequestBody: true, ValidateRequestParameters: true });
    for (const m of methods) {
      expect(refId(m.props.RequestValidatorId), m.id).toBe((validators[0] as Res).id);
      const params = [...apiPath(synth, 'Api', m.props.ResourceId).matchAll(/\{([A-Za-z0-9_]+)\+?\}/g)].map((x) => `method.request.path.${x[1]}`);
      expect(Object.keys(m.props.RequestParameters ?? {}).sort(), m.id).toEqual(params.sort());
    }
    const fns = routeFunctions(synth);
    expect(fns).toHaveLength(ROUTES.length);
    // The invoke permissions are the Api stack's (on the imported functions); the functions' stack has none.
    expect(resources(synth, 'AWS::Lambda::Permission', 'ApiFunctions')).toEqual([]);
    for (const fn of fns) {
      const own = permissions.filter((p) => target(synth, p.props.FunctionName, 'Api')?.id === fn.id);
      expect(own, fn.id).toHaveLength(1);
      const source = JSON.stringify((own[0] as Res).props.SourceArn);
      expect(source, fn.id).not.toContain('test-invoke-stage');
      expect(source, fn.id).toContain('"Ref":"ApiDeploymentStage');
    }
  });
});
