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
 * - `refreshAfterMs`, when given, reloads an entry in the background once it is that old (still within its
 *   TTL, so the bound on staleness is unchanged): under steady traffic a hot entry never expires in front of
 *   a request, so no request waits for the table to refresh it. A failed refresh is dropped; the entry then
 *   expires at its TTL as it would have without one.
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
  /** Age (ms) past which a hit is still served but reloaded in the background; below ttlMs to matter. */
  refreshAfterMs?: number;
}

interface Entry<V> {
  value: V;
  expires_at: number;
  /** Wall time past which a hit starts a background reload (Infinity: never). */
  refresh_at: number;
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
    if (opts.refreshAfterMs !== undefined && !(Number.isSafeInteger(opts.refreshAfterMs) && opts.refreshAfterMs >= 0)) throw new Error('refreshAfterMs must be a non-negative integer');
    this.now = opts.nowMs ?? Date.now;
    this.epoch = opts.epoch ?? (() => 0);
  }

  /** The fresh cached value, or `load(key)` (shared with concurrent misses of the same key). */
  async get(key: K, load: (key: K) => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    const t = this.now();
    if (hit && t < hit.expires_at && hit.epoch === this.epoch()) {
      // Served as is; a reload (one at a time) replaces it before it expires.
      if (t >= hit.refresh_at && !this.loading.has(key)) this.load(key, load).catch(() => undefined);
      return hit.value;
    }
    if (hit) this.entries.delete(key);
    return this.loading.get(key) ?? this.load(key, load);
  }

  private load(key: K, load: (key: K) => Promise<V>): Promise<V> {
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
    const refresh = this.opts.refreshAfterMs;
    this.entries.set(key, { value, expires_at: loadedAt + ttl, refresh_at: refresh === undefined ? Infinity : loadedAt + refresh, epoch });
  }
}

/** A TTL from the environment's text: a non-negative integer of ms, at most `max`; else the default. */
export function ttlFromEnv(text: string | undefined, fallback: number, max: number): number {
  const v = text === undefined || text.trim() === '' ? NaN : Number(text);
  return Number.isSafeInteger(v) && v >= 0 ? Math.min(v, max) : fallback;
}
