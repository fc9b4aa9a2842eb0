/**
 * bench:proxy's client: node:http with keep-alive, the same for every path (direct, CompuX, Portkey), and
 * Portkey's gateway started as a child process. A streamed reply is parsed frame by frame and checked:
 * every frame JSON but a single last `[DONE]`, each choice's frames in order (role, content, finish), no
 * error event; the content is kept so the caller can compare it with the simulator's (deterministic) text.
 */
import http from 'node:http';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { freePort } from '../../local/aws.js';

export const MODEL = 'llama-3.1-70b-instruct';
export const MAX_TOKENS = 16;
const REQUEST_TIMEOUT_MS = 30_000;
const PORTKEY_READY_MS = 30_000;

export interface Target {
  name: 'direct' | 'compux' | 'portkey';
  url: string;
  headers: Record<string, string>;
}

/** One chat request; the simulator's text is seeded by model, prompt and seed, so every path gets the same. */
export function chatBody(stream: boolean): string {
  return JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Say something short about GPUs.' }], max_tokens: MAX_TOKENS, seed: 13, ...(stream ? { stream: true } : {}) });
}

export interface StreamCheck {
  /** Choice 0's content, concatenated in arrival order. */
  content: string;
  /** Frames carrying non-empty content. */
  contentFrames: number;
  frames: number;
  /** What is wrong with the framing (empty when nothing). */
  problems: string[];
}

export interface Timing {
  status: number;
  /** performance.now() at the request's start and at its reply's last byte. */
  startMs: number;
  endMs: number;
  totalMs: number;
  ttftMs: number | null;
  /** Times of the content frames, ms after the start. */
  frameTimes: number[];
  /** Non-streamed: the reply's content (choice 0). */
  content: string | null;
  completionTokens: number | null;
  stream: StreamCheck | null;
}

type Chunk = { choices?: { index?: number; delta?: { role?: string; content?: string | null }; finish_reason?: string | null }[]; error?: unknown };

/** Follows the frames of one stream: phase per choice (0 nothing yet, 1 role seen, 2 finished). */
class StreamChecker {
  content = '';
  contentFrames = 0;
  frames = 0;
  problems: string[] = [];
  private done = false;
  private phase = new Map<number, number>();

  private problem(p: string): void {
    if (this.problems.length < 5) this.problems.push(p);
  }

  /** One frame's data; returns true when it carried content. */
  take(data: string): boolean {
    this.frames++;
    if (this.done) this.problem('frame after [DONE]');
    if (data.trim() === '[DONE]') {
      this.done = true;
      return false;
    }
    let chunk: Chunk;
    try {
      chunk = JSON.parse(data) as Chunk;
    } catch {
      this.problem('frame not JSON');
      return false;
    }
    if (chunk.error !== undefined) this.problem('error event');
    let carried = false;
    for (const c of chunk.choices ?? []) {
      const i = c.index ?? -1;
      if (i !== 0) this.problem(`choice index ${i} (n = 1)`);
      const ph = this.phase.get(i) ?? 0;
      if (ph === 2) this.problem(`choice ${i}: frame after its finish`);
      if (c.delta?.role !== undefined && ph !== 0) this.problem(`choice ${i}: role frame not first`);
      if (c.delta?.role === undefined && ph === 0) this.problem(`choice ${i}: first frame without role`);
      const text = c.delta?.content ?? '';
      if (text !== '') {
        carried = true;
        if (i === 0) this.content += text;
      }
      this.phase.set(i, c.finish_reason ? 2 : 1);
    }
    if (carried) this.contentFrames++;
    return carried;
  }

  result(): StreamCheck {
    if (!this.done) this.problem('no [DONE]');
    if (this.phase.get(0) !== 2) this.problem('no finish_reason');
    return { content: this.content, contentFrames: this.contentFrames, frames: this.frames, problems: this.problems };
  }
}

export function request(agent: http.Agent, t: Target, body: string, stream: boolean): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const u = new URL(`${t.url}/chat/completions`);
    const start = performance.now();
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { ...t.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const frameTimes: number[] = [];
        const check = stream && res.statusCode === 200 ? new StreamChecker() : null;
        let ttft: number | null = null;
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          if (!check) return;
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const frame = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const data = frame
              .split('\n')
              .filter((l) => l.startsWith('data:'))
              .map((l) => l.slice(5).trimStart())
              .join('\n');
            if (data === '') continue;
            if (check.take(data)) {
              const now = performance.now() - start;
              ttft ??= now;
              frameTimes.push(now);
            }
          }
        });
        res.on('end', () => {
          const end = performance.now();
          let content: string | null = null;
          let completionTokens: number | null = null;
          if (!stream && res.statusCode === 200) {
            try {
              const j = JSON.parse(buf) as { choices?: { message?: { content?: string } }[]; usage?: { completion_tokens?: number } };
              content = j.choices?.[0]?.message?.content ?? null;
              completionTokens = j.usage?.completion_tokens ?? null;
            } catch {
              content = null;
            }
          }
          if (check && buf.trim() !== '') check.take(buf.replace(/^data:\s*/, ''));
          resolve({ status: res.statusCode ?? 0, startMs: start, endMs: end, totalMs: end - start, ttftMs: ttft, frameTimes, content, completionTokens, stream: check?.result() ?? null });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

export interface ManyRun {
  timings: Timing[];
  seconds: number;
  failures: number;
}

/** n requests, `concurrency` in flight (a closed loop); non-200 replies and errors count as failures. */
export async function runMany(agent: http.Agent, t: Target, n: number, concurrency: number, stream: boolean): Promise<ManyRun> {
  const body = chatBody(stream);
  const timings: Timing[] = [];
  let failures = 0;
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        next++;
        try {
          const r = await request(agent, t, body, stream);
          if (r.status === 200) timings.push(r);
          else failures++;
        } catch {
          failures++;
        }
      }
    }),
  );
  return { timings, seconds: (performance.now() - start) / 1000, failures };
}

// ---------- Portkey ----------

export async function startPortkey(nodeBin: string): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const require = createRequire(import.meta.url);
  const entry = path.join(path.dirname(require.resolve('@portkey-ai/gateway/package.json')), 'build', 'start-server.js');
  const proc = spawn(nodeBin, [entry, `--port=${port}`, '--headless'], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout?.resume();
  proc.stderr?.resume();
  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + PORTKEY_READY_MS;
  while (Date.now() < until) {
    try {
      await fetch(`${url}/`);
      return { url, proc };
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  proc.kill('SIGKILL');
  throw new Error('Portkey gateway did not start');
}

/**
 * CompuX's runtime in a process of its own (bench/lib/runtime-child.ts) on the parent's seeded table.
 * BENCH_CHILD_NODE_ARGS adds node flags to it (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it).
 */
export async function startRuntimeChild(ddbEndpoint: string, table: string, adminKey: string): Promise<{ url: string; proc: ChildProcess }> {
  const script = path.join(path.dirname(new URL(import.meta.url).pathname), 'runtime-child.ts');
  const proc = spawn(process.execPath, [...(process.env.BENCH_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean), '--import', 'tsx', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, BENCH_DDB_ENDPOINT: ddbEndpoint, BENCH_TABLE: table, BENCH_ADMIN_KEY: adminKey },
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error('CompuX runtime child did not start'));
    }, PORTKEY_READY_MS);
    let buf = '';
    proc.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      const line = buf.split('\n').find((l) => l.startsWith('{"url"'));
      if (!line) return;
      clearTimeout(timer);
      // Its logs after this are not read (kept flowing, not kept).
      proc.stdout!.removeAllListeners('data');
      proc.stdout!.resume();
      resolve({ url: (JSON.parse(line) as { url: string }).url, proc });
    });
    proc.once('exit', (code) => reject(new Error(`CompuX runtime child exited (${code})`)));
  });
}
