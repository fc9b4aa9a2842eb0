/**
 * A small in-process cache with a bound on staleness: what the request path reads on every call (API keys,
 * the routing catalog) is kept for at most `ttlMs` of real elapsed time, so a warm request reads none of it
 * from the table.
 *
 * - At most `maxEntries` entries; adding one more evicts the oldest loaded.
 * - Staleness is wall time (`nowMs`, default Date.now), not the business clock (clock.ts): an entry is as
 *   stale as the time since it was read, whichever instant COMPUX_NOW says it is.
 * - Single flight: concurrent misses of one key share one load.
 * - Errors are never kept: the next get loads again.
 * - `ttlOf(value)` may keep some values for less (0: not at all), e.g. "not found".
 * - `invalidate(key)` drops an entry at once, and a load already under way for it is not kept either.
 * - `epoch()`, when given, is a counter the process bumps on every write to what is cached: an entry loaded
 *   under another epoch is a miss, so a write in this process is seen at once by every cache reading it.
 */

export interface TtlCacheOptions<V> {
  /** Longest a loaded value is served, in ms of wall time. 0 keeps nothing (concurrent gets still share a load). */
  ttlMs: number;
  maxEntries: number;
  /** Wall time in ms; staleness is measured with it. */
  nowMs?: () => number;
  /** How long this value may be kept, at most ttlMs (default ttlMs). */
  ttlOf?: (value: V) => number;
  /** Bumped by the process on every write to the cached data: entries of an older epoch are misses. */
  epoch?: () => number;
}

interface Entry<V> {
  value: V;
  expires_at: number;
  epoch: number;
}

export class TtlCache<K, V> {
  private readonly entries = new Map<K, Entry<V>>();
  private readonly loading = new Map<K, Promise<V>>();
  private readonly now: () => number;
  private readonly epoch: () => number;

  constructor(private readonly opts: TtlCacheOptions<V>) {
    if (!(Number.isSafeInteger(opts.ttlMs) && opts.ttlMs >= 0)) throw new Error('ttlMs must be a non-negative integer');
    if (!(Number.isSafeInteger(opts.maxEntries) && opts.maxEntries >= 1)) throw new Error('maxEntries must be a positive integer');
    this.now = opts.nowMs ?? Date.now;
    this.epoch = opts.epoch ?? (() => 0);
  }

  /** The fresh cached value, or `load(key)` (shared with concurrent misses of the same key). */
  async get(key: K, load: (key: K) => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && this.now() < hit.expires_at && hit.epoch === this.epoch()) return hit.value;
    if (hit) this.entries.delete(key);
    const pending = this.loading.get(key);
    if (pending) return pending;
    const epoch = this.epoch();
    const started = this.now();
    const p = load(key).then(
      (value) => {
        // Kept only if nothing invalidated it meanwhile: neither invalidate(key) nor a write in this process.
        if (this.loading.get(key) === p) {
          this.loading.delete(key);
          if (epoch === this.epoch()) this.put(key, value, epoch, started);
        }
        return value;
      },
      (err: unknown) => {
        if (this.loading.get(key) === p) this.loading.delete(key);
        throw err;
      },
    );
    this.loading.set(key, p);
    return p;
  }

  /** Drops the entry and any load of it under way (its result is not kept). */
  invalidate(key: K): void {
    this.entries.delete(key);
    this.loading.delete(key);
  }

  clear(): void {
    this.entries.clear();
    this.loading.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private put(key: K, value: V, epoch: number, loadedAt: number): void {
    // Staleness counts from when the read began: the value is at least that old.
    const ttl = Math.min(this.opts.ttlMs, Math.max(0, this.opts.ttlOf?.(value) ?? this.opts.ttlMs));
    if (ttl <= 0) return;
    this.entries.delete(key);
    while (this.entries.size >= this.opts.maxEntries) this.entries.delete(this.entries.keys().next().value as K);
    this.entries.set(key, { value, expires_at: loadedAt + ttl, epoch });
  }
}

/** A TTL from the environment's text: a non-negative integer of ms, at most `max`; else the default. */
export function ttlFromEnv(text: string | undefined, fallback: number, max: number): number {
  const v = text === undefined || text.trim() === '' ? NaN : Number(text);
  return Number.isSafeInteger(v) && v >= 0 ? Math.min(v, max) : fallback;
}
