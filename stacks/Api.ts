/**
 * The API: an API Gateway REST API (payload v1 proxy events for every handler) in front of the route Lambdas of
 * stacks/ApiFunctions.ts, one per row of infra/routes.ts. This stack holds the REST API, its methods and path
 * resources, one invoke permission per route, the stage (deployment, access and execution logs, throttling) and
 * the request validator; the functions, their roles, policies and log groups live in the ApiFunctions stack.
 * Each function is imported here by its ARN (stacks/common.ts `importFunction`), so its invoke permission is
 * created in this stack and the ApiFunctions stack never references this one (no dependency cycle).
 *
 * Resource budget (CloudFormation's 500 per stack, SPEC §9: never within 100 of it; docs/stacks.md has the
 * counts): a route costs this stack its method and one invoke permission (scoped to the route's stage, method and
 * path; no console test-invoke permission), plus its API path resources. No CORS preflight unless a row asks for
 * it (`cors: true`, the OpenAI-compatible routes): the dashboards call the API at their own origin (stacks/Web.ts
 * routes /v1/* through CloudFront).
 *
 * Compression: `minCompressionSize` makes API Gateway gzip (or deflate) buffered replies of 1 KiB and more when
 * asked; it cannot encode a streamed integration response, so the streamed rows' handlers compress their plain
 * replies themselves (functions/lib/reply.ts, infra/compression.ts).
 *
 * Rows with `streaming: true` use API Gateway REST response streaming: integration ResponseTransferMode
 * STREAM and the Lambda InvokeWithResponseStream URI (.../2021-11-15/functions/<arn>/response-streaming-invocations).
 * aws-cdk-lib 2.224.0's LambdaIntegration has no `responseTransferMode` option (it arrived in 2.230.0), so both are
 * set with CloudFormation property overrides on the CfnMethod. The handler of such a row must be wrapped in
 * `awslambda.streamifyResponse` and write the API Gateway streaming format (metadata, delimiter, body).
 */
import { ApiGatewayV1Api, use, type StackContext } from 'sst/constructs';
import { Duration, Fn as CfnFn, Size, Stack } from 'aws-cdk-lib';
import * as apig from 'aws-cdk-lib/aws-apigateway';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import {
  BUFFERED_FUNCTION_TIMEOUT_SECONDS,
  BUFFERED_INTEGRATION_TIMEOUT_SECONDS,
  STREAMING_TIMEOUT_SECONDS,
  ROUTES,
  routeKey,
  routeTimeouts,
  type RouteDef,
} from '../infra/routes.js';
import { CORS_ALLOW_HEADERS, CORS_ALLOW_ORIGIN, CORS_MAX_AGE_SECONDS, GATEWAY_RESPONSE_CORS_HEADERS, corsMethodsByPath } from '../infra/cors.js';
import { MIN_COMPRESSION_BYTES } from '../infra/compression.js';
import { PROD_STAGE } from './Storage.js';
import { ApiFunctions, routeFunctionId } from './ApiFunctions.js';
import { importFunction, logRemovalPolicy, logRetention } from './common.js';

// Buffered routes: the integration waits 29 s, the Lambda at most 25 s (defined with the rows, so the local
// runtime reads the same numbers): it must time out first, with room for its error reply, or the caller gets a 504.
export { BUFFERED_FUNCTION_TIMEOUT_SECONDS, BUFFERED_INTEGRATION_TIMEOUT_SECONDS, STREAMING_TIMEOUT_SECONDS, routeTimeouts };

export interface Throttle {
  /** Steady-state requests per second. */
  rateLimit: number;
  /** Bucket size: requests accepted at once. */
  burstLimit: number;
}

/**
 * Stage throttling, the one place to tune it. `default` is the stage's default *method* throttle (API Gateway
 * applies it to each method separately); `inference` overrides it on the paid inference methods
 * (INFERENCE_ROUTES), the API's hot path. Per-key rpm/tpm limits (functions/) come on top of these.
 */
export const API_THROTTLES: Record<'prod' | 'other', { default: Throttle; inference: Throttle }> = {
  // Inference on prod: the account's default API Gateway quota in a region (10,000 req/s, burst 5,000), since one
  // startup may run at 10k req/s (issue 13); per-key rpm/tpm and credit are the business limits.
  prod: { default: { rateLimit: 100, burstLimit: 200 }, inference: { rateLimit: 10_000, burstLimit: 5_000 } },
  other: { default: { rateLimit: 20, burstLimit: 40 }, inference: { rateLimit: 50, burstLimit: 100 } },
};

export function apiThrottles(stage: string): { default: Throttle; inference: Throttle } {
  return stage === PROD_STAGE ? API_THROTTLES.prod : API_THROTTLES.other;
}

/** The paid inference methods (chat, completions, embeddings), which get API_THROTTLES.*.inference. */
export function isInferenceRoute(row: RouteDef): boolean {
  return row.method === 'POST' && row.handler.startsWith('functions/inference.');
}

/**
 * The CORS preflight a row with `cors: true` gets (an OPTIONS mock on its path), from infra/cors.ts (the policy the
 * local runtime serves too): any origin, since API keys travel as bearer tokens, never cookies. The handler's own
 * replies carry Access-Control-Allow-Origin and -Expose-Headers (functions/lib/reply.ts: a proxy integration passes
 * the Lambda's headers through); API Gateway's own 4XX/5XX replies get the origin here.
 */
export const CORS_PREFLIGHT: Omit<apig.CorsOptions, 'allowMethods'> = {
  allowOrigins: [CORS_ALLOW_ORIGIN],
  allowHeaders: [...CORS_ALLOW_HEADERS],
  maxAge: Duration.seconds(CORS_MAX_AGE_SECONDS),
};

/** `{name}` / `{name+}` path parameters as required method request parameters (checked by the validator). */
function pathParameters(path: string): Record<string, boolean> {
  return Object.fromEntries([...path.matchAll(/\{([A-Za-z0-9_]+)\+?\}/g)].map((m) => [`method.request.path.${m[1]}`, true]));
}

export function Api({ stack, app }: StackContext) {
  const { functions } = use(ApiFunctions);
  const throttles = apiThrottles(app.stage);

  const api = new ApiGatewayV1Api(stack, 'Api', {
    // No preflight on every path: only rows with `cors: true` get one (below).
    cors: false,
    // SST's access log group (JSON lines: request id, method, path, status, latency, integration status, IP...).
    accessLog: { retention: app.stage === PROD_STAGE ? 'one_year' : 'two_weeks' },
    cdk: {
      restApi: {
        // Regional: a streamed response's idle timeout is 5 min there (30 s on edge-optimized endpoints).
        endpointConfiguration: { types: [apig.EndpointType.REGIONAL] },
        description: `CompuX API (${app.stage})`,
        // API Gateway's own gzip/deflate for buffered replies from 1 KiB (infra/compression.ts). Streamed rows are
        // not encoded by API Gateway: their handlers compress a plain (non-SSE) reply themselves.
        minCompressionSize: Size.bytes(MIN_COMPRESSION_BYTES),
        deployOptions: {
          throttlingRateLimit: throttles.default.rateLimit,
          throttlingBurstLimit: throttles.default.burstLimit,
          methodOptions: Object.fromEntries(
            ROUTES.filter(isInferenceRoute).map((row) => [
              `${row.path}/${row.method}`,
              { throttlingRateLimit: throttles.inference.rateLimit, throttlingBurstLimit: throttles.inference.burstLimit },
            ]),
          ),
          // Execution logs: errors only, never request or response bodies (they carry keys and money figures).
          loggingLevel: apig.MethodLoggingLevel.ERROR,
          dataTraceEnabled: false,
        },
      },
    },
  });
  const restApi = api.cdk.restApi;
  const accessLogGroup = api.cdk.accessLogGroup as logs.LogGroup;
  accessLogGroup.applyRemovalPolicy(logRemovalPolicy(app.stage));
  // API Gateway creates the execution log group on first write, never expiring: own it instead.
  const executionLogGroup = new logs.LogGroup(stack, 'ApiExecutionLogs', {
    logGroupName: CfnFn.join('', ['API-Gateway-Execution-Logs_', restApi.restApiId, `/${app.stage}`]),
    retention: logRetention(app.stage),
    removalPolicy: logRemovalPolicy(app.stage),
  });
  restApi.deploymentStage.node.addDependency(executionLogGroup);

  // Required path parameters on every method; bodies are validated by the handlers' zod schemas (a JSON-schema
  // model per body would cost one resource per route).
  const requestValidator = restApi.addRequestValidator('RequestValidator', {
    validateRequestParameters: true,
    validateRequestBody: true,
  });

  for (const row of ROUTES) {
    const key = routeKey(row);
    const { integrationSeconds } = routeTimeouts(row);
    const fn = functions[key];
    if (!fn) throw new Error(`${key}: no route function (stacks/ApiFunctions.ts)`);
    // The ApiFunctions stack's Lambda, imported here by its ARN: the integration's invoke permission is created
    // in this stack (scoped to the stage, method and path) and the functions' stack never references this one.
    const handler = importFunction(stack, routeFunctionId(row), fn);

    api.addRoutes(stack, {
      [key]: {
        cdk: {
          function: handler,
          // One invoke permission, scoped to this stage, method and path (none for the console's test-invoke).
          integration: { timeout: Duration.seconds(integrationSeconds), allowTestInvoke: false },
          method: { requestValidator, requestParameters: pathParameters(row.path) },
        },
      },
    });
    if (row.streaming) enableResponseStreaming(api, row, handler);
  }

  addCorsPreflights(restApi, ROUTES);

  stack.addOutputs({ ApiUrl: api.url });
  // The route functions themselves: use(ApiFunctions).functions.
  return { api, stage: restApi.deploymentStage, accessLogGroup, executionLogGroup };
}

/** The one place CORS is turned on: a preflight on each path with a `cors: true` row, for those rows' methods. */
function addCorsPreflights(restApi: apig.RestApi, rows: readonly RouteDef[]): void {
  const methods = corsMethodsByPath(rows);
  for (const [path, allowMethods] of methods) {
    restApi.root.resourceForPath(path).addCorsPreflight({ ...CORS_PREFLIGHT, allowMethods });
  }
  if (methods.size === 0) return;
  // API Gateway's own refusals (throttling, a timed-out integration, ...) readable by a cross-origin caller too.
  const responseHeaders = Object.fromEntries(Object.entries(GATEWAY_RESPONSE_CORS_HEADERS).map(([name, value]) => [name, `'${value}'`]));
  for (const [id, type] of [
    ['CorsDefault4XX', apig.ResponseType.DEFAULT_4XX],
    ['CorsDefault5XX', apig.ResponseType.DEFAULT_5XX],
  ] as const) {
    restApi.addGatewayResponse(id, { type, responseHeaders });
  }
}

/** Switch a route's integration to API Gateway REST response streaming (see the file comment). */
function enableResponseStreaming(api: ApiGatewayV1Api, row: RouteDef, fn: IFunction): void {
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
