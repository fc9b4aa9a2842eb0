/**
 * `npm start` as a child process, for the crash trials (test/local/crash.test.ts): scripts/start.ts run by
 * node in its own process group, on a given data folder, with a free API port; what it prints (API URL,
 * DynamoDB endpoint, table, demo startup, facility and key) is read back from its output.
 *
 * crash() is `kill -9` of the whole group. DynamoDB Local's java has a group of its own (local/dynamodb.ts) and
 * ends when the runtime's end of its stdin pipe closes (issue 14): crash() waits for that, reports whether it had
 * to kill java itself (found by its -dbPath argument), and leaves the data folder free for the restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, sleep } from '../../local/aws.js';

/** A cold start: build the dashboards, start java, seed the demo world (with its history, about a minute here the first time). */
const START_TIMEOUT_MS = 90_000;
const OUTPUT_TAIL = 16 * 1024;

export interface Marketplace {
  pid: number;
  baseUrl: string;
  dynamodb: string;
  table: string;
  startupId: string;
  facilityId: string;
  startupKey: string;
  output(): string;
  /** The child's exit, once it has exited. */
  exited: Promise<void>;
}

/** Pids of the processes whose command line contains `needle` (from /proc; Linux). */
export function pidsWithArg(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (cmd.some((a) => a === needle)) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The java of DynamoDB Local serving `dataDir` (its -dbPath argument). */
export const javaPidsFor = (dataDir: string): number[] => pidsWithArg(path.resolve(dataDir));

export async function startMarketplace(dataDir: string, env: Record<string, string>, args: readonly string[] = []): Promise<Marketplace> {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env, PORT: '0', COMPUX_DATA_DIR: dataDir, SST_TELEMETRY_DISABLED: '1' };
  for (const k of Object.keys(childEnv)) if (k.startsWith('VITEST') || k === 'NODE_ENV') delete childEnv[k];
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts', ...args], { cwd: REPO_ROOT, env: childEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString('utf8')).slice(-OUTPUT_TAIL);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!out.includes('Press Ctrl-C to stop.')) {
    if (gone) throw new Error(`npm start exited during startup:\n${out}`);
    if (Date.now() > deadline) {
      killGroup(child.pid!);
      throw new Error(`npm start was not up within ${START_TIMEOUT_MS / 1000} s:\n${out}`);
    }
    await sleep(100);
  }
  const grab = (re: RegExp): string => {
    const m = re.exec(out);
    if (!m?.[1]) throw new Error(`${re} not found in the output of npm start:\n${out}`);
    return m[1];
  };
  const startup = /\n\s+startup\s+(\S+)\s+facility\s+(\S+)/.exec(out);
  if (!startup) throw new Error(`no demo startup in the output of npm start:\n${out}`);
  return {
    pid: child.pid!,
    baseUrl: grab(/CompuX is running at (\S+)/),
    dynamodb: grab(/DynamoDB:\s+(\S+)/),
    table: grab(/table:\s+(\S+)/),
    startupId: startup[1]!,
    facilityId: startup[2]!,
    startupKey: grab(/Startup key \(made for this run\):\s+(\S+)/),
    output: () => out,
    exited,
  };
}

export function killGroup(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** How long java may take to end after its runtime died (the launcher sees end of file at once; the JVM's exit is quick). */
const ENGINE_GONE_MS = 10_000;

/**
 * kill -9 of the marketplace's process group; then DynamoDB Local, if it outlived its runtime by ENGINE_GONE_MS
 * (issue 14). Returns whether it did.
 */
export async function crash(m: Marketplace, dataDir: string): Promise<{ javaSurvived: boolean }> {
  killGroup(m.pid);
  await Promise.race([m.exited, sleep(5_000)]);
  const gone = Date.now() + ENGINE_GONE_MS;
  while (javaPidsFor(dataDir).length > 0 && Date.now() < gone) await sleep(50);
  const java = javaPidsFor(dataDir);
  for (const pid of java) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  const deadline = Date.now() + 10_000;
  while (java.some(alive) && Date.now() < deadline) await sleep(50);
  if (java.some(alive)) throw new Error(`DynamoDB Local (${java.join(', ')}) did not die`);
  return { javaSurvived: java.length > 0 };
}
