/**
 * The API: an API Gateway REST API (payload v1 proxy events for every handler) with one Lambda per row
 * of infra/routes.ts. Each Lambda gets only its row's table access, plus sqs:SendMessage / states:StartExecution
 * on exactly the queues / workflows its row names in `sends` / `starts`.
 *
 * Rows with `streaming: true` use API Gateway REST response streaming: integration ResponseTransferMode
 * STREAM and the Lambda InvokeWithResponseStream URI (.../2021-11-15/functions/<arn>/response-streaming-invocations).
 * aws-cdk-lib 2.224.0's LambdaIntegration has no `responseTransferMode` option (it arrived in 2.230.0), so both are
 * set with CloudFormation property overrides on the CfnMethod. The handler of such a row must be wrapped in
 * `awslambda.streamifyResponse` and write the API Gateway streaming format (metadata, delimiter, body).
 */
import { ApiGatewayV1Api, use, type StackContext, type Function as SstFunction } from 'sst/constructs';
import { Duration, Fn as CfnFn, Stack } from 'aws-cdk-lib';
import * as apig from 'aws-cdk-lib/aws-apigateway';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { ROUTES, routeKey, type RouteDef } from '../infra/routes.js';
import { Storage, PROD_STAGE } from './Storage.js';
import { Queues } from './Queues.js';
import { Workflows } from './Workflows.js';
import { constructId, tableFunction } from './common.js';

/** API Gateway's cap for a buffered (non-streaming) REST integration, without a quota increase. */
export const BUFFERED_TIMEOUT_SECONDS = 29;
/** API Gateway's cap for a streamed REST integration. */
export const STREAMING_TIMEOUT_SECONDS = 15 * 60;

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

export function routeTimeoutSeconds(row: RouteDef): number {
  const limit = row.streaming ? STREAMING_TIMEOUT_SECONDS : BUFFERED_TIMEOUT_SECONDS;
  const timeout = row.timeoutSeconds ?? BUFFERED_TIMEOUT_SECONDS;
  if (timeout > limit) {
    throw new Error(`${routeKey(row)}: timeoutSeconds ${timeout} exceeds API Gateway's ${limit} s for ${row.streaming ? 'streamed' : 'buffered'} integrations`);
  }
  return timeout;
}

export function Api({ stack, app }: StackContext) {
  const { cdkTable } = use(Storage);
  const { queues } = use(Queues);
  const { workflows } = use(Workflows);
  const adminKey = adminKeySha256(app.stage);

  const api = new ApiGatewayV1Api(stack, 'Api', {
    cdk: {
      restApi: {
        // Regional: a streamed response's idle timeout is 5 min there (30 s on edge-optimized endpoints).
        endpointConfiguration: { types: [apig.EndpointType.REGIONAL] },
        description: `CompuX API (${app.stage})`,
      },
    },
  });

  const functions: Record<string, SstFunction> = {};
  for (const row of ROUTES) {
    const key = routeKey(row);
    const timeout = routeTimeoutSeconds(row);
    const environment: Record<string, string> = { COMPUX_ADMIN_KEY_SHA256: adminKey };
    const statements: PolicyStatement[] = [];

    for (const name of row.sends ?? []) {
      const q = queues[name];
      if (!q) throw new Error(`${key}: sends to unknown queue "${name}" (infra/queues.ts)`);
      environment[q.def.urlEnv] = q.queue.queueUrl;
      statements.push(new PolicyStatement({ effect: Effect.ALLOW, actions: ['sqs:SendMessage'], resources: [q.queue.queueArn] }));
    }
    for (const name of row.starts ?? []) {
      const w = workflows[name];
      if (!w) throw new Error(`${key}: starts unknown workflow "${name}" (infra/workflows.ts)`);
      environment[w.def.arnEnv] = w.stateMachine.stateMachineArn;
      statements.push(
        new PolicyStatement({ effect: Effect.ALLOW, actions: ['states:StartExecution'], resources: [w.stateMachine.stateMachineArn] }),
      );
    }

    const fn = tableFunction(stack, constructId('Route', row.method, row.path), {
      handler: row.handler,
      access: row.access,
      table: cdkTable,
      timeout,
      environment,
      statements,
    });
    functions[key] = fn;

    api.addRoutes(stack, {
      [key]: { function: fn, cdk: { integration: { timeout: Duration.seconds(timeout) } } },
    });
    if (row.streaming) enableResponseStreaming(api, row, fn);
  }

  stack.addOutputs({ ApiUrl: api.url });
  return { api, functions };
}

/** Switch a route's integration to API Gateway REST response streaming (see the file comment). */
function enableResponseStreaming(api: ApiGatewayV1Api, row: RouteDef, fn: SstFunction): void {
  const resource = api.cdk.restApi.root.resourceForPath(row.path);
  const method = resource.node.findChild(row.method) as apig.Method;
  const cfnMethod = method.node.defaultChild as apig.CfnMethod;
  const stack = Stack.of(method);
  const uri = CfnFn.join('', [
    `arn:${stack.partition}:apigateway:${stack.region}:lambda:path/2021-11-15/functions/`,
    fn.functionArn,
    '/response-streaming-invocations',
  ]);
  cfnMethod.addPropertyOverride('Integration.ResponseTransferMode', 'STREAM');
  cfnMethod.addPropertyOverride('Integration.Uri', uri);
  // Overrides are invisible to the Deployment's hash: fold them in so toggling streaming redeploys the stage.
  api.cdk.restApi.latestDeployment?.addToLogicalId({ streaming: routeKey(row), transferMode: 'STREAM' });
}
