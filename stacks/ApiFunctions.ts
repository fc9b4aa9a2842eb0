/**
 * The route Lambdas of the API: one per row of infra/routes.ts, with their execution roles, the roles' policies
 * and log groups. The REST API that calls them (methods, path resources, invoke permissions, stage) is the Api
 * stack (stacks/Api.ts), which imports each function by its ARN: this stack never references the Api stack, so
 * there is no dependency cycle, and each route costs this stack one output (the function's ARN export, read by
 * the Api stack and by Monitoring's alarms).
 *
 * Each Lambda gets only its row's table access, plus sqs:SendMessage / states:StartExecution on exactly the
 * queues / workflows its row names in `sends` / `starts`, and the KMS actions of its `relayKey` on the relay
 * key-encryption key. Routes with an identical grant (same access, sends
 * and starts: `grantProfile`) share one execution role, its policy and its log group (stacks/common.ts
 * `tableFunction`), so roles, policies and log groups grow with the number of distinct grants, not of routes.
 *
 * Resource budget (CloudFormation's 500 resources and 200 outputs per stack, SPEC §9: never within 100
 * resources of the limit; docs/stacks.md has the counts): a route costs this stack its Lambda and one output,
 * plus a role, its policy and its log group when its grant is new.
 */
import { use, type StackContext, type Function as SstFunction } from 'sst/constructs';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { ROUTES, routeKey, routeTimeouts, takesCursor, type RouteDef } from '../infra/routes.js';
import { CURSOR_SECRET_ENV } from '../functions/lib/settings.js';
import { QUEUE_SEND_ACTIONS, WORKFLOW_START_ACTIONS, grantOf } from '../infra/access.js';
import { Storage, PROD_STAGE } from './Storage.js';
import { Queues } from './Queues.js';
import { Workflows } from './Workflows.js';
import { constructId, relayKeyGrant, tableFunction } from './common.js';

/**
 * The operator key's SHA-256 (hex), read at synth time from the environment (or the stage's .env file,
 * which `sst deploy` loads). Required on prod; elsewhere it may be empty, and then no operator key is accepted.
 */
export function adminKeySha256(stage: string): string {
  const value = (process.env.COMPUX_ADMIN_KEY_SHA256 ?? '').trim().toLowerCase();
  if (value !== '' && !/^[0-9a-f]{64}$/.test(value)) {
    throw new Error('COMPUX_ADMIN_KEY_SHA256 must be the hex SHA-256 of the operator key (64 hex characters)');
  }
  if (value === '' && stage === PROD_STAGE) {
    throw new Error(`COMPUX_ADMIN_KEY_SHA256 must be set to deploy stage "${PROD_STAGE}"`);
  }
  return value;
}

/**
 * A route's grant as a role profile: its DynamoDB actions (tableActions), the queues it sends to, the state
 * machines it starts. Routes with the same profile have the same grant, so they share one execution role.
 */
export function grantProfile(row: RouteDef): string {
  const grant = grantOf(row);
  return constructId(
    grant.tableActions.map((a) => a.replace(/^dynamodb:/, '')).join('_') || 'NoTable',
    ...grant.queues.map((q) => `sends_${q}`),
    ...grant.workflows.map((w) => `starts_${w}`),
    ...(row.relayKey ? [`relayKey_${row.relayKey}`] : []),
  );
}

/** The construct id of a row's Lambda (in this stack) and of its import (in the Api stack). */
export function routeFunctionId(row: RouteDef): string {
  return constructId('Route', row.method, row.path);
}

export function ApiFunctions({ stack, app }: StackContext) {
  const { cdkTable, cursorSecret, relayKek } = use(Storage);
  const { queues } = use(Queues);
  const { workflows } = use(Workflows);
  const adminKey = adminKeySha256(app.stage);

  /** Route key ("GET /v1/x") → its Lambda. */
  const functions: Record<string, SstFunction> = {};
  for (const row of ROUTES) {
    const key = routeKey(row);
    // Fails the synth on a buffered row above 25 s (the integration, in the Api stack, waits 29 s).
    const { functionSeconds } = routeTimeouts(row);
    const environment: Record<string, string> = { COMPUX_ADMIN_KEY_SHA256: adminKey };
    // Rows that page a list seal and open its cursors with the stage's cursor secret, and only they get it: a
    // CloudFormation dynamic reference, resolved at deploy, so the value is in no template and needs no call at start.
    if (takesCursor(row)) environment[CURSOR_SECRET_ENV] = cursorSecret.secretValue.unsafeUnwrap();
    // Only the rows that sign relay tokens or rotate their keys may use the key-encryption key, and know its id.
    const relay = relayKeyGrant(row.relayKey, relayKek);
    Object.assign(environment, relay.environment);
    const statements: PolicyStatement[] = [...relay.statements];

    const grant = grantOf(row);
    for (const name of grant.queues) {
      const q = queues[name];
      if (!q) throw new Error(`${key}: sends to unknown queue "${name}" (infra/queues.ts)`);
      environment[q.def.urlEnv] = q.queue.queueUrl;
      statements.push(new PolicyStatement({ effect: Effect.ALLOW, actions: [...QUEUE_SEND_ACTIONS], resources: [q.queue.queueArn] }));
    }
    for (const name of grant.workflows) {
      const w = workflows[name];
      if (!w) throw new Error(`${key}: starts unknown workflow "${name}" (infra/workflows.ts)`);
      environment[w.def.arnEnv] = w.stateMachine.stateMachineArn;
      statements.push(
        new PolicyStatement({ effect: Effect.ALLOW, actions: [...WORKFLOW_START_ACTIONS], resources: [w.stateMachine.stateMachineArn] }),
      );
    }

    functions[key] = tableFunction(stack, routeFunctionId(row), {
      handler: row.handler,
      access: row.access,
      table: cdkTable,
      timeout: functionSeconds,
      environment,
      statements,
      roleProfile: grantProfile(row),
    });
  }

  return { functions };
}
