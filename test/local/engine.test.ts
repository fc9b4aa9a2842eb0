/**
 * Crash-safe DynamoDB Local (issue 14, point 5), started as the runtime starts it (local/dynamodb.ts):
 *
 *  - a SIGKILL of the runtime's whole process group leaves no engine behind and frees its port (java is in a group
 *    of its own; the launcher ends it when the runtime's end of its stdin pipe closes);
 *  - a start on a data folder ends the engine a dead runtime left there (found by the folder's pid file), and
 *    refuses the folder while a live runtime's engine serves it;
 *  - the engine accepts connections on 127.0.0.1 only, not on the machine's other addresses.
 *
 * The "left behind" engines are java started with the runtime's own command line (engineArgs) by this test, which
 * holds their stdin open, with a pid file naming the runtime they belong to: the state a runtime leaves when its
 * engine outlives it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ListTablesCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { REPO_ROOT, freePort, localClientConfig, sleep } from '../../local/aws.js';
import { dynamoDbLocalDir, engineArgs, javaCommand, startDynamoDbLocal, type DynamoDbLocal } from '../../local/dynamodb.js';
import { EngineInUseError, launcherClassDir, readEnginePidFile, running, writeEnginePidFile } from '../../local/engine-process.js';

/** A cold JVM answers in 1–5 s here; a loaded two-core machine may take several times that. */
const UP_TIMEOUT_MS = 45_000;
/** After its runtime dies the launcher sees end of file at once; the JVM's shutdown takes well under a second. */
const GONE_TIMEOUT_MS = 10_000;

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dataDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'compux-engine-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function killLater(pid: number | undefined): void {
  cleanups.push(() => {
    if (pid === undefined) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  });
}

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(50);
  }
}

/** What a TCP connection to host:port meets: 'connected', or the error code (ECONNREFUSED when nothing listens there). */
function connectTo(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: 3_000 });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('timeout', () => {
      s.destroy();
      resolve('timeout');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? String(err)));
  });
}

async function answers(endpoint: string): Promise<boolean> {
  const client = new DynamoDBClient({ ...localClientConfig(endpoint), maxAttempts: 1 });
  try {
    await client.send(new ListTablesCommand({ Limit: 1 }));
    return true;
  } catch {
    return false;
  } finally {
    client.destroy();
  }
}

/** An engine on `dbPath` with the runtime's command line, whose pid file names `parentPid` as its runtime. */
async function leftEngine(dbPath: string, parentPid: number): Promise<{ child: ChildProcess; endpoint: string }> {
  const dir = dynamoDbLocalDir();
  const java = javaCommand();
  const port = await freePort();
  const child = spawn(java, engineArgs(dir, await launcherClassDir(java), port, { dbPath }), { cwd: dir, detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  killLater(child.pid);
  writeEnginePidFile(dbPath, { pid: child.pid!, parent_pid: parentPid, port, started_at: new Date().toISOString() });
  const endpoint = `http://127.0.0.1:${port}`;
  await until('the left engine answers', () => answers(endpoint), UP_TIMEOUT_MS);
  return { child, endpoint };
}

/** A pid that no process has now: a short-lived child's, once it has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  expect(running(r.pid)).toBe(false);
  return r.pid;
}

/** Every address of this machine other than loopback (IPv6 link-local ones need a scope: left out). */
function otherAddresses(): string[] {
  return Object.values(os.networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((a) => !a.internal && !a.address.startsWith('fe80:'))
    .map((a) => a.address);
}

describe('DynamoDB Local as the runtime starts it', () => {
  it('a SIGKILL of the runtime\'s process group leaves no engine behind', { timeout: 90_000 }, async () => {
    // Prepare: a runtime stand-in in its own process group, serving a data folder.
    const folder = dataDir();
    const host = spawn(process.execPath, ['--import', 'tsx', 'test/local/fixtures/engine-host.ts', folder], { cwd: REPO_ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    killLater(host.pid);
    let out = '';
    host.stdout!.on('data', (b: Buffer) => (out += b.toString('utf8')));
    host.stderr!.on('data', (b: Buffer) => (out += b.toString('utf8')));
    await until(`the engine host is up (${out})`, () => out.includes('ENGINE '), UP_TIMEOUT_MS);
    const engine = JSON.parse(/ENGINE (\{.*\})/.exec(out)![1]!) as { pid: number; port: number };
    killLater(engine.pid);
    expect(running(engine.pid)).toBe(true);
    expect(await connectTo('127.0.0.1', engine.port)).toBe('connected');
    // Act: kill -9 of the group, as a crash trial does.
    process.kill(-host.pid!, 'SIGKILL');
    // Assess
    await until('the engine ends with its runtime', () => !running(engine.pid), GONE_TIMEOUT_MS);
    // Its port goes with it (a dead process holds none). Not asserted by connecting: test files run side by side,
    // and another one's server may take a freed port at once.
  });

  it('a start ends the engine a dead runtime left on the same data folder', { timeout: 120_000 }, async () => {
    // Prepare
    const folder = dataDir();
    const left = await leftEngine(folder, deadPid());
    // Act
    const ddb = await startDynamoDbLocal({ dbPath: folder });
    cleanups.push(() => ddb.stop());
    // Assess
    expect(running(left.child.pid!)).toBe(false);
    expect(await answers(left.endpoint)).toBe(false);
    expect(await answers(ddb.endpoint)).toBe(true);
    expect(readEnginePidFile(folder)).toMatchObject({ pid: ddb.process.pid, parent_pid: process.pid, port: ddb.port });
  });

  it('a start on a data folder a live runtime\'s engine serves is refused, and that engine keeps serving', { timeout: 120_000 }, async () => {
    // Prepare: this process is the left engine's parent, alive.
    const folder = dataDir();
    const left = await leftEngine(folder, process.pid);
    // Act
    const started = startDynamoDbLocal({ dbPath: folder }).then((d: DynamoDbLocal) => {
      cleanups.push(() => d.stop());
      return d;
    });
    // Assess
    await expect(started).rejects.toThrow(EngineInUseError);
    await expect(started).rejects.toThrow(/is in use: DynamoDB Local \(pid \d+, port \d+\) serves it for a runtime that is still running/);
    expect(running(left.child.pid!)).toBe(true);
    expect(await answers(left.endpoint)).toBe(true);
  });

  const others = otherAddresses();
  // Without another address there is nothing to try: the test says so in its name and is skipped.
  it.skipIf(others.length === 0)(`accepts connections on 127.0.0.1 only, not on this machine's other addresses (${others.join(', ') || 'none here: skipped'})`, { timeout: 90_000 }, async () => {
    // Prepare
    const ddb = await startDynamoDbLocal({ inMemory: true });
    cleanups.push(() => ddb.stop());
    // Act
    const loopback = await connectTo('127.0.0.1', ddb.port);
    const elsewhere = await Promise.all(others.map(async (a) => ({ address: a, outcome: await connectTo(a, ddb.port) })));
    // Assess
    expect(loopback).toBe('connected');
    expect(elsewhere).toEqual(others.map((a) => ({ address: a, outcome: 'ECONNREFUSED' })));
  });
});
