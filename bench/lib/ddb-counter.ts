/**
 * A counting HTTP proxy in front of DynamoDB Local, for bench:proxy. Every call the handlers make passes
 * through it, so it can:
 *
 * - count calls per operation (x-amz-target) and the time DynamoDB Local took for them;
 * - log when each call arrived and when its answer went back (performance.now() of this process, the clock the
 *   bench's client uses), so calls can be attributed to "before the reply" or "after it" (splitByReply);
 * - tally the items each successful write wrote, per (pk, sk), from the DynamoDB JSON of the request:
 *   PutItem Item, UpdateItem / DeleteItem Key, TransactWriteItems each Put.Item / Update.Key / Delete.Key
 *   (ConditionCheck is not a write), BatchWriteItem each PutRequest.Item / DeleteRequest.Key.
 *
 * Loopback only; bodies are buffered (DynamoDB requests are small) and forwarded unchanged.
 */
import http from 'node:http';
import { keyPart, writtenKeys } from './writes.js';

/** Bound on the call log (memory): a full bench:proxy run makes a few tens of thousands of calls. */
const MAX_LOGGED_CALLS = 1_000_000;
/** Bound on the distinct items tallied (memory). */
const MAX_TALLIED_ITEMS = 1_000_000;

export interface DdbCall {
  op: string;
  /** Arrival at the proxy, performance.now() ms. */
  atMs: number;
  /** When DynamoDB Local's answer had passed through the proxy (performance.now() ms); null while in flight. */
  endMs: number | null;
}

export interface ItemKey {
  pk: string;
  sk: string;
}

type AttrMap = Record<string, unknown>;

function keyOf(m: AttrMap | undefined): ItemKey | null {
  return m && 'pk' in m ? { pk: keyPart(m.pk), sk: 'sk' in m ? keyPart(m.sk) : '' } : null;
}

/** The items a write request writes (empty for reads and anything not understood). */
export function writtenItems(op: string, body: unknown): ItemKey[] {
  const b = (body ?? {}) as AttrMap;
  const out: ItemKey[] = [];
  const push = (k: ItemKey | null) => k && out.push(k);
  switch (op) {
    case 'PutItem':
      push(keyOf(b.Item as AttrMap | undefined));
      break;
    case 'UpdateItem':
    case 'DeleteItem':
      push(keyOf(b.Key as AttrMap | undefined));
      break;
    case 'TransactWriteItems':
      out.push(...writtenKeys(b));
      break;
    case 'BatchWriteItem':
      for (const reqs of Object.values((b.RequestItems as Record<string, AttrMap[]> | undefined) ?? {})) {
        for (const r of reqs ?? []) {
          push(keyOf((r.PutRequest as { Item?: AttrMap } | undefined)?.Item ?? (r.DeleteRequest as { Key?: AttrMap } | undefined)?.Key));
        }
      }
      break;
  }
  return out;
}

export interface WrittenItem {
  item: string;
  writes: number;
  /** Holder-owned (pk LEASE#…) or written once (a new record): not shared between request handlers. */
  owned: boolean;
}

export interface WriteSummary {
  top: WrittenItem[];
  /** The most writes any shared item took (0 when none). */
  maxShared: number;
  maxSharedItem: string | null;
  items: number;
  writes: number;
  truncated: boolean;
}

/** Writes per (pk, sk) while enabled. */
export class ItemWriteTally {
  private counts = new Map<string, number>();
  enabled = false;
  truncated = false;

  reset(): void {
    this.counts = new Map();
    this.truncated = false;
  }

  add(keys: readonly ItemKey[]): void {
    if (!this.enabled) return;
    for (const k of keys) {
      const id = `${k.pk}|${k.sk}`;
      const prev = this.counts.get(id);
      if (prev === undefined && this.counts.size >= MAX_TALLIED_ITEMS) {
        this.truncated = true;
        continue;
      }
      this.counts.set(id, (prev ?? 0) + 1);
    }
  }

  summary(topN = 5): WriteSummary {
    const all = [...this.counts].map(([item, writes]) => ({ item, writes, owned: item.startsWith('LEASE#') || writes === 1 }));
    all.sort((a, b) => b.writes - a.writes || a.item.localeCompare(b.item));
    const shared = all.find((x) => !x.owned);
    return {
      top: all.slice(0, topN),
      maxShared: shared?.writes ?? 0,
      maxSharedItem: shared?.item ?? null,
      items: all.length,
      writes: all.reduce((s, x) => s + x.writes, 0),
      truncated: this.truncated,
    };
  }
}

export interface DdbCounter {
  url: string;
  /** Calls per operation. */
  counts: Map<string, number>;
  /** DynamoDB Local's time per operation, summed (ms). */
  ms: Map<string, number>;
  /** Every call's arrival, in arrival order (bounded: see truncated). */
  calls: DdbCall[];
  callsTruncated: () => boolean;
  inFlight: () => number;
  /** performance.now() of the last call's arrival or end. */
  lastActivityMs: () => number;
  writes: ItemWriteTally;
  /** Holds every call this long before forwarding it (0: none): a call a reply waits for then delays the reply. */
  setDelayMs: (ms: number) => void;
  close: () => Promise<void>;
}

export function startCountingProxy(target: string): Promise<DdbCounter> {
  const t = new URL(target);
  const counts = new Map<string, number>();
  const ms = new Map<string, number>();
  const calls: DdbCall[] = [];
  const writes = new ItemWriteTally();
  let truncated = false;
  let inFlight = 0;
  let lastActivity = performance.now();
  let delayMs = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const server = http.createServer((req, res) => {
    const op = String(req.headers['x-amz-target'] ?? 'other').split('.').pop()!;
    const start = performance.now();
    lastActivity = start;
    inFlight++;
    counts.set(op, (counts.get(op) ?? 0) + 1);
    const call: DdbCall = { op, atMs: start, endMs: null };
    if (calls.length < MAX_LOGGED_CALLS) calls.push(call);
    else truncated = true;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      inFlight--;
      lastActivity = performance.now();
      call.endMs = lastActivity;
      ms.set(op, (ms.get(op) ?? 0) + lastActivity - start);
    };
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => {
      finish();
      res.destroy();
    });
    req.on('end', () => setTimeout(forward, delayMs));
    const forward = () => {
      const body = Buffer.concat(chunks);
      const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers, agent }, (r) => {
        if (r.statusCode === 200 && writes.enabled) {
          try {
            writes.add(writtenItems(op, JSON.parse(body.toString('utf8'))));
          } catch {
            // not JSON: not a write this bench understands
          }
        }
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
        r.on('end', finish);
        r.on('error', finish);
      });
      up.on('error', () => {
        finish();
        res.destroy();
      });
      up.end(body);
    };
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        url: `http://127.0.0.1:${port}`,
        counts,
        ms,
        calls,
        callsTruncated: () => truncated,
        inFlight: () => inFlight,
        lastActivityMs: () => lastActivity,
        writes,
        setDelayMs: (ms: number) => {
          delayMs = Math.max(0, Math.min(ms, 1_000));
        },
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
            agent.destroy();
          }),
      });
    }),
  );
}

/**
 * Waits until no call is in flight and none started or ended for quietMs (at most boundMs), counting the quiet
 * from `sinceMs` at the earliest: after a reply, its after-reply flush takes a moment to reach the proxy, and a
 * quiet counted from the last call before the reply would let the next request start first.
 */
export async function waitQuiet(c: DdbCounter, quietMs: number, boundMs: number, sinceMs = 0): Promise<boolean> {
  const until = performance.now() + boundMs;
  for (;;) {
    const now = performance.now();
    if (c.inFlight() === 0 && now - Math.max(c.lastActivityMs(), sinceMs) >= quietMs) return true;
    if (now >= until) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface ReplyWindow {
  /** The request's start and its reply's last byte, performance.now() ms. */
  startMs: number;
  endMs: number;
}

/**
 * Attributes calls to sequential requests (concurrency 1) by whether the reply could have waited for them: a
 * call that arrived after a request's start and whose answer had come back before the reply's last byte
 * reached the client is "before the reply"; any other call of that request's window (up to the next request's
 * start, or `untilMs` for the last) is "after". A call still unanswered when the reply ended cannot have been
 * awaited by it: the after-reply flush starts right after the server writes the last byte, so by arrival time
 * alone it raced the client's own read of that byte and was often miscounted as before. bench:proxy also holds
 * every call of this phase for a while at the proxy (setDelayMs), so a call nobody waits for (the flush, a
 * cache's background reload) is answered well after a reply that did not wait for it. Calls outside
 * [first start, untilMs] are ignored.
 */
export function splitByReply(calls: readonly DdbCall[], windows: readonly ReplyWindow[], untilMs: number): { before: Map<string, number>; after: Map<string, number> } {
  const before = new Map<string, number>();
  const after = new Map<string, number>();
  if (windows.length === 0) return { before, after };
  const first = windows[0]!.startMs;
  let w = 0;
  for (const call of calls) {
    if (call.atMs < first || call.atMs > untilMs) continue;
    while (w + 1 < windows.length && windows[w + 1]!.startMs <= call.atMs) w++;
    const win = windows[w]!;
    const into = call.atMs <= win.endMs && call.endMs !== null && call.endMs <= win.endMs ? before : after;
    into.set(call.op, (into.get(call.op) ?? 0) + 1);
  }
  return { before, after };
}
