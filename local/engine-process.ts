/**
 * The process side of DynamoDB Local (issue 14, point 5), for local/dynamodb.ts:
 *
 *  - the launcher (local/java/LoopbackDynamoDbLocal.java) that binds it to 127.0.0.1 and ends it when its parent
 *    goes, compiled once per source text into node_modules/.cache (the JDK's compiler run by `java` itself, so a
 *    JRE that ships the jdk.compiler module, as Debian's openjdk-17-jre-headless does, is enough);
 *  - the pid file kept in the data folder while an engine serves it, so a start finds the engine a dead runtime left
 *    there and ends it, after checking that the pid is really that engine (its command line) and that its runtime is
 *    gone (its parent is no longer the one recorded): a live runtime's engine is never killed, the start is refused.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, sleep } from './aws.js';

/** The launcher's source and main class. */
export const LAUNCHER_SOURCE = path.join(REPO_ROOT, 'local', 'java', 'LoopbackDynamoDbLocal.java');
export const LAUNCHER_CLASS = 'LoopbackDynamoDbLocal';
/** Compiled for the oldest Java DynamoDB Local runs on, so any newer java runs it too. */
const LAUNCHER_RELEASE = '17';
/** A cold javac on two busy cores takes about a second; far more means something is wrong. */
const COMPILE_TIMEOUT_MS = 60_000;
/** Output kept from a failed compile for its error message. */
const COMPILE_OUTPUT_BYTES = 4 * 1024;

/** The file in a data folder naming the engine serving it. */
export const ENGINE_PID_FILE = 'dynamodb-local.pid';
/** A pid file is a few dozen bytes; anything larger is not ours. */
const PID_FILE_MAX_BYTES = 1024;
/** How long a stale engine may take to end after SIGTERM, then after SIGKILL. */
const STALE_TERM_GRACE_MS = 5_000;
const STALE_KILL_GRACE_MS = 5_000;

/** The message for a java that cannot be run at all. */
export function javaMissing(java: string): Error {
  return new Error(`DynamoDB Local needs Java 17+, but "${java}" was not found. Install a JRE (Debian/Ubuntu: apt-get install -y openjdk-17-jre-headless) or set JAVA_HOME.`);
}

/**
 * The folder holding LoopbackDynamoDbLocal.class for the current source, compiling it the first time. Concurrent
 * starts (test workers) each compile into a folder of their own and rename it into place; the first rename wins.
 */
export async function launcherClassDir(java: string): Promise<string> {
  const source = readFileSync(LAUNCHER_SOURCE);
  const hash = createHash('sha256').update(source).update(`release ${LAUNCHER_RELEASE}`).digest('hex').slice(0, 16);
  const cacheRoot = path.join(REPO_ROOT, 'node_modules', '.cache', 'compux');
  const dir = path.join(cacheRoot, `dynamodb-launcher-${hash}`);
  if (existsSync(path.join(dir, `${LAUNCHER_CLASS}.class`))) return dir;
  mkdirSync(cacheRoot, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await compile(java, tmp);
    try {
      renameSync(tmp, dir);
    } catch (err) {
      // Another start put it there first: theirs is the same class.
      if (!existsSync(path.join(dir, `${LAUNCHER_CLASS}.class`))) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

function compile(java: string, outDir: string): Promise<void> {
  const args = ['-m', 'jdk.compiler/com.sun.tools.javac.Main', '--release', LAUNCHER_RELEASE, '-d', outDir, LAUNCHER_SOURCE];
  return new Promise((resolve, reject) => {
    execFile(java, args, { timeout: COMPILE_TIMEOUT_MS, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve();
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return reject(javaMissing(java));
      const out = `${stdout}${stderr}`.slice(-COMPILE_OUTPUT_BYTES);
      reject(new Error(
        `DynamoDB Local is started through ${path.relative(REPO_ROOT, LAUNCHER_SOURCE)} (it binds 127.0.0.1 only), and "${java}" could not compile it. ` +
        `That needs Java's jdk.compiler module (Debian's openjdk-17-jre-headless has it; otherwise install a JDK, e.g. openjdk-17-jdk-headless, or set JAVA_HOME to one). Output:\n${out}`,
      ));
    });
  });
}

export interface EnginePidRecord {
  /** java's pid. */
  pid: number;
  /** The runtime that started it: while this process is alive and still java's parent, the engine is in use. */
  parent_pid: number;
  port: number;
  started_at: string;
}

const pidFileOf = (dbPath: string) => path.join(path.resolve(dbPath), ENGINE_PID_FILE);

export function writeEnginePidFile(dbPath: string, rec: EnginePidRecord): void {
  writeFileSync(pidFileOf(dbPath), `${JSON.stringify(rec)}\n`, { mode: 0o600 });
}

export function readEnginePidFile(dbPath: string): EnginePidRecord | null {
  let text: string;
  try {
    text = readFileSync(pidFileOf(dbPath), 'utf8');
  } catch {
    return null;
  }
  if (text.length > PID_FILE_MAX_BYTES) return null;
  try {
    const r = JSON.parse(text) as Partial<EnginePidRecord>;
    const pid = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) > 1;
    return pid(r.pid) && pid(r.parent_pid) ? { pid: r.pid, parent_pid: r.parent_pid, port: Number(r.port) || 0, started_at: String(r.started_at ?? '') } : null;
  } catch {
    return null;
  }
}

/** Removes the pid file if it still names `pid` (a newer engine's file is left alone). */
export function removeEnginePidFile(dbPath: string, pid: number): void {
  if (readEnginePidFile(dbPath)?.pid === pid) rmSync(pidFileOf(dbPath), { force: true });
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, but is someone else's.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const HAS_PROC = existsSync('/proc/self/cmdline');

/** A process's arguments (Linux: exact, from /proc; elsewhere ps's space-joined line, split on spaces). */
function argsOf(pid: number): string[] | null {
  try {
    if (HAS_PROC) return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
    return execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' }).trim().split(/\s+/);
  } catch {
    return null;
  }
}

/** State and parent of a process: "pid (comm) state ppid …" (comm may hold spaces and parentheses: read after the last ')'). */
function statOf(pid: number): { state: string; ppid: number } | null {
  try {
    if (HAS_PROC) {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return { state: state ?? '', ppid: Number(ppid) };
    }
    const [state, ppid] = execFileSync('ps', ['-o', 'state=,ppid=', '-p', String(pid)], { encoding: 'utf8' }).trim().split(/\s+/);
    return { state: state?.[0] ?? '', ppid: Number(ppid) };
  } catch {
    return null;
  }
}

/** Alive and not a zombie (an ended process its parent has not reaped yet still answers signal 0). */
export function running(pid: number): boolean {
  return alive(pid) && statOf(pid)?.state !== 'Z';
}

/** Whether `pid` is DynamoDB Local started through the launcher on `dbPath` (a reused pid is not). */
export function isEngineFor(pid: number, dbPath: string): boolean {
  const args = argsOf(pid);
  if (!args) return false;
  const at = args.indexOf('-dbPath');
  return args.includes(LAUNCHER_CLASS) && at >= 0 && args[at + 1] === path.resolve(dbPath);
}

/** A live runtime's engine serves this data folder: a second one on the same folder is refused. */
export class EngineInUseError extends Error {
  override name = 'EngineInUseError';
}

/**
 * Ends the engine a dead runtime left on `dbPath` (SIGTERM, then SIGKILL); returns its pid, or null when there was
 * none. Throws EngineInUseError when the engine's runtime is still alive, and an Error when it would not end.
 */
export async function endStaleEngine(dbPath: string): Promise<number | null> {
  const rec = readEnginePidFile(dbPath);
  if (!rec) return null;
  if (!running(rec.pid) || !isEngineFor(rec.pid, dbPath)) {
    // Gone, or the pid now belongs to something else: nothing to end, the record is stale.
    removeEnginePidFile(dbPath, rec.pid);
    return null;
  }
  if (statOf(rec.pid)?.ppid === rec.parent_pid && running(rec.parent_pid)) {
    throw new EngineInUseError(
      `the data folder ${path.resolve(dbPath)} is in use: DynamoDB Local (pid ${rec.pid}, port ${rec.port}) serves it for a runtime that is still running (pid ${rec.parent_pid}). Stop that one, or choose another folder (COMPUX_DATA_DIR).`,
    );
  }
  for (const [signal, graceMs] of [['SIGTERM', STALE_TERM_GRACE_MS], ['SIGKILL', STALE_KILL_GRACE_MS]] as const) {
    try {
      process.kill(rec.pid, signal);
    } catch {
      // ended meanwhile
    }
    const deadline = Date.now() + graceMs;
    while (running(rec.pid) && Date.now() < deadline) await sleep(50);
    if (!running(rec.pid)) {
      removeEnginePidFile(dbPath, rec.pid);
      return rec.pid;
    }
  }
  throw new Error(`a stale DynamoDB Local (pid ${rec.pid}) on ${path.resolve(dbPath)} did not end after SIGKILL`);
}
