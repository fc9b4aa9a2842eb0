/**
 * The whole of CompuX on one machine, from the same tables the AWS stacks are generated from:
 * infra/table.ts (DynamoDB Local), infra/queues.ts (local SQS + poller), infra/workflows.ts (ASL interpreter
 * + Step Functions endpoint), infra/schedules.ts (scheduler), infra/routes.ts (HTTP server).
 *
 * Order matters: the engines start first, then the environment the handlers read is set (TABLE_NAME,
 * AWS_ENDPOINT_URL_*, queue URLs, workflow ARNs, COMPUX_ADMIN_KEY_SHA256, region, fake credentials), and only
 * then are handler modules imported (SDK clients read the environment when created). process.env is global,
 * so run one runtime per process.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { sha256Hex } from '../packages/core/src/ids.js';
import path from 'node:path';
import { ROUTES } from '../infra/routes.js';
import { QUEUES, type QueueDef } from '../infra/queues.js';
import { SCHEDULES, type ScheduleDef } from '../infra/schedules.js';
import { WORKFLOWS, type WorkflowDef } from '../infra/workflows.js';
import { REPO_ROOT, localClientConfig, setLocalAwsEnv } from './aws.js';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTable, startDynamoDbLocal } from './dynamodb.js';
import { startLocalSqs, startSqsPoller, type LocalQueue } from './sqs.js';
import { LocalStepFunctions, startSfnEndpoint, stateMachineArn } from './stepfunctions.js';
import { ExecutionJournal } from './sfn-journal.js';
import { LocalGrants, queueArnFromUrl, type Denial } from './grants.js';
import { startScheduler, type Scheduler } from './scheduler.js';
import { startHttpServer, type HttpRoute } from './http.js';
import { createHandlerResolver, type HandlerResolver } from './lambda.js';
import { CURSOR_SECRET_ENV, RELAY_KEK_FILE_ENV, RELAY_KMS_KEY_ENV, checkSettings } from '../functions/lib/settings.js';
import { localRelayKek } from './relay-kek.js';
import { MIN_CURSOR_KEY_BYTES } from '../packages/core/src/adapters/dynamodb/cursor.js';

export const DEFAULT_TABLE_NAME = 'compux-local';
export const DEFAULT_DATA_DIR = path.join(REPO_ROOT, '.compux-data');

export interface RuntimeTables {
  routes: readonly HttpRoute[];
  queues: readonly QueueDef[];
  schedules: readonly ScheduleDef[];
  workflows: readonly WorkflowDef[];
}

export interface RuntimeOptions {
  /** HTTP port; default $PORT, else 3000; 0 picks a free one. */
  port?: number;
  /** Bind address of every local server; default 127.0.0.1. */
  host?: string;
  /** DynamoDB Local in memory (nothing kept). Default: $COMPUX_IN_MEMORY === '1'. */
  inMemory?: boolean;
  /** Where DynamoDB Local keeps its file when not in memory. Default <repo>/.compux-data. */
  dataDir?: string;
  /** Use this DynamoDB endpoint instead of starting DynamoDB Local (e.g. the test run's shared one). */
  dynamodbEndpoint?: string;
  tableName?: string;
  /** The operator key; default $COMPUX_ADMIN_KEY, else a generated one (returned and printed by start.ts). */
  adminKey?: string;
  /** Run the schedules. Default true. */
  scheduler?: boolean;
  /** Import every handler at start so a missing file or export fails now, not on first request. Default true. */
  preloadHandlers?: boolean;
  /** The tables to serve; default the infra/ ones. Handler references resolve against `root`. */
  tables?: Partial<RuntimeTables>;
  /** Repo root for handler references and ASL files. Default this repository. */
  root?: string;
  /** The dashboards' built files, served at the same origin; default <root>/web/dist; null: API only. */
  staticDir?: string | null;
  /** Called once everything is up (scripts/start.ts seeds the demo world here); what it returns is stopped with the runtime. */
  seed?: (rt: Runtime) => Promise<{ stop?: () => Promise<void> } | void>;
}

export interface Runtime {
  baseUrl: string;
  port: number;
  adminKey: string;
  /** True when the admin key was generated (start.ts prints it). */
  adminKeyGenerated: boolean;
  tableName: string;
  endpoints: { dynamodb: string; sqs: string; sfn: string };
  /** Where DynamoDB data lives, or null when in memory / external. */
  dataDir: string | null;
  queues: ReadonlyMap<string, LocalQueue>;
  stepFunctions: LocalStepFunctions;
  scheduler: Scheduler | null;
  /** The environment set for the handlers (the keys the runtime owns). */
  env: Readonly<Record<string, string>>;
  resolveHandler: HandlerResolver;
  /**
   * Every SDK call a handler made outside its row's grant (refused with AccessDenied, local/grants.ts), oldest
   * first. Tests assert it stays empty.
   */
  denials: readonly Denial[];
  /** The grants every handler invocation runs under (local/grants.ts). */
  grants: LocalGrants;
  stop(): Promise<void>;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A strong operator key in the product's secret format: "cx_op_" + 43 base62 characters (~256 bits). */
export function generateAdminKey(): string {
  let out = '';
  while (out.length < 43) {
    for (const b of randomBytes(64)) {
      // Rejection sampling keeps the alphabet uniform (248 = 62 × 4).
      if (b < 248 && out.length < 43) out += BASE62[b % 62];
    }
  }
  return `cx_op_${out}`;
}

/** The list cursors' secret file in the data folder: cursors handed out before a restart still open after it. */
const CURSOR_SECRET_FILE = 'cursor-secret';
/** The bound the cursors check at use (functions/lib/cursors.ts), checked here at start. */
const longEnough = (secret: string) => Buffer.byteLength(secret) >= MIN_CURSOR_KEY_BYTES;

/**
 * The secret list cursors are sealed with (functions/lib/cursors.ts): $COMPUX_CURSOR_SECRET when set, else the data
 * folder's (made once, readable by this user only), else one for this run (in memory or on an outside table).
 */
export function localCursorSecret(dataDir: string | null): string {
  const given = process.env[CURSOR_SECRET_ENV];
  if (given !== undefined && given !== '') {
    if (!longEnough(given)) throw new Error(`${CURSOR_SECRET_ENV} must be at least ${MIN_CURSOR_KEY_BYTES} bytes`);
    return given;
  }
  if (!dataDir) return randomBytes(32).toString('base64url');
  const file = path.join(dataDir, CURSOR_SECRET_FILE);
  try {
    const kept = readFileSync(file, 'utf8').trim();
    if (longEnough(kept)) return kept;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dataDir, { recursive: true });
  const made = randomBytes(32).toString('base64url');
  writeFileSync(file, `${made}\n`, { mode: 0o600 });
  return made;
}

export async function startRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  // Settings that must not fall back quietly (COMPUX_HOLD_TTL_S) are refused before anything starts.
  checkSettings();
  const root = options.root ?? REPO_ROOT;
  const tables: RuntimeTables = {
    routes: options.tables?.routes ?? ROUTES,
    queues: options.tables?.queues ?? QUEUES,
    schedules: options.tables?.schedules ?? SCHEDULES,
    workflows: options.tables?.workflows ?? WORKFLOWS,
  };
  const inMemory = options.inMemory ?? process.env.COMPUX_IN_MEMORY === '1';
  const tableName = options.tableName ?? DEFAULT_TABLE_NAME;
  const envKey = process.env.COMPUX_ADMIN_KEY?.trim();
  const adminKey = options.adminKey ?? (envKey ? envKey : generateAdminKey());
  const adminKeyGenerated = options.adminKey === undefined && !envKey;
  const resolveHandler = createHandlerResolver(root);

  // Everything started so far, stopped in reverse on failure or stop().
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (err) {
        console.error('[runtime] error while stopping:', err);
      }
    }
  };

  try {
    // 1. DynamoDB
    let dynamodbEndpoint = options.dynamodbEndpoint;
    let dataDir: string | null = null;
    let ddbClient: DynamoDBClient;
    if (dynamodbEndpoint) {
      ddbClient = new DynamoDBClient(localClientConfig(dynamodbEndpoint));
      stops.push(async () => ddbClient.destroy());
    } else {
      dataDir = inMemory ? null : path.resolve(options.dataDir ?? DEFAULT_DATA_DIR);
      const ddb = await startDynamoDbLocal(inMemory ? { inMemory: true } : { dbPath: dataDir as string });
      stops.push(ddb.stop);
      dynamodbEndpoint = ddb.endpoint;
      ddbClient = ddb.client;
    }
    await createTable(ddbClient, tableName);
    // The relay key-encryption key: a file outside the table (local/relay-kek.ts), as KMS is on AWS.
    const kek = localRelayKek(dataDir);
    stops.push(async () => {
      kek.remove();
      // A key made for this run is gone with it: a runtime started after (or a child spawned with this env, as
      // bench:proxy's) must not be pointed at it.
      if (process.env[RELAY_KEK_FILE_ENV] === kek.file && kek.temporary) {
        delete process.env[RELAY_KEK_FILE_ENV];
        delete process.env[RELAY_KMS_KEY_ENV];
      }
    });

    // 2. SQS
    const sqs = await startLocalSqs({ queues: tables.queues, ...(options.host ? { host: options.host } : {}) });
    stops.push(sqs.stop);

    // Each handler invocation runs under its row's grant, as on AWS (local/grants.ts).
    const grants = new LocalGrants({
      tableName,
      relayKeyArn: kek.keyArn,
      queueArn: (name) => {
        const q = sqs.queues.get(name);
        if (!q) throw new Error(`a row sends to unknown queue "${name}" (infra/queues.ts)`);
        return queueArnFromUrl(q.url);
      },
      stateMachineArn: (name) => {
        if (!tables.workflows.some((w) => w.name === name)) throw new Error(`a row starts unknown workflow "${name}" (infra/workflows.ts)`);
        return stateMachineArn(name);
      },
    });

    // 3. Step Functions (ASL validated here)
    // With a data folder, running executions are journaled beside the table's data and taken up after a restart.
    const journal = dataDir ? new ExecutionJournal(path.join(dataDir, 'sfn-executions.jsonl')) : undefined;
    const stepFunctions = new LocalStepFunctions({ workflows: tables.workflows, resolveHandler, root, grants, ...(journal ? { journal } : {}) });
    stops.push(() => stepFunctions.stop());
    const sfnEndpoint = await startSfnEndpoint(stepFunctions, options.host ? { host: options.host } : {});
    stops.push(sfnEndpoint.close);

    // 4. The handlers' environment, before any handler is imported.
    setLocalAwsEnv({ dynamodb: dynamodbEndpoint, sqs: sqs.endpoint, sfn: sfnEndpoint.endpoint });
    const env: Record<string, string> = {
      TABLE_NAME: tableName,
      COMPUX_ADMIN_KEY_SHA256: sha256Hex(adminKey),
      [CURSOR_SECRET_ENV]: localCursorSecret(dataDir),
      // Every handler here sees these (one process); only the functions granted relayKey may use the key (local/grants.ts).
      [RELAY_KEK_FILE_ENV]: kek.file,
      [RELAY_KMS_KEY_ENV]: kek.keyArn,
      AWS_ENDPOINT_URL_DYNAMODB: dynamodbEndpoint,
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      AWS_ENDPOINT_URL_SFN: sfnEndpoint.endpoint,
      // Webhook receivers here are http servers on 127.0.0.1: the local runtime allows http and non-public targets
      // (packages/core/src/webhooks/url.ts); AWS never sets this. COMPUX_WEBHOOK_ALLOW_LOCAL=0 turns it off.
      COMPUX_WEBHOOK_ALLOW_LOCAL: process.env.COMPUX_WEBHOOK_ALLOW_LOCAL ?? '1',
      // Powertools would print every request's EMF metrics to the console; opt back in by setting it to false.
      POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
    };
    for (const q of sqs.queues.values()) env[q.def.urlEnv] = q.url;
    for (const w of tables.workflows) env[w.arnEnv] = stepFunctions.arnOf(w.name);
    Object.assign(process.env, env);

    if (options.preloadHandlers ?? true) await preload(tables, resolveHandler);
    // Executions a restart interrupted (a booking waiting for its start) go on; the handlers' environment is set.
    const resumed = stepFunctions.resume();
    if (resumed.resumed.length + resumed.lost.length > 0) {
      console.log(`[sfn] took up ${resumed.resumed.length} execution(s) the last stop interrupted${resumed.lost.length ? `; ${resumed.lost.length} of workflows that cannot begin again were lost: ${resumed.lost.join(', ')}` : ''}`);
    }

    // 5. Consumers, schedules, then the API last (it is what announces readiness).
    const poller = startSqsPoller({ client: sqs.client, queues: sqs.queues.values(), resolveHandler, grants });
    stops.push(poller.stop);
    let scheduler: Scheduler | null = null;
    if (options.scheduler ?? true) {
      const s = startScheduler({
        schedules: tables.schedules,
        resolveHandler,
        grants,
        runWorkflow: async (name, input) => {
          const exec = await stepFunctions.runToCompletion(name, input);
          if (exec.status !== 'SUCCEEDED') throw new Error(`workflow ${name} ended ${exec.status}: ${exec.error ?? ''} ${exec.cause ?? ''}`.trim());
        },
      });
      scheduler = s;
      stops.push(s.stop);
    }
    const http = await startHttpServer({
      routes: tables.routes,
      resolveHandler,
      grants,
      ...(options.staticDir !== null ? { staticDir: options.staticDir ?? path.join(root, 'web', 'dist') } : {}),
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.host ? { host: options.host } : {}),
    });
    stops.push(http.close);

    let stopping: Promise<void> | undefined;
    const rt: Runtime = {
      baseUrl: http.url,
      port: http.port,
      adminKey,
      adminKeyGenerated,
      tableName,
      endpoints: { dynamodb: dynamodbEndpoint, sqs: sqs.endpoint, sfn: sfnEndpoint.endpoint },
      dataDir,
      queues: sqs.queues,
      stepFunctions,
      scheduler,
      env,
      resolveHandler,
      denials: grants.denials,
      grants,
      stop: () => (stopping ??= stopAll()),
    };
    if (options.seed) {
      const seeded = await options.seed(rt);
      if (seeded?.stop) stops.push(seeded.stop);
    }
    return rt;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Imports every handler the tables name; reports all the missing ones at once. */
async function preload(tables: RuntimeTables, resolve: HandlerResolver): Promise<void> {
  const refs = new Set<string>([
    ...tables.routes.map((r) => r.handler),
    ...tables.queues.map((q) => q.consumer),
    ...tables.schedules.flatMap((s) => ('handler' in s.target ? [s.target.handler] : [])),
    ...tables.workflows.flatMap((w) => Object.values(w.tasks).map((t) => t.handler)),
  ]);
  const list = [...refs];
  const results = await Promise.allSettled(list.map((ref) => resolve(ref)));
  const failures = results.flatMap((r, i) => {
    if (r.status === 'fulfilled') return [];
    const message = (r.reason as Error)?.message ?? String(r.reason);
    return [message.includes(list[i] as string) ? message : `${list[i]}: ${message}`];
  });
  if (failures.length > 0) throw new Error(`cannot load ${failures.length} handler(s):\n  ${failures.join('\n  ')}`);
}
