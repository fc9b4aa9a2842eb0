/**
 * Grants enforced locally (SPEC §9): every DynamoDB, SQS and Step Functions call a handler makes is checked
 * against its row (infra/access.ts grantOf, the same derivation the stacks attach), and a call outside it fails
 * with AccessDenied as on AWS (local/grants.ts).
 *
 * - offline: each SDK operation maps to the IAM actions and resources AWS evaluates; a refused call has AWS's
 *   error shape, is never retried and never sent; core's transact() does not mistake it for contention;
 * - through the runtime: every row of ROUTES, SCHEDULES, QUEUES and every workflow task runs its handler on a
 *   normal path and an error path, and no call was refused and no reply was a 5xx. The case table must name
 *   every row, so a new row without a case fails here;
 * - a handler run under a reduced grant (a route whose access is []) is refused: 500, and the denial recorded.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { ROUTES, routeKey, type RouteDef } from '../../infra/routes.js';
import { SCHEDULES } from '../../infra/schedules.js';
import { QUEUES } from '../../infra/queues.js';
import { WORKFLOWS } from '../../infra/workflows.js';
import { grantOf, tableActions } from '../../infra/access.js';
import { CALL_GUARD_MIDDLEWARE, guardClient } from '../../packages/core/src/adapters/clients.js';
import { documentClient, transact } from '../../packages/core/src/adapters/dynamodb/index.js';
import { monthOf, nowIso, nowS, shiftPeriod } from '../../packages/core/src/clock.js';
import { RelayVerifier, signCapacityReport } from '../../packages/provider-kit/src/index.js';
import { startSimulator, type Simulator } from '../../packages/simulator/src/index.js';
import { accessDenied, allows, dynamoTableArn, firstDenied, permissionsFor, queueArnFromUrl, withGrant, installGrantEnforcement, type ResolvedGrant } from '../../local/grants.js';
import { createLambdaContext, functionNameFor, invokeHandler } from '../../local/lambda.js';
import { REPO_ROOT } from '../../local/aws.js';
import { stateMachineArn } from '../../local/stepfunctions.js';
import { startTestRuntime, type TestRuntime } from '../api/runtime.js';
import { client, type Reply } from '../api/client.js';
import { recordedRequest } from '../api/served.js';

/** The month the routes test settles, fixed when the file loads: two before the open one, so settleable at any hour. */
const SETTLED = shiftPeriod(monthOf(nowIso()), -2);

// Every call here comes from 127.0.0.1: room for the walk's applications, a small calculator limit to reach.
process.env.COMPUX_APPLICATIONS_PER_MINUTE = '50';
process.env.COMPUX_ESTIMATES_PER_MINUTE = '4';
// A validation run of a few probes (the onboarding tests cover the full counts).
process.env.COMPUX_VALIDATION_RELIABILITY_PROBES = '2';
process.env.COMPUX_VALIDATION_LATENCY_PROBES = '2';
process.env.COMPUX_VALIDATION_THROUGHPUT_STREAMS = '1';

const TABLE = 'grants-offline';
/** A call's outcome as one object: its error, or a stand-in when it succeeded. */
const sent_ = (): Record<string, any> => ({ name: 'succeeded' });
const failed_ = (e: unknown) => e as Record<string, any>;
const grant = (over: Partial<ResolvedGrant> = {}): ResolvedGrant => ({
  functionName: 'compux-local-test-fn',
  handler: 'functions/test.fn',
  tableActions: new Set<string>(),
  tableArn: dynamoTableArn(TABLE),
  queueArns: new Set<string>(),
  stateMachineArns: new Set<string>(),
  ...over,
});

describe('the checker, offline', () => {
  it('maps each DynamoDB operation to the actions and resources IAM evaluates', () => {
    const t = dynamoTableArn(TABLE);
    const key = { pk: { S: 'a' }, sk: { S: 'b' } };
    expect(permissionsFor({ service: 'dynamodb', operation: 'GetItem', input: { TableName: TABLE, Key: key } })).toEqual([{ action: 'dynamodb:GetItem', resource: t }]);
    expect(permissionsFor({ service: 'dynamodb', operation: 'PutItem', input: { TableName: TABLE } })).toEqual([{ action: 'dynamodb:PutItem', resource: t }]);
    expect(permissionsFor({ service: 'dynamodb', operation: 'UpdateItem', input: { TableName: TABLE } })).toEqual([{ action: 'dynamodb:UpdateItem', resource: t }]);
    expect(permissionsFor({ service: 'dynamodb', operation: 'DeleteItem', input: { TableName: TABLE } })).toEqual([{ action: 'dynamodb:DeleteItem', resource: t }]);
    expect(permissionsFor({ service: 'dynamodb', operation: 'Query', input: { TableName: TABLE } })).toEqual([{ action: 'dynamodb:Query', resource: t }]);
    expect(permissionsFor({ service: 'dynamodb', operation: 'Query', input: { TableName: TABLE, IndexName: 'byStartup' } })).toEqual([{ action: 'dynamodb:Query', resource: `${t}/index/byStartup` }]);
    expect(permissionsFor({ service: 'dynamodb', operation: 'Scan', input: { TableName: TABLE } })).toEqual([{ action: 'dynamodb:Scan', resource: t }]);
    expect(permissionsFor({ service: 'dynamodb', operation: 'DescribeTable', input: { TableName: TABLE } })).toEqual([{ action: 'dynamodb:DescribeTable', resource: t }]);
    expect(permissionsFor({ service: 'dynamodb', operation: 'BatchGetItem', input: { RequestItems: { [TABLE]: {}, other: {} } } })).toEqual([
      { action: 'dynamodb:BatchGetItem', resource: t },
      { action: 'dynamodb:BatchGetItem', resource: dynamoTableArn('other') },
    ]);
    expect(permissionsFor({ service: 'dynamodb', operation: 'BatchWriteItem', input: { RequestItems: { [TABLE]: [] } } })).toEqual([{ action: 'dynamodb:BatchWriteItem', resource: t }]);
    expect(
      permissionsFor({
        service: 'dynamodb',
        operation: 'TransactWriteItems',
        input: { TransactItems: [{ Put: { TableName: TABLE } }, { Update: { TableName: TABLE } }, { Delete: { TableName: TABLE } }, { ConditionCheck: { TableName: TABLE } }] },
      }).map((p) => p.action),
    ).toEqual(['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem']);
    expect(permissionsFor({ service: 'dynamodb', operation: 'TransactGetItems', input: { TransactItems: [{ Get: { TableName: TABLE } }, { Get: { TableName: TABLE } }] } })).toEqual([
      { action: 'dynamodb:GetItem', resource: t },
      { action: 'dynamodb:GetItem', resource: t },
    ]);
  });

  it('maps SQS and Step Functions calls to their actions on the queue and the state machine or execution', () => {
    const url = 'http://127.0.0.1:9324/123456789012/capacity-webhooks.fifo';
    expect(queueArnFromUrl(url)).toBe('arn:aws:sqs:us-east-1:123456789012:capacity-webhooks.fifo');
    expect(permissionsFor({ service: 'sqs', operation: 'SendMessage', input: { QueueUrl: url } })).toEqual([{ action: 'sqs:SendMessage', resource: queueArnFromUrl(url) }]);
    expect(permissionsFor({ service: 'sqs', operation: 'SendMessageBatch', input: { QueueUrl: url } })).toEqual([{ action: 'sqs:SendMessage', resource: queueArnFromUrl(url) }]);
    expect(permissionsFor({ service: 'sqs', operation: 'ReceiveMessage', input: { QueueUrl: url } })).toEqual([{ action: 'sqs:ReceiveMessage', resource: queueArnFromUrl(url) }]);
    const sm = stateMachineArn('provider-validation');
    expect(permissionsFor({ service: 'states', operation: 'StartExecution', input: { stateMachineArn: sm } })).toEqual([{ action: 'states:StartExecution', resource: sm }]);
    expect(permissionsFor({ service: 'states', operation: 'DescribeExecution', input: { executionArn: `${sm}:x` } })).toEqual([{ action: 'states:DescribeExecution', resource: `${sm}:x` }]);
  });

  it('allows exactly the row: its actions on its table and its indexes, its queues, its state machines', () => {
    const g = grant({
      tableActions: new Set(tableActions(['read', 'query'])),
      queueArns: new Set([queueArnFromUrl('http://x/123456789012/q1')]),
      stateMachineArns: new Set([stateMachineArn('ledger-audit')]),
    });
    const t = dynamoTableArn(TABLE);
    expect(allows(g, { action: 'dynamodb:GetItem', resource: t })).toBe(true);
    expect(allows(g, { action: 'dynamodb:Query', resource: `${t}/index/byLender` })).toBe(true);
    expect(allows(g, { action: 'dynamodb:PutItem', resource: t })).toBe(false);
    expect(allows(g, { action: 'dynamodb:GetItem', resource: dynamoTableArn('another-table') })).toBe(false);
    expect(allows(g, { action: 'dynamodb:GetItem', resource: `${t}-suffix` })).toBe(false);
    expect(allows(g, { action: 'sqs:SendMessage', resource: queueArnFromUrl('http://x/123456789012/q1') })).toBe(true);
    expect(allows(g, { action: 'sqs:SendMessage', resource: queueArnFromUrl('http://x/123456789012/q2') })).toBe(false);
    expect(allows(g, { action: 'sqs:ReceiveMessage', resource: queueArnFromUrl('http://x/123456789012/q1') })).toBe(false);
    expect(allows(g, { action: 'states:StartExecution', resource: stateMachineArn('ledger-audit') })).toBe(true);
    expect(allows(g, { action: 'states:StartExecution', resource: stateMachineArn('provider-settlement') })).toBe(false);
    expect(allows(g, { action: 'states:DescribeExecution', resource: `${stateMachineArn('ledger-audit')}:x` })).toBe(false);
    // A transaction needs every item's action: one Put in a read-only grant refuses the whole call.
    expect(firstDenied(g, { service: 'dynamodb', operation: 'TransactWriteItems', input: { TransactItems: [{ ConditionCheck: { TableName: TABLE } }, { Put: { TableName: TABLE } }] } })).toEqual({
      action: 'dynamodb:ConditionCheckItem',
      resource: t,
    });
  });

  it('refuses with the error AWS answers: AccessDeniedException, a 400 client fault (AccessDenied, 403, for SQS)', () => {
    const e = accessDenied('dynamodb', 'compux-local-keys-list', { action: 'dynamodb:GetItem', resource: dynamoTableArn(TABLE) }) as Error & Record<string, any>;
    expect(e.name).toBe('AccessDeniedException');
    expect(e.$fault).toBe('client');
    expect(e.$metadata.httpStatusCode).toBe(400);
    expect(e.message).toBe(
      `User: arn:aws:sts::123456789012:assumed-role/compux-local-keys-list-role/compux-local-keys-list is not authorized to perform: dynamodb:GetItem on resource: ${dynamoTableArn(TABLE)} because no identity-based policy allows the dynamodb:GetItem action`,
    );
    const q = accessDenied('sqs', 'fn', { action: 'sqs:SendMessage', resource: 'arn:aws:sqs:us-east-1:123456789012:q' }) as Error & Record<string, any>;
    expect([q.name, q.$fault, q.$metadata.httpStatusCode]).toEqual(['AccessDenied', 'client', 403]);
    expect(q.message).toContain('not authorized to perform: sqs:sendmessage on resource: arn:aws:sqs:us-east-1:123456789012:q');
    const s = accessDenied('states', 'fn', { action: 'states:StartExecution', resource: stateMachineArn('ledger-audit') }) as Error & Record<string, any>;
    expect([s.name, s.$fault, s.$metadata.httpStatusCode]).toEqual(['AccessDeniedException', 'client', 400]);
  });

  it('a guarded client refuses a call outside the scope grant before sending it, once (no retry); outside any scope it is not checked', async () => {
    installGrantEnforcement();
    // Nothing listens on port 9: a call that is sent fails with a network error instead.
    const doc = documentClient({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 3 });
    let sent = 0;
    doc.middlewareStack.add((next) => async (args) => { sent++; return next(args); }, { step: 'finalizeRequest', name: 'countSends' });
    const denied: unknown[] = [];
    const g = grant({ tableActions: new Set(tableActions(['query'])), onDenied: (d) => denied.push(d) });
    // Act
    const refused = await withGrant(g, () => doc.send(new GetCommand({ TableName: TABLE, Key: { pk: 'a', sk: 'b' } }))).then(sent_, failed_);
    const tx = await withGrant(g, () => transact(doc, [{ Put: { TableName: TABLE, Item: { pk: 'a', sk: 'b' } } }])).then(sent_, failed_);
    const queried = await withGrant(g, () => doc.send(new QueryCommand({ TableName: TABLE, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': 'a' } }))).then(sent_, failed_);
    const sentAfterAllowed = sent;
    const outside = await doc.send(new GetCommand({ TableName: TABLE, Key: { pk: 'a', sk: 'b' } })).then(sent_, failed_);
    // Assess: refused calls never reached the transport; the allowed Query and the unscoped Get did (and failed on the network).
    expect(refused.name).toBe('AccessDeniedException');
    expect(refused.$metadata.attempts).toBe(1);
    expect(tx.name).toBe('AccessDeniedException'); // thrown by transact(), not reported as contention
    expect(queried.name).not.toBe('AccessDeniedException');
    expect(sentAfterAllowed).toBeGreaterThanOrEqual(1);
    expect(outside.name).not.toBe('AccessDeniedException');
    expect(sent).toBeGreaterThan(sentAfterAllowed);
    expect(denied).toHaveLength(2);
    expect(denied[1]).toMatchObject({ action: 'dynamodb:PutItem', operation: 'dynamodb:TransactWriteItems', handler: 'functions/test.fn' });
    expect(doc.middlewareStack.identify().some((m) => m.startsWith(CALL_GUARD_MIDDLEWARE))).toBe(true);
  });

  it('guards SQS and Step Functions clients the same way', async () => {
    installGrantEnforcement();
    const cfg = { endpoint: 'http://127.0.0.1:9', region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } };
    const sqs = guardClient(new SQSClient(cfg), 'sqs');
    const sfn = guardClient(new SFNClient(cfg), 'states');
    const url = 'http://127.0.0.1:9/123456789012/capacity-webhooks.fifo';
    const g = grant({ queueArns: new Set([queueArnFromUrl(url)]), stateMachineArns: new Set([stateMachineArn('provider-validation')]) });
    const other = await withGrant(g, () => sqs.send(new SendMessageCommand({ QueueUrl: url.replace('capacity', 'other'), MessageBody: '{}' }))).then(sent_, failed_);
    const otherMachine = await withGrant(g, () => sfn.send(new StartExecutionCommand({ stateMachineArn: stateMachineArn('ledger-audit') }))).then(sent_, failed_);
    const describe = await withGrant(g, () => sfn.send(new DescribeExecutionCommand({ executionArn: `${stateMachineArn('provider-validation')}:x` }))).then(sent_, failed_);
    const allowed = await withGrant(g, () => sfn.send(new StartExecutionCommand({ stateMachineArn: stateMachineArn('provider-validation') }))).then(sent_, failed_);
    expect(other.name).toBe('AccessDenied');
    expect(otherMachine.name).toBe('AccessDeniedException');
    expect(describe.name).toBe('AccessDeniedException');
    expect(allowed.name).not.toBe('AccessDeniedException');
  });

  it('every SDK client of the handlers and core is created through guardClient (so none escapes the check)', () => {
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
    const unguarded = [...files(path.join(REPO_ROOT, 'functions')), ...files(path.join(REPO_ROOT, 'packages/core/src'))].flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .filter((line) => /new [A-Za-z]+Client\(/.test(line) && !line.includes('guardClient('))
        .map((line) => `${path.relative(REPO_ROOT, f)}: ${line.trim()}`),
    );
    expect(unguarded).toEqual([]);
  });

  it('every route that takes a key may read the key item (GetItem): authentication looks it up', () => {
    const missing = ROUTES.filter((r) => !r.auth.includes('public') && !grantOf(r).tableActions.includes('dynamodb:GetItem')).map(routeKey);
    expect(missing).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Through the runtime.

type Kind = 'normal' | 'error';
let rt: TestRuntime;
let call: ReturnType<typeof client>;
const sims: Simulator[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The extra row of the reduced-grant proof: /v1/me's handler with no table access. */
const REDUCED: RouteDef = { ...ROUTES.find((r) => r.path === '/v1/me')!, path: '/v1/me-without-grant', access: [] };

/** Which path of which row was exercised, by row id ("GET /v1/keys", "schedule hold-sweeper", "task AuditShardFn"...). */
const covered = new Map<string, Set<Kind>>();
const statuses: Array<{ row: string; kind: Kind; status: number }> = [];
function mark(row: string, kind: Kind): void {
  if (!covered.has(row)) covered.set(row, new Set());
  covered.get(row)!.add(kind);
}

/** One route call on one path: the expected status, never a 5xx. */
async function hit(method: string, template: string, kind: Kind, expected: number, url: string, opts: Parameters<typeof call>[2] = {}): Promise<Reply> {
  const r = await call(method, url, opts);
  statuses.push({ row: `${method} ${template}`, kind, status: r.status });
  expect(r.status, `${kind} ${method} ${url}: ${JSON.stringify(r.body)}`).toBe(expected);
  mark(`${method} ${template}`, kind);
  return r;
}

/** A workflow task's handler invoked through the runtime with its row's grant (as the interpreter does). */
async function task(workflow: string, name: string, kind: Kind, input: unknown): Promise<{ ok: boolean; value?: any; error?: Error }> {
  const def = WORKFLOWS.find((w) => w.name === workflow)!.tasks[name]!;
  const handler = await rt.resolveHandler(def.handler);
  const context = createLambdaContext({ functionName: functionNameFor(def.handler), timeoutMs: 30_000 });
  mark(`task ${workflow}.${name}`, kind);
  try {
    return { ok: true, value: await invokeHandler(handler, input, context, 30_000, rt.grants.for(def)) };
  } catch (error) {
    return { ok: false, error: error as Error };
  }
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const invoked = (handler: string) => rt.grants.invocations.get(handler) ?? 0;

/** Webhook deliveries the routes test's receiver got (event ids), and the event it lists (the sweeper's case). */
const hooks: string[] = [];
const receiver = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    hooks.push(String(req.headers['x-compux-event-id']));
    res.writeHead(200).end();
  });
});
let webhookEvent: { id: string; created_at: string } | undefined;

beforeAll(async () => {
  rt = await startTestRuntime('grants', { demo: {}, scheduler: true, tables: { routes: [...ROUTES, REDUCED] } });
  call = client(rt.baseUrl);
});
afterAll(async () => {
  receiver.closeAllConnections();
  receiver.close();
  await Promise.all(sims.map((s) => s.stop()));
  await rt?.world?.stop();
  await rt?.stop();
});

describe('every row stays inside its grant, on its normal and its error path', () => {
  it('routes', async () => {
    const w = rt.world!;
    const admin = rt.adminKey;
    const startup = w.startupKey;
    const lender = w.lenderKey!;
    const [auroraId, aurora] = [...w.providerSecrets.entries()][0]!;
    const auroraKey = aurora.key!;
    const badKey = `cx_startup_${randomBytes(16).toString('hex')}`;
    const nobody = 'prv_nosuchprovider';

    await hit('GET', '/openapi.json', 'normal', 200, '/openapi.json');
    await hit('GET', '/openapi.json', 'error', 400, '/openapi.json?format=yaml');

    const stu = (await hit('POST', '/v1/admin/startups', 'normal', 201, '/v1/admin/startups', { key: admin, body: { name: 'Grant AI', segment: 'seed' } })).body;
    await hit('POST', '/v1/admin/startups', 'error', 403, '/v1/admin/startups', { key: startup, body: { name: 'x', segment: 'seed' } });
    const stuKey = (await hit('POST', '/v1/admin/startups/{id}/keys', 'normal', 201, `/v1/admin/startups/${stu.id}/keys`, { key: admin, body: { name: 'k' } })).body;
    await hit('POST', '/v1/admin/startups/{id}/keys', 'error', 404, '/v1/admin/startups/stu_nosuchstartup/keys', { key: admin, body: { name: 'k' } });
    await hit('POST', '/v1/admin/lenders', 'normal', 201, '/v1/admin/lenders', { key: admin, body: { name: 'Grant Capital' } });
    await hit('POST', '/v1/admin/lenders', 'error', 400, '/v1/admin/lenders', { key: admin, body: { name: '' } });

    const mine = (await hit('POST', '/v1/keys', 'normal', 201, '/v1/keys', { key: startup, body: { name: 'mine' } })).body;
    await hit('POST', '/v1/keys', 'error', 403, '/v1/keys', { key: lender, body: { name: 'x' } });
    await hit('GET', '/v1/keys', 'normal', 200, '/v1/keys', { key: startup });
    await hit('GET', '/v1/keys', 'error', 401, '/v1/keys', { key: badKey });
    await hit('DELETE', '/v1/keys/{id}', 'normal', 200, `/v1/keys/${mine.id}`, { key: startup });
    await hit('DELETE', '/v1/keys/{id}', 'error', 404, '/v1/keys/key_nosuchkey', { key: startup });
    await hit('GET', '/v1/credits', 'normal', 200, '/v1/credits', { key: startup });
    await hit('GET', '/v1/credits', 'error', 403, '/v1/credits', { key: lender });

    const terms = { principal_micros: 1_000_000_000, multiplier: 1.25, term_months: 12, origination_fee_bps: 200, servicing_fee_bps: 75 };
    const fac = (await hit('POST', '/v1/facilities', 'normal', 201, '/v1/facilities', { key: lender, body: { startup_id: stu.id, ...terms }, headers: { 'idempotency-key': 'grants-open' } })).body;
    await hit('POST', '/v1/facilities', 'error', 404, '/v1/facilities', { key: lender, body: { startup_id: 'stu_nosuchstartup', ...terms } });
    await hit('GET', '/v1/facilities', 'normal', 200, '/v1/facilities', { key: lender });
    await hit('GET', '/v1/facilities', 'error', 400, '/v1/facilities?cursor=forged', { key: lender });
    await hit('GET', '/v1/facilities/{id}', 'normal', 200, `/v1/facilities/${fac.id}`, { key: lender });
    await hit('GET', '/v1/facilities/{id}', 'error', 404, '/v1/facilities/fac_nosuchfacility', { key: lender });

    // The stream: the first event, then the client leaves (the handler notices and ends, inside its grant).
    const abort = new AbortController();
    const res = await fetch(`${rt.baseUrl}/v1/facilities/${fac.id}/stream`, { headers: { authorization: `Bearer ${lender}` }, signal: abort.signal });
    expect(res.status).toBe(200);
    const first = await res.body!.getReader().read();
    expect(new TextDecoder().decode(first.value)).toContain('data:');
    abort.abort();
    statuses.push({ row: 'GET /v1/facilities/{id}/stream', kind: 'normal', status: res.status });
    mark('GET /v1/facilities/{id}/stream', 'normal');
    await hit('GET', '/v1/facilities/{id}/stream', 'error', 404, '/v1/facilities/fac_nosuchfacility/stream', { key: lender });

    // Outbound webhooks: the lender's endpoint (a receiver on this machine) hears the freeze and unfreeze below.
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    const hook = (await hit('POST', '/v1/webhook-endpoints', 'normal', 201, '/v1/webhook-endpoints', { key: lender, body: { url: hookUrl, events: ['facility.frozen', 'facility.unfrozen'] } })).body;
    await hit('POST', '/v1/webhook-endpoints', 'error', 400, '/v1/webhook-endpoints', { key: lender, body: { url: 'ftp://nowhere.example', events: ['*'] } });
    await hit('GET', '/v1/webhook-endpoints', 'normal', 200, '/v1/webhook-endpoints', { key: lender });
    await hit('GET', '/v1/webhook-endpoints', 'error', 403, '/v1/webhook-endpoints', { key: admin });
    // A roll keeping the old secret an hour (deliveries below carry both signatures); a second one during it is refused.
    const roll = `/v1/webhook-endpoints/${hook.id}/secret/roll`;
    await hit('POST', '/v1/webhook-endpoints/{id}/secret/roll', 'normal', 200, roll, { key: lender, body: { expires_in_s: 3_600 } });
    await hit('POST', '/v1/webhook-endpoints/{id}/secret/roll', 'error', 409, roll, { key: lender, body: {} });

    // Covenants: set (notify only: the facility stays as it is), read, evaluated by their schedule; a set whose
    // facility is gone is the schedule's error path (skipped).
    await hit('PUT', '/v1/facilities/{id}/covenants', 'normal', 200, `/v1/facilities/${fac.id}/covenants`, { key: lender, body: { covenants: [{ kind: 'max_spend_24h_micros', threshold: 1, action: 'notify' }] } });
    await hit('PUT', '/v1/facilities/{id}/covenants', 'error', 400, `/v1/facilities/${fac.id}/covenants`, { key: lender, body: { covenants: [{ kind: 'max_burn_ratio', threshold: 0, action: 'notify' }] } });
    await hit('GET', '/v1/facilities/{id}/covenants', 'normal', 200, `/v1/facilities/${fac.id}/covenants`, { key: lender });
    await hit('GET', '/v1/facilities/{id}/covenants', 'error', 404, '/v1/facilities/fac_nosuchfacility/covenants', { key: lender });
    await hit('PUT', '/v1/credits/alerts', 'normal', 200, '/v1/credits/alerts', { key: w.startupKey, body: { alerts: [{ facility_id: w.facilityId, threshold_micros: 1 }] } });
    await hit('PUT', '/v1/credits/alerts', 'error', 404, '/v1/credits/alerts', { key: w.startupKey, body: { alerts: [{ facility_id: 'fac_nosuchfacility', threshold_micros: 1 }] } });
    await hit('GET', '/v1/credits/alerts', 'normal', 200, '/v1/credits/alerts', { key: w.startupKey });
    await hit('GET', '/v1/credits/alerts', 'error', 403, '/v1/credits/alerts', { key: lender });
    await rt.scheduler!.fire('covenant-check');
    mark('schedule covenant-check', 'normal');
    await rt.doc.send(new PutCommand({ TableName: rt.tableName, Item: { pk: 'COVENANTS#0', sk: 'FAC#fac_nosuchfacility', type: 'covenant_set', facility_id: 'fac_nosuchfacility', lender_id: w.lenderId, startup_id: w.startupId, covenants: [{ kind: 'max_spend_24h_micros', threshold: 1, action: 'freeze' }], states: [], updated_at: '2000-01-01T00:00:00.000Z', version: 1 } }));
    await rt.scheduler!.fire('covenant-check');
    mark('schedule covenant-check', 'error');

    // The loan side: this month's statement (its origination fee), and the loan-servicing schedule; an entry whose
    // facility is gone is its error path (skipped).
    await hit('GET', '/v1/facilities/{id}/statements/{period}', 'normal', 200, `/v1/facilities/${fac.id}/statements/${monthOf(nowIso())}`, { key: lender });
    await hit('GET', '/v1/facilities/{id}/statements/{period}', 'error', 400, `/v1/facilities/${fac.id}/statements/2027-13`, { key: lender });
    await rt.scheduler!.fire('loan-servicing');
    mark('schedule loan-servicing', 'normal');
    await rt.doc.send(new PutCommand({ TableName: rt.tableName, Item: { pk: 'LOANS#0', sk: 'FAC#fac_nosuchfacility', type: 'loan', facility_id: 'fac_nosuchfacility', servicing_through: 0, matured_told: false, statements_through: null, version: 1 } }));
    await rt.scheduler!.fire('loan-servicing');
    mark('schedule loan-servicing', 'error');

    await hit('POST', '/v1/facilities/{id}/freeze', 'normal', 200, `/v1/facilities/${fac.id}/freeze`, { key: lender, body: { reason: 'default' } });
    await hit('POST', '/v1/facilities/{id}/freeze', 'error', 404, '/v1/facilities/fac_nosuchfacility/freeze', { key: lender, body: { reason: 'x' } });
    await hit('POST', '/v1/facilities/{id}/unfreeze', 'normal', 200, `/v1/facilities/${fac.id}/unfreeze`, { key: lender });
    await hit('POST', '/v1/facilities/{id}/unfreeze', 'error', 404, '/v1/facilities/fac_nosuchfacility/unfreeze', { key: lender });
    await hit('POST', '/v1/facilities/{id}/recover', 'error', 409, `/v1/facilities/${fac.id}/recover`, { key: lender });
    await hit('POST', '/v1/facilities/{id}/freeze', 'normal', 200, `/v1/facilities/${fac.id}/freeze`, { key: lender, body: { reason: 'default' }, headers: { 'idempotency-key': 'freeze-2' } });
    await hit('POST', '/v1/facilities/{id}/recover', 'normal', 200, `/v1/facilities/${fac.id}/recover`, { key: lender });

    // The deliveries of the freezes and the unfreeze (the consumer's normal path), the events, a redelivery, and a
    // job for an event that does not exist (dropped: the consumer's other path).
    await waitFor('the webhook deliveries', async () => hooks.length >= 3);
    mark('queue webhook-deliveries', 'normal');
    const events = (await hit('GET', '/v1/events', 'normal', 200, '/v1/events', { key: lender })).body;
    webhookEvent = events.data[0];
    await hit('GET', '/v1/events', 'error', 400, '/v1/events?cursor=forged', { key: lender });
    await hit('GET', '/v1/events/{id}', 'normal', 200, `/v1/events/${webhookEvent!.id}`, { key: lender });
    await hit('GET', '/v1/events/{id}', 'error', 404, `/v1/events/${webhookEvent!.id}`, { key: startup });
    await hit('POST', '/v1/events/{id}/redeliver', 'normal', 202, `/v1/events/${webhookEvent!.id}/redeliver`, { key: lender });
    await hit('POST', '/v1/events/{id}/redeliver', 'error', 404, `/v1/events/${webhookEvent!.id}/redeliver`, { key: startup });
    await waitFor('the redelivery', async () => hooks.length >= 4);
    const delivering = invoked('functions/webhooks.deliver');
    const orphan = { tenant_id: w.lenderId, event_id: 'evt_nosuchevent0000', endpoint_id: hook.id, round: 1, attempt: 1, not_before: nowIso() };
    await new SQSClient({ endpoint: rt.endpoints.sqs }).send(new SendMessageCommand({ QueueUrl: rt.queues.get('webhook-deliveries')!.url, MessageBody: JSON.stringify(orphan) }));
    await waitFor('the orphan job consumed', async () => invoked('functions/webhooks.deliver') > delivering);
    mark('queue webhook-deliveries', 'error');
    await hit('DELETE', '/v1/webhook-endpoints/{id}', 'normal', 200, `/v1/webhook-endpoints/${hook.id}`, { key: lender });
    await hit('DELETE', '/v1/webhook-endpoints/{id}', 'error', 404, `/v1/webhook-endpoints/${hook.id}`, { key: lender });

    const LLAMA = 'llama-3.1-70b-instruct';
    const chatted = await hit('POST', '/v1/chat/completions', 'normal', 200, '/v1/chat/completions', { key: startup, body: { model: LLAMA, max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] } });
    const requestId = chatted.headers.get('x-request-id')!;
    await recordedRequest(rt.baseUrl, startup, requestId);
    await hit('GET', '/v1/requests/{id}', 'normal', 200, `/v1/requests/${requestId}`, { key: startup });
    await hit('GET', '/v1/requests/{id}', 'error', 404, '/v1/requests/00000000-0000-4000-8000-000000000000', { key: startup });
    await hit('POST', '/v1/chat/completions', 'error', 404, '/v1/chat/completions', { key: startup, body: { model: 'no-such-model', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] } });
    await hit('POST', '/v1/completions', 'normal', 200, '/v1/completions', { key: startup, body: { model: LLAMA, max_tokens: 8, prompt: 'hi' } });
    await hit('POST', '/v1/completions', 'error', 402, '/v1/completions', { key: stuKey.key, body: { model: LLAMA, max_tokens: 8, prompt: 'hi' } });
    await hit('POST', '/v1/embeddings', 'normal', 200, '/v1/embeddings', { key: startup, body: { model: 'text-embedding-3-small', input: 'hi' } });
    await hit('POST', '/v1/embeddings', 'error', 401, '/v1/embeddings', { key: badKey, body: { model: 'text-embedding-3-small', input: 'hi' } });
    await hit('GET', '/v1/models', 'normal', 200, '/v1/models', { key: startup });
    await hit('GET', '/v1/models', 'error', 401, '/v1/models', { key: badKey });
    await hit('GET', '/v1/models/{id+}', 'normal', 200, `/v1/models/${LLAMA}`, { key: startup });
    await hit('GET', '/v1/models/{id+}', 'error', 404, '/v1/models/org/no-such-model', { key: startup });
    // The Responses API: the store's write (after the reply), its read for previous_response_id, GET and DELETE.
    const stored = (await hit('POST', '/v1/responses', 'normal', 200, '/v1/responses', { key: startup, body: { model: LLAMA, max_output_tokens: 16, input: 'hi' } })).body;
    await hit('POST', '/v1/responses', 'error', 400, '/v1/responses', { key: startup, body: { model: LLAMA, input: 'hi', previous_response_id: 'resp_nosuchresponse000' } });
    await waitFor('the stored response', async () => (await call('GET', `/v1/responses/${stored.id}`, { key: startup })).status === 200);
    await hit('GET', '/v1/responses/{id}', 'normal', 200, `/v1/responses/${stored.id}`, { key: startup });
    await hit('GET', '/v1/responses/{id}', 'error', 404, '/v1/responses/resp_nosuchresponse000', { key: startup });
    await hit('DELETE', '/v1/responses/{id}', 'normal', 200, `/v1/responses/${stored.id}`, { key: startup });
    await hit('DELETE', '/v1/responses/{id}', 'error', 404, `/v1/responses/${stored.id}`, { key: startup });
    await hit('GET', '/v1/usage', 'normal', 200, '/v1/usage?group_by=provider', { key: startup });
    await hit('GET', '/v1/usage', 'error', 400, '/v1/usage?group_by=planet', { key: startup });

    // Onboarding: one provider passes validation against its own simulator, one (not checking tokens) fails it.
    const onboard = async (name: string, checkTokens: boolean) => {
      const app = (await hit('POST', '/v1/providers', 'normal', 201, '/v1/providers', { body: { name, contact_email: 'ops@grants.example', regions: ['us-east-1'], accelerators: ['H100'] } })).body;
      const relay = new RelayVerifier({ providerId: app.id, jwksUrl: `${rt.baseUrl}/v1/relay/keys`, nowS });
      const sim = await startSimulator({ models: [{ id: 'grants-model', context_length: 32_768, accelerator: 'H100' }], ttftMs: 5, tokensPerSecond: 2_000, ...(checkTokens ? { verifyToken: async (t: string) => (await relay.verify(t)).ok } : {}) });
      sims.push(sim);
      await hit('POST', '/v1/admin/providers/{id}/review', 'normal', 200, `/v1/admin/providers/${app.id}/review`, { key: admin, body: { decision: 'approve', notes: 'ok' } });
      await hit('PUT', '/v1/providers/{id}/endpoints', 'normal', 200, `/v1/providers/${app.id}/endpoints`, {
        key: app.key, body: { endpoints: [{ id: `${app.id}_e1`, url: `${sim.url}/v1`, region: 'us-east-1', availability_zone: 'us-east-1a', capacity_type: 'dedicated', accelerators: ['H100'] }] },
      });
      await hit('PUT', '/v1/providers/{id}/models', 'normal', 200, `/v1/providers/${app.id}/models`, {
        key: app.key, body: { models: [{ model: 'grants-model', kind: 'chat', architecture: 'llama', context_length: 32_768, accelerator: 'H100', prompt_tokens_per_gpu_second: 3_000, completion_tokens_per_gpu_second: 60 }] },
      });
      await hit('PUT', '/v1/providers/{id}/sla', 'normal', 200, `/v1/providers/${app.id}/sla`, { key: app.key, body: { tier: 'standard' } });
      return app as { id: string; key: string };
    };
    await hit('POST', '/v1/providers', 'error', 400, '/v1/providers', { body: { name: '' } });
    const good = await onboard('Grant GPU', true);
    const bad = await onboard('Careless GPU', false);
    await hit('POST', '/v1/admin/providers/{id}/review', 'error', 409, `/v1/admin/providers/${good.id}/review`, { key: admin, body: { decision: 'approve' } });
    await hit('PUT', '/v1/providers/{id}/endpoints', 'error', 400, `/v1/providers/${auroraId}/endpoints`, { key: good.key, body: { endpoints: [] } });
    await hit('PUT', '/v1/providers/{id}/models', 'error', 400, `/v1/providers/${auroraId}/models`, { key: good.key, body: { models: [] } });
    await hit('PUT', '/v1/providers/{id}/sla', 'error', 400, `/v1/providers/${good.id}/sla`, { key: good.key, body: { tier: 'platinum' } });
    await hit('GET', '/v1/providers/{id}', 'normal', 200, `/v1/providers/${good.id}`, { key: good.key });
    await hit('GET', '/v1/providers/{id}', 'error', 404, `/v1/providers/${auroraId}`, { key: good.key });
    const rollSecret = `/v1/providers/${good.id}/webhook-secret/roll`;
    await hit('POST', '/v1/providers/{id}/webhook-secret/roll', 'normal', 200, rollSecret, { key: good.key, body: { expires_in_s: 3_600 } });
    await hit('POST', '/v1/providers/{id}/webhook-secret/roll', 'error', 409, rollSecret, { key: good.key, body: {} });

    for (const p of [good, bad]) {
      const started = await hit('POST', '/v1/providers/{id}/validation', 'normal', 202, `/v1/providers/${p.id}/validation`, { key: p.key });
      expect(started.body.execution_id).toBeTruthy();
    }
    await hit('POST', '/v1/providers/{id}/validation', 'error', 404, `/v1/providers/${nobody}/validation`, { key: admin });
    const status = async (id: string, key: string) => (await call('GET', `/v1/providers/${id}`, { key })).body.status as string;
    await waitFor('the good provider live', async () => (await status(good.id, good.key)) === 'live', 45_000);
    await waitFor('the careless provider back in integration', async () => (await status(bad.id, bad.key)) === 'integration', 45_000);

    // The capacity webhook (queued, then consumed) and a stale resend (the consumer's no-change path).
    // With a block of 8 H100s over the next day, for the booking routes below.
    const t0 = Math.floor(Date.parse(nowIso()) / 3_600_000) * 3_600_000 + 2 * 3_600_000;
    const at = (ms: number) => new Date(ms).toISOString();
    const block = { accelerator: 'H100', region: 'us-east-1', availability_zone: 'us-east-1a', capacity_type: 'dedicated', interconnect: 'infiniband', start: at(t0), end: at(t0 + 24 * 3_600_000), gpus: 8 };
    const report = { event_id: 'evt_grants_1', provider_id: auroraId, reported_at: nowIso(), capacity: [{ accelerator: 'H100', region: 'us-east-1', availability_zone: 'us-east-1a', available_gpu_hours: 640 }], capacity_blocks: [block] };
    const consumed = invoked('functions/capacity.consume');
    const signed = signCapacityReport(aurora.webhook_secret, report as never, nowS());
    await hit('POST', '/v1/providers/{id}/capacity', 'normal', 202, `/v1/providers/${auroraId}/capacity`, { raw: signed.body, headers: signed.headers });
    await waitFor('the capacity consumer', async () => invoked('functions/capacity.consume') > consumed);
    mark('queue capacity-webhooks', 'normal');
    const stale = signCapacityReport(aurora.webhook_secret, { ...report, event_id: 'evt_grants_2' } as never, nowS());
    await hit('POST', '/v1/providers/{id}/capacity', 'normal', 202, `/v1/providers/${auroraId}/capacity`, { raw: stale.body, headers: stale.headers });
    await waitFor('the stale report consumed', async () => invoked('functions/capacity.consume') > consumed + 1);
    mark('queue capacity-webhooks', 'error');
    await hit('POST', '/v1/providers/{id}/capacity', 'error', 401, `/v1/providers/${auroraId}/capacity`, { raw: signed.body, headers: { ...signed.headers, 'x-compux-signature': 't=1,v1=00' } });

    // Capacity bookings: quote, book, read, accept, decline, cancel.
    const ask = { accelerator: 'H100', gpus: 2, hours: 3, earliest_start: at(t0), latest_start: at(t0 + 3 * 3_600_000) };
    const quoted = await waitFor('the blocks applied', async () => {
      const q = await call('POST', '/v1/capacity/quotes', { key: startup, body: ask });
      return q.status === 201 && q.body.offers.length > 0 ? q : null;
    });
    await hit('POST', '/v1/capacity/quotes', 'normal', 201, '/v1/capacity/quotes', { key: startup, body: ask });
    await hit('POST', '/v1/capacity/quotes', 'error', 400, '/v1/capacity/quotes', { key: startup, body: { ...ask, gpus: 0 } });
    const offer = { quote_id: quoted.body.id, offer: quoted.body.offers[0].id };
    const booking = (await hit('POST', '/v1/bookings', 'normal', 201, '/v1/bookings', { key: startup, body: offer, headers: { 'idempotency-key': 'grants-book-1' } })).body;
    const second = (await call('POST', '/v1/bookings', { key: startup, body: offer, headers: { 'idempotency-key': 'grants-book-2' } })).body;
    await hit('POST', '/v1/bookings', 'error', 404, '/v1/bookings', { key: startup, body: { ...offer, quote_id: 'quo_nosuchquote00' } });
    await hit('GET', '/v1/bookings', 'normal', 200, '/v1/bookings', { key: startup });
    await hit('GET', '/v1/bookings', 'error', 403, '/v1/bookings', { key: lender });
    await hit('GET', '/v1/bookings/{id}', 'normal', 200, `/v1/bookings/${booking.id}`, { key: startup });
    await hit('GET', '/v1/bookings/{id}', 'error', 404, '/v1/bookings/bkg_nosuchbooking00', { key: startup });
    await hit('GET', '/v1/providers/{id}/bookings', 'normal', 200, `/v1/providers/${auroraId}/bookings`, { key: auroraKey });
    await hit('GET', '/v1/providers/{id}/bookings', 'error', 404, `/v1/providers/${nobody}/bookings`, { key: auroraKey });
    const acceptPath = (id: string) => `/v1/providers/${auroraId}/bookings/${id}/accept`;
    await hit('POST', '/v1/providers/{id}/bookings/{booking}/accept', 'normal', 200, acceptPath(booking.id), { key: auroraKey, body: { access: { endpoint: 'ssh://gpu.example' } } });
    await hit('POST', '/v1/providers/{id}/bookings/{booking}/accept', 'error', 404, acceptPath('bkg_nosuchbooking00'), { key: auroraKey, body: { access: { endpoint: 'x' } } });
    await hit('POST', '/v1/providers/{id}/bookings/{booking}/decline', 'normal', 200, `/v1/providers/${auroraId}/bookings/${second.id}/decline`, { key: auroraKey });
    await hit('POST', '/v1/providers/{id}/bookings/{booking}/decline', 'error', 409, `/v1/providers/${auroraId}/bookings/${booking.id}/decline`, { key: auroraKey });
    await hit('POST', '/v1/bookings/{id}/cancel', 'normal', 200, `/v1/bookings/${booking.id}/cancel`, { key: startup });
    await hit('POST', '/v1/bookings/{id}/cancel', 'error', 404, '/v1/bookings/bkg_nosuchbooking00/cancel', { key: startup });
    // A third booking through its lifecycle's tasks (as the state machine runs them), then interrupted by the provider.
    const third = (await call('POST', '/v1/bookings', { key: startup, body: offer, headers: { 'idempotency-key': 'grants-book-3' } })).body;
    await call('POST', acceptPath(third.id), { key: auroraKey, body: { access: { endpoint: 'ssh://gpu.example' } } });
    expect((await task('booking-lifecycle', 'AwaitAnswerFn', 'normal', { booking_id: third.id })).ok).toBe(true);
    expect((await task('booking-lifecycle', 'AwaitAnswerFn', 'error', { booking_id: 'bkg_nosuchbooking00' })).ok).toBe(false);
    expect((await task('booking-lifecycle', 'UntilStartFn', 'normal', { booking_id: third.id })).ok).toBe(true);
    expect((await task('booking-lifecycle', 'UntilStartFn', 'error', { booking_id: 'bkg_nosuchbooking00' })).ok).toBe(false);
    expect((await task('booking-lifecycle', 'BeginFn', 'normal', { booking_id: third.id })).ok).toBe(true);
    expect((await task('booking-lifecycle', 'BeginFn', 'error', { booking_id: 'bkg_nosuchbooking00' })).ok).toBe(false);
    expect((await task('booking-lifecycle', 'BillHourFn', 'normal', { booking_id: third.id, n: 0 })).ok).toBe(true);
    expect((await task('booking-lifecycle', 'BillHourFn', 'error', { booking_id: 'bkg_nosuchbooking00', n: 0 })).ok).toBe(false);
    const interruptPath = (id: string) => `/v1/providers/${auroraId}/bookings/${id}/interrupt`;
    await hit('POST', '/v1/providers/{id}/bookings/{booking}/interrupt', 'normal', 200, interruptPath(third.id), { key: auroraKey, body: { reason: 'maintenance' } });
    await hit('POST', '/v1/providers/{id}/bookings/{booking}/interrupt', 'error', 409, interruptPath(booking.id), { key: auroraKey, body: { reason: 'maintenance' } });

    await hit('GET', '/v1/providers/{id}/sla', 'normal', 200, `/v1/providers/${auroraId}/sla`, { key: auroraKey });
    await hit('GET', '/v1/providers/{id}/sla', 'error', 404, `/v1/providers/${good.id}/sla`, { key: auroraKey });
    await hit('GET', '/v1/relay/keys', 'normal', 200, '/v1/relay/keys');
    await hit('GET', '/v1/relay/keys', 'error', 400, '/v1/relay/keys?kid=x');
    await hit('POST', '/v1/admin/relay-keys/rotate', 'normal', 200, '/v1/admin/relay-keys/rotate', { key: admin });
    await hit('POST', '/v1/admin/relay-keys/rotate', 'error', 403, '/v1/admin/relay-keys/rotate', { key: auroraKey });

    await hit('PUT', '/v1/admin/spot-prices/{accelerator}', 'normal', 200, '/v1/admin/spot-prices/H100', { key: admin, body: { usd_per_gpu_hour_micros: 2_500_000 } });
    await hit('PUT', '/v1/admin/spot-prices/{accelerator}', 'error', 403, '/v1/admin/spot-prices/H100', { key: startup, body: { usd_per_gpu_hour_micros: 1 } });
    await hit('GET', '/v1/spot-prices', 'normal', 200, '/v1/spot-prices', { key: lender });
    await hit('GET', '/v1/spot-prices', 'error', 401, '/v1/spot-prices', { key: badKey });
    await hit('GET', '/v1/admin/spot-prices/{accelerator}/history', 'normal', 200, '/v1/admin/spot-prices/H100/history', { key: admin });
    await hit('GET', '/v1/admin/spot-prices/{accelerator}/history', 'error', 403, '/v1/admin/spot-prices/H100/history', { key: lender });
    const lines = [{ accelerator: 'H100', gpus: 8, listed_hours: 720, expected_fill_ppm: 800_000 }];
    await hit('POST', '/v1/providers/revenue-estimate', 'normal', 200, '/v1/providers/revenue-estimate', { body: { lines } });
    await hit('POST', '/v1/providers/revenue-estimate', 'error', 400, '/v1/providers/revenue-estimate', { body: { lines: [] } });
    await hit('PUT', '/v1/admin/providers/{id}/custom-rate', 'normal', 200, `/v1/admin/providers/${auroraId}/custom-rate`, { key: admin, body: { premium_bps: 1_000 } });
    await hit('PUT', '/v1/admin/providers/{id}/custom-rate', 'error', 404, `/v1/admin/providers/${nobody}/custom-rate`, { key: admin, body: { premium_bps: 1_000 } });

    // Settlement of a past month, through the route and its state machine: two months back, since the month
    // just ended may still be in its grace hour (COMPUX_NOW=<the 1st, 00:00:30Z> npm test).
    const last = SETTLED;
    await hit('POST', '/v1/admin/settlements/{period}', 'normal', 202, `/v1/admin/settlements/${last}`, { key: admin });
    await hit('POST', '/v1/admin/settlements/{period}', 'error', 400, '/v1/admin/settlements/2026-13', { key: admin });
    const run = await waitFor('the settlement run', async () => {
      const r = await call('GET', `/v1/admin/settlements/${last}`, { key: admin });
      return r.status === 200 && r.body.status !== 'running' ? r : null;
    });
    expect(run.body.status).toBe('settled');
    await hit('GET', '/v1/admin/settlements/{period}', 'normal', 200, `/v1/admin/settlements/${last}`, { key: admin });
    await hit('GET', '/v1/admin/settlements/{period}', 'error', 404, '/v1/admin/settlements/2001-01', { key: admin });
    await hit('GET', '/v1/providers/{id}/statements', 'normal', 200, `/v1/providers/${auroraId}/statements`, { key: auroraKey });
    await hit('GET', '/v1/providers/{id}/statements', 'error', 404, `/v1/providers/${good.id}/statements`, { key: auroraKey });
    await hit('GET', '/v1/providers/{id}/statements/{period}', 'normal', 200, `/v1/providers/${auroraId}/statements/${last}`, { key: auroraKey });
    await hit('GET', '/v1/providers/{id}/statements/{period}', 'error', 404, `/v1/providers/${auroraId}/statements/2001-01`, { key: auroraKey });

    await hit('GET', '/v1/me', 'normal', 200, '/v1/me', { key: startup });
    await hit('GET', '/v1/me', 'error', 401, '/v1/me', { key: badKey });
    await hit('GET', '/v1/providers/{id}/utilization', 'normal', 200, `/v1/providers/${auroraId}/utilization`, { key: auroraKey });
    await hit('GET', '/v1/providers/{id}/utilization', 'error', 404, `/v1/providers/${good.id}/utilization`, { key: auroraKey });
    await hit('GET', '/v1/facilities/{id}/burn', 'normal', 200, `/v1/facilities/${w.facilityId}/burn`, { key: lender });
    await hit('GET', '/v1/facilities/{id}/burn', 'error', 404, '/v1/facilities/fac_nosuchfacility/burn', { key: lender });
    await hit('GET', '/v1/admin/providers', 'normal', 200, '/v1/admin/providers', { key: admin });
    await hit('GET', '/v1/admin/providers', 'error', 400, '/v1/admin/providers?status=everything', { key: admin });
    await hit('GET', '/v1/admin/settlements', 'normal', 200, '/v1/admin/settlements', { key: admin });
    await hit('GET', '/v1/admin/settlements', 'error', 403, '/v1/admin/settlements', { key: startup });

    expect(rt.denials).toEqual([]);
    expect(statuses.filter((s) => s.status >= 500)).toEqual([]);
  });

  it('schedules (handlers and workflows) and every workflow task', async () => {
    const w = rt.world!;
    // hold-sweeper: nothing due, then a crashed request's hold past its expiry.
    await rt.scheduler!.fire('hold-sweeper');
    mark('schedule hold-sweeper', 'normal');
    const h = await rt.credits.reserve({ startup_id: w.startupId, amount_micros: 1_000, idempotency_key: 'grants-crash', request_hash: 'h', ttl_s: 1 });
    expect(h.ok).toBe(true);
    await sleep(1_100);
    await rt.scheduler!.fire('hold-sweeper');
    mark('schedule hold-sweeper', 'error');
    // capacity-flush and sla-probe: with every simulator up, then with one failing.
    await rt.scheduler!.fire('capacity-flush');
    mark('schedule capacity-flush', 'normal');
    await rt.scheduler!.fire('sla-probe');
    mark('schedule sla-probe', 'normal');
    const sim = [...w.simulators.values()][0]!;
    sim.setOptions({ fault: 'http_500' });
    await rt.scheduler!.fire('sla-probe');
    await rt.scheduler!.fire('capacity-flush');
    sim.setOptions({ fault: null });
    mark('schedule sla-probe', 'error');
    mark('schedule capacity-flush', 'error');
    // webhook-sweeper: nothing left undispatched, then an event whose dispatch never finished (its mark set by hand).
    await rt.scheduler!.fire('webhook-sweeper');
    mark('schedule webhook-sweeper', 'normal');
    await rt.doc.send(new UpdateCommand({
      TableName: rt.tableName, Key: { pk: `WEBHOOKS#${w.lenderId}`, sk: `EVT#${webhookEvent!.created_at}#${webhookEvent!.id}` },
      UpdateExpression: 'SET dispatch_token = :t, gsi3pk = :pk, gsi3sk = :sk', ExpressionAttributeValues: { ':t': 'crashed', ':pk': 'WHUNDISPATCHED#0', ':sk': `2000-01-01T00:00:00.000Z#${webhookEvent!.id}` },
    }));
    await rt.scheduler!.fire('webhook-sweeper');
    mark('schedule webhook-sweeper', 'error');
    // The workflow schedules: the nightly audit, and the monthly settlement of a month already settled.
    await rt.scheduler!.fire('ledger-audit');
    // The fire that settled the routes test's month (due on the 1st after it, at 02:00, past the grace hour),
    // replayed; fired at the clock's now it could fall in the grace hour (COMPUX_NOW=<the 1st, 00:00:30Z>).
    await rt.scheduler!.fire('provider-settlement', new Date(`${shiftPeriod(SETTLED, 1)}-01T02:00:00.000Z`));
    for (const name of ['ledger-audit', 'provider-settlement']) for (const k of ['normal', 'error'] as const) mark(`schedule ${name}`, k);

    // Every task directly on both paths (the runs above and in the routes test took their normal paths).
    const shard = { shard: 0, accounts_checked: 0, balance_sum_micros: 0, mismatches: [] };
    expect((await task('ledger-audit', 'AuditShardFn', 'normal', shard)).ok).toBe(true);
    expect((await task('ledger-audit', 'AuditShardFn', 'error', { ...shard, cursor: 'forged' })).ok).toBe(false);
    expect((await task('ledger-audit', 'AuditSummaryFn', 'normal', [shard])).ok).toBe(true);
    expect((await task('ledger-audit', 'AuditSummaryFn', 'error', 'not a list')).ok).toBe(false);

    const live = [...w.providerSecrets.keys()][0]!;
    const validation = WORKFLOWS.find((wf) => wf.name === 'provider-validation')!.tasks;
    for (const name of ['RelayHandshakeFn', 'ReliabilityFn', 'ThroughputFn', 'SlaLatencyFn', 'PricingReviewFn', 'GoLiveFn']) {
      // Their normal path ran in the validations of the routes test (through the state machine, under their grants).
      expect(invoked(validation[name]!.handler), name).toBeGreaterThan(0);
      mark(`task provider-validation.${name}`, 'normal');
      // A provider that is not validating: the task reads it and refuses.
      expect((await task('provider-validation', name, 'error', { provider_id: live })).ok).toBe(false);
    }
    expect(invoked(validation.ReturnToIntegrationFn!.handler)).toBeGreaterThan(0);
    expect((await task('provider-validation', 'ReturnToIntegrationFn', 'normal', { provider_id: live, results: { relay_handshake: { passed: false, detail: 'x' } } })).ok).toBe(true);
    // An unknown provider: nothing to return (the update finds no record).
    expect((await task('provider-validation', 'ReturnToIntegrationFn', 'error', { provider_id: 'prv_nosuchprovider', results: {} })).ok).toBe(true);

    const month = { provider_id: live, period: '2001-01' };
    expect((await task('provider-settlement', 'BeginFn', 'normal', { input: { period: '2001-01' }, execution_id: 'grants-exec' })).ok).toBe(true);
    expect((await task('provider-settlement', 'BeginFn', 'error', { input: { period: '2001-01' }, execution_id: 'another-exec' })).ok).toBe(false);
    let read = await task('provider-settlement', 'ReadRecordsFn', 'normal', month);
    for (let i = 0; i < 20 && read.ok && !read.value.done; i++) read = await task('provider-settlement', 'ReadRecordsFn', 'normal', read.value);
    expect(read.ok && read.value.done).toBe(true);
    expect((await task('provider-settlement', 'ReadRecordsFn', 'error', { ...month, provider_id: 'prv_nosuchprovider' })).ok).toBe(true);
    expect((await task('provider-settlement', 'IssueStatementFn', 'error', month)).ok).toBe(false);
    // An empty month: issued, or refused by the ledger's own rules; either way within the grant (checked below).
    await task('provider-settlement', 'IssueStatementFn', 'normal', read.value);
    expect((await task('provider-settlement', 'ProviderFailedFn', 'normal', { ...month, error: { Error: 'Boom', Cause: 'a test' } })).ok).toBe(true);
    expect((await task('provider-settlement', 'ProviderFailedFn', 'error', { period: 'never' })).ok).toBe(false);
    expect((await task('provider-settlement', 'ReconcileFn', 'normal', { period: '2001-01', providers: [live], results: [{ provider_id: live, ok: true, code: null }] })).ok).toBe(true);
    expect((await task('provider-settlement', 'ReconcileFn', 'error', { period: '2001-01' })).ok).toBe(false);
    expect((await task('provider-settlement', 'MarkFailedFn', 'normal', { period: '2001-01', error: { Error: 'Boom' } })).ok).toBe(true);
    expect((await task('provider-settlement', 'MarkFailedFn', 'error', { period: '2001-01' })).ok).toBe(false);

    expect(rt.denials).toEqual([]);
  });

  it('the case table names every row of every table, and every handler ran under its grant', () => {
    const rows = [
      ...ROUTES.map(routeKey),
      ...SCHEDULES.map((s) => `schedule ${s.name}`),
      ...QUEUES.map((q) => `queue ${q.name}`),
      ...WORKFLOWS.flatMap((wf) => Object.keys(wf.tasks).map((t) => `task ${wf.name}.${t}`)),
    ];
    const missing = rows.filter((r) => !covered.has(r) || covered.get(r)!.size < 2).map((r) => `${r}: ${[...(covered.get(r) ?? [])].join(', ') || 'no case'}`);
    expect(missing).toEqual([]);
    const handlers = new Set([
      ...ROUTES.map((r) => r.handler),
      ...QUEUES.map((q) => q.consumer),
      ...SCHEDULES.flatMap((s) => ('handler' in s.target ? [s.target.handler] : [])),
      ...WORKFLOWS.flatMap((wf) => Object.values(wf.tasks).map((t) => t.handler)),
    ]);
    expect([...handlers].filter((h) => invoked(h) === 0)).toEqual([]);
    expect(rt.denials).toEqual([]);
  });
});

describe('a handler outside its grant', () => {
  it('is refused with AccessDenied: a route whose access is [] answers 500 and the denial is recorded', async () => {
    // A key no handler has looked up yet: a cached one would be answered from memory without a read to refuse.
    const fresh = await call('POST', '/v1/keys', { key: rt.world!.startupKey, body: { name: 'grants-cold' } });
    const coldKey = (fresh.body as { key: string }).key;
    const before = rt.denials.length;
    const r = await call('GET', REDUCED.path, { key: coldKey });
    expect(r.status).toBe(500);
    expect(rt.denials.slice(before)).toEqual([
      expect.objectContaining({ handler: 'functions/dashboard.me', action: 'dynamodb:GetItem', resource: dynamoTableArn(rt.tableName), operation: 'dynamodb:GetItem' }),
    ]);
    // The same handler on its own row is fine.
    expect((await call('GET', '/v1/me', { key: rt.world!.startupKey })).status).toBe(200);
  });
});

describe('the public revenue calculator (SPEC §10: no key, rate limited per address)', () => {
  it('answers without a key, and 429s with Retry-After past the limit from one address', async () => {
    const body = { lines: [{ accelerator: 'A100', gpus: 4, listed_hours: 600, expected_fill_ppm: 500_000 }] };
    const replies: Reply[] = [];
    for (let i = 0; i < 6; i++) replies.push(await call('POST', '/v1/providers/revenue-estimate', { body }));
    const ok = replies.filter((r) => r.status === 200);
    const limited = replies.filter((r) => r.status === 429);
    // The routes test above spent up to 2 of this minute's 4 (a window may have turned since).
    expect(ok.length).toBeGreaterThanOrEqual(2);
    expect(ok[0]!.body).toMatchObject({ gpu_hours: expect.any(Number) });
    expect(limited.length).toBeGreaterThanOrEqual(1);
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited[0]!.body.error).toMatchObject({ code: 'rate_limited', type: 'rate_limit_error' });
    expect(rt.denials.filter((d) => d.handler === 'functions/pricing.revenueEstimate')).toEqual([]);
  });
});
