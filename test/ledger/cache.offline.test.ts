/**
 * Offline: the bounded TTL cache (packages/core/src/cache.ts) and the three caches of the request path built
 * on it or beside it — API keys (Tenants), the routing catalog (CachedCatalog) and the relay signer's key set.
 */
import { describe, expect, it } from 'vitest';
import {
  CachedCatalog, KEY_CACHE_TTL_MS, MAX_CATALOG_CACHE_TTL_MS, MAX_KEY_CACHE_TTL_MS, ROTATION_OVERLAP_S, RelaySigner, SIGNER_MAX_STALE_MS, SIGNER_RELOAD_MS,
  Tenants, TtlCache, firstKeySet, sha256Hex, ttlFromEnv,
  type ApiKeyRecord, type Catalog, type RelayKeySet, type TenantStore,
} from '../../packages/core/src/index.js';
import { RELAY_TOKEN_TTL_S } from '../../packages/provider-kit/src/relay.js';

/** A wall clock the test moves by hand. */
function manualClock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

/** A loader that counts its calls and answers `value(key)`. */
function counted<K, V>(value: (key: K) => V) {
  const calls: K[] = [];
  return { calls, load: async (key: K) => (calls.push(key), value(key)) };
}

/** A promise the test settles by hand. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('TtlCache', () => {
  it('serves a value from the cache within its ttl', async () => {
    // Prepare
    const clock = manualClock();
    const cache = new TtlCache<string, string>({ ttlMs: 1_000, maxEntries: 10, nowMs: clock.now });
    const l = counted((k: string) => `v:${k}`);
    // Act
    const first = await cache.get('a', l.load);
    clock.advance(999);
    const second = await cache.get('a', l.load);
    // Assess
    expect([first, second]).toEqual(['v:a', 'v:a']);
    expect(l.calls).toEqual(['a']);
  });

  it('loads again once the ttl has passed', async () => {
    // Prepare
    const clock = manualClock();
    const cache = new TtlCache<string, number>({ ttlMs: 1_000, maxEntries: 10, nowMs: clock.now });
    let n = 0;
    const load = async () => ++n;
    await cache.get('a', load);
    // Act
    clock.advance(1_000);
    const after = await cache.get('a', load);
    // Assess
    expect(after).toBe(2);
  });

  it('measures staleness from when the read began, not when it answered', async () => {
    // Prepare: a read that takes 600 ms of the 1,000 ms ttl.
    const clock = manualClock();
    const cache = new TtlCache<string, number>({ ttlMs: 1_000, maxEntries: 10, nowMs: clock.now });
    let n = 0;
    await cache.get('a', async () => (clock.advance(600), ++n));
    // Act
    clock.advance(400);
    const after = await cache.get('a', async () => ++n);
    // Assess
    expect(after).toBe(2);
  });

  it('a hit past refreshAfterMs is served at once and reloaded in the background', async () => {
    // Prepare
    const clock = manualClock();
    const cache = new TtlCache<string, number>({ ttlMs: 1_000, maxEntries: 10, nowMs: clock.now, refreshAfterMs: 500 });
    let n = 0;
    const reload = deferred<number>();
    await cache.get('a', async () => ++n);
    clock.advance(500);
    // Act
    const served = await cache.get('a', () => reload.promise);
    const again = await cache.get('a', () => Promise.reject(new Error('a second reload must not start')));
    reload.resolve(7);
    await reload.promise;
    await Promise.resolve();
    clock.advance(600);
    const refreshed = await cache.get('a', () => Promise.reject(new Error('no load: the reload is fresh')));
    // Assess
    expect([served, again, refreshed]).toEqual([1, 1, 7]);
  });

  it('a failed background reload leaves the entry to expire at its ttl, never later', async () => {
    // Prepare
    const clock = manualClock();
    const cache = new TtlCache<string, number>({ ttlMs: 1_000, maxEntries: 10, nowMs: clock.now, refreshAfterMs: 500 });
    await cache.get('a', async () => 1);
    clock.advance(600);
    // Act
    const served = await cache.get('a', () => Promise.reject(new Error('table unavailable')));
    await new Promise((r) => setImmediate(r));
    clock.advance(400);
    const expired = await cache.get('a', async () => 2);
    // Assess
    expect([served, expired]).toEqual([1, 2]);
  });

  it('concurrent misses of one key share one load', async () => {
    // Prepare
    const cache = new TtlCache<string, string>({ ttlMs: 1_000, maxEntries: 10 });
    const gate = deferred<string>();
    let loads = 0;
    const load = () => (loads++, gate.promise);
    // Act
    const all = Promise.all([cache.get('a', load), cache.get('a', load), cache.get('a', load)]);
    gate.resolve('v');
    // Assess
    expect(await all).toEqual(['v', 'v', 'v']);
    expect(loads).toBe(1);
  });

  it('does not keep an error: the next get loads again', async () => {
    // Prepare
    const cache = new TtlCache<string, string>({ ttlMs: 1_000, maxEntries: 10 });
    const failed = cache.get('a', async () => {
      throw new Error('table unavailable');
    });
    await expect(failed).rejects.toThrow('table unavailable');
    // Act
    const next = await cache.get('a', async () => 'v');
    // Assess
    expect(next).toBe('v');
  });

  it('holds at most maxEntries, dropping the oldest loaded', async () => {
    // Prepare
    const cache = new TtlCache<string, string>({ ttlMs: 60_000, maxEntries: 2 });
    const l = counted((k: string) => k);
    // Act
    for (const k of ['a', 'b', 'c']) await cache.get(k, l.load);
    await cache.get('b', l.load);
    await cache.get('a', l.load);
    // Assess: a was evicted by c (one more load of it); b stayed.
    expect(cache.size).toBe(2);
    expect(l.calls).toEqual(['a', 'b', 'c', 'a']);
  });

  it('keeps no value whose ttlOf is 0 (a "not found")', async () => {
    // Prepare
    const cache = new TtlCache<string, string | null>({ ttlMs: 60_000, maxEntries: 10, ttlOf: (v) => (v === null ? 0 : 60_000) });
    const l = counted((_k: string) => null);
    // Act
    await cache.get('missing', l.load);
    await cache.get('missing', l.load);
    // Assess
    expect(l.calls).toHaveLength(2);
    expect(cache.size).toBe(0);
  });

  it('keeps nothing with a ttl of 0', async () => {
    // Prepare
    const cache = new TtlCache<string, string>({ ttlMs: 0, maxEntries: 10 });
    const l = counted((k: string) => k);
    // Act
    await cache.get('a', l.load);
    await cache.get('a', l.load);
    // Assess
    expect(l.calls).toHaveLength(2);
  });

  it('invalidate drops an entry at once', async () => {
    // Prepare
    const cache = new TtlCache<string, number>({ ttlMs: 60_000, maxEntries: 10 });
    let n = 0;
    await cache.get('a', async () => ++n);
    // Act
    cache.invalidate('a');
    const after = await cache.get('a', async () => ++n);
    // Assess
    expect(after).toBe(2);
  });

  it('a load under way when invalidate is called is not kept', async () => {
    // Prepare: a read that began before the invalidation answers after it.
    const cache = new TtlCache<string, string>({ ttlMs: 60_000, maxEntries: 10 });
    const gate = deferred<string>();
    const racing = cache.get('a', () => gate.promise);
    // Act
    cache.invalidate('a');
    gate.resolve('before the write');
    await racing;
    const after = await cache.get('a', async () => 'after the write');
    // Assess
    expect(after).toBe('after the write');
  });

  it('an entry loaded under an older epoch is a miss', async () => {
    // Prepare
    let epoch = 0;
    const cache = new TtlCache<string, number>({ ttlMs: 60_000, maxEntries: 10, epoch: () => epoch });
    let n = 0;
    await cache.get('a', async () => ++n);
    // Act
    epoch++;
    const after = await cache.get('a', async () => ++n);
    // Assess
    expect(after).toBe(2);
  });

  it('a load that spans an epoch change is not kept', async () => {
    // Prepare
    let epoch = 0;
    const cache = new TtlCache<string, number>({ ttlMs: 60_000, maxEntries: 10, epoch: () => epoch });
    const gate = deferred<number>();
    const racing = cache.get('a', () => gate.promise);
    // Act
    epoch++;
    gate.resolve(1);
    await racing;
    const after = await cache.get('a', async () => 2);
    // Assess
    expect(after).toBe(2);
  });

  it.each([
    [undefined, 5_000],
    ['', 5_000],
    ['abc', 5_000],
    ['-1', 5_000],
    ['1.5', 5_000],
    ['0', 0],
    ['2500', 2_500],
    ['3600000', 60_000],
  ])('a ttl from the environment %j is %d ms (default 5,000, at most 60,000)', (text, ms) => {
    expect(ttlFromEnv(text, 5_000, 60_000)).toBe(ms);
  });
});

/** A TenantStore holding keys in memory, counting lookups by hash. */
function keyStore(keys: ApiKeyRecord[]) {
  const byHash = new Map(keys.map((k) => [k.key_sha256, k]));
  const lookups: string[] = [];
  const store = {
    findApiKeyByHash: async (h: string) => (lookups.push(h), byHash.get(h) ?? null),
    listStartupKeys: async (startupId: string) => ({ items: [...byHash.values()].filter((k) => k.tenant_id === startupId), cursor: null }),
    revokeApiKey: async (_t: string, h: string, at: string) => {
      const k = { ...byHash.get(h)!, revoked_at: at };
      byHash.set(h, k);
      return k;
    },
  } as unknown as TenantStore;
  return { store, lookups, byHash };
}

function startupKey(secret: string): ApiKeyRecord {
  return {
    id: `key_${secret}`, role: 'startup', tenant_id: 'stu_1', name: secret, key_sha256: sha256Hex(secret),
    budget_micros: null, budget_period: null, budget_soft_micros: null, models: null, rpm: null, tpm: null, budget_left_micros: null, created_at: '2026-01-01T00:00:00.000Z', revoked_at: null,
  };
}

describe('the key cache (Tenants.authenticate)', () => {
  it('a key used again within half the bound is not read again', async () => {
    // Prepare
    const clock = manualClock();
    const { store, lookups } = keyStore([startupKey('cx_startup_a')]);
    const tenants = new Tenants(store, undefined, undefined, { wallMs: clock.now });
    // Act
    const first = await tenants.authenticate('cx_startup_a');
    clock.advance(KEY_CACHE_TTL_MS / 2 - 1);
    const second = await tenants.authenticate('cx_startup_a');
    // Assess
    expect(first?.key_id).toBe('key_cx_startup_a');
    expect(second?.key_id).toBe('key_cx_startup_a');
    expect(lookups).toHaveLength(1);
  });

  it('a key in use past half the bound is reloaded behind the request, so it never expires in front of one', async () => {
    // Prepare
    const clock = manualClock();
    const { store, lookups } = keyStore([startupKey('cx_startup_a')]);
    const tenants = new Tenants(store, undefined, undefined, { wallMs: clock.now });
    await tenants.authenticate('cx_startup_a');
    // Act: past half the bound the request is answered from the cache and a reload starts behind it; then the
    // table stops answering, and at the first read's full bound the request is still answered (by the reload).
    clock.advance(KEY_CACHE_TTL_MS / 2);
    const served = await tenants.authenticate('cx_startup_a');
    await new Promise((r) => setImmediate(r));
    store.findApiKeyByHash = () => new Promise(() => undefined);
    clock.advance(KEY_CACHE_TTL_MS / 2);
    const afterFirstBound = await tenants.authenticate('cx_startup_a');
    // Assess
    expect(served?.key_id).toBe('key_cx_startup_a');
    expect(afterFirstBound?.key_id).toBe('key_cx_startup_a');
    expect(lookups).toHaveLength(2);
  });

  it('a key revoked on another instance stops being accepted once the bound has passed', async () => {
    // Prepare: this instance read the key; another instance revokes it in the store.
    const clock = manualClock();
    const { store, byHash } = keyStore([startupKey('cx_startup_a')]);
    const tenants = new Tenants(store, undefined, undefined, { wallMs: clock.now });
    await tenants.authenticate('cx_startup_a');
    const h = sha256Hex('cx_startup_a');
    byHash.set(h, { ...byHash.get(h)!, revoked_at: '2026-01-02T00:00:00.000Z' });
    // Act
    clock.advance(KEY_CACHE_TTL_MS);
    const after = await tenants.authenticate('cx_startup_a');
    // Assess
    expect(after).toBeNull();
  });

  it('a key revoked on this instance stops being accepted at once', async () => {
    // Prepare
    const { store } = keyStore([startupKey('cx_startup_a')]);
    const tenants = new Tenants(store, undefined);
    const before = await tenants.authenticate('cx_startup_a');
    // Act
    await tenants.revokeStartupKey('stu_1', 'key_cx_startup_a');
    const after = await tenants.authenticate('cx_startup_a');
    // Assess
    expect(before).not.toBeNull();
    expect(after).toBeNull();
  });

  it('an unknown token is read every time (not found is not kept)', async () => {
    // Prepare
    const { store, lookups } = keyStore([]);
    const tenants = new Tenants(store, undefined);
    // Act
    await tenants.authenticate('cx_startup_unknown');
    await tenants.authenticate('cx_startup_unknown');
    // Assess
    expect(lookups).toHaveLength(2);
  });

  it('a configured ttl above the maximum is held to the maximum', async () => {
    // Prepare
    const clock = manualClock();
    const { store, lookups } = keyStore([startupKey('cx_startup_a')]);
    const tenants = new Tenants(store, undefined, undefined, { keyCacheTtlMs: 10 * MAX_KEY_CACHE_TTL_MS, wallMs: clock.now });
    await tenants.authenticate('cx_startup_a');
    // Act
    clock.advance(MAX_KEY_CACHE_TTL_MS);
    await tenants.authenticate('cx_startup_a');
    // Assess
    expect(lookups).toHaveLength(2);
  });
});

describe('the catalog cache (CachedCatalog)', () => {
  const snapshot = (n: number): Catalog => ({ providers: [], spot_micros_per_gpu_hour: { H100: n } });

  it('serves one snapshot within the bound and reads again after it', async () => {
    // Prepare
    const clock = manualClock();
    let n = 0;
    const catalog = new CachedCatalog({ load: async () => snapshot(++n) }, { ttlMs: 2_000, nowMs: clock.now });
    // Act
    const a = await catalog.load();
    clock.advance(1_999);
    const b = await catalog.load();
    clock.advance(1);
    const c = await catalog.load();
    // Assess
    expect([a, b, c].map((x) => x.spot_micros_per_gpu_hour.H100)).toEqual([1, 1, 2]);
  });

  it('a routing write in this process (the epoch moves) is routed on at once', async () => {
    // Prepare
    let epoch = 0;
    let n = 0;
    const catalog = new CachedCatalog({ load: async () => snapshot(++n) }, { epoch: () => epoch });
    await catalog.load();
    // Act
    epoch++;
    const after = await catalog.load();
    // Assess
    expect(after.spot_micros_per_gpu_hour.H100).toBe(2);
  });

  it('a configured ttl above the maximum is held to the maximum', async () => {
    // Prepare
    const clock = manualClock();
    let n = 0;
    const catalog = new CachedCatalog({ load: async () => snapshot(++n) }, { ttlMs: 10 * MAX_CATALOG_CACHE_TTL_MS, nowMs: clock.now });
    await catalog.load();
    // Act
    clock.advance(MAX_CATALOG_CACHE_TTL_MS);
    const after = await catalog.load();
    // Assess
    expect(after.spot_micros_per_gpu_hour.H100).toBe(2);
  });
});

describe('the relay signer (staleness of its key set)', () => {
  /** A key store whose reads can be made to fail, counting them. */
  function keySource(set: RelayKeySet) {
    const s = { reads: 0, failing: false, load: async () => {
      s.reads++;
      if (s.failing) throw new Error('table unavailable');
      return set;
    } };
    return s;
  }

  it('signs from the held set without reading it again within the reload interval', async () => {
    // Prepare
    const clock = manualClock();
    const src = keySource(firstKeySet('2026-01-01T00:00:00.000Z'));
    const signer = new RelaySigner(src, clock.now);
    await signer.token('prv_a', 'req_1');
    // Act
    clock.advance(SIGNER_RELOAD_MS - 1);
    await signer.token('prv_a', 'req_2');
    // Assess
    expect(src.reads).toBe(1);
  });

  it('keeps signing with the held set through failed reloads while it is younger than the maximum staleness', async () => {
    // Prepare
    const clock = manualClock();
    const src = keySource(firstKeySet('2026-01-01T00:00:00.000Z'));
    const signer = new RelaySigner(src, clock.now);
    await signer.token('prv_a', 'req_1');
    src.failing = true;
    // Act
    clock.advance(SIGNER_MAX_STALE_MS - 1);
    const token = await signer.token('prv_a', 'req_2');
    // Assess
    expect(token.split('.')).toHaveLength(3);
    expect(src.reads).toBe(2);
  });

  it('fails instead of signing with a set older than the maximum staleness', async () => {
    // Prepare
    const clock = manualClock();
    const src = keySource(firstKeySet('2026-01-01T00:00:00.000Z'));
    const signer = new RelaySigner(src, clock.now);
    await signer.token('prv_a', 'req_1');
    src.failing = true;
    // Act
    clock.advance(SIGNER_MAX_STALE_MS);
    const late = signer.token('prv_a', 'req_2');
    // Assess
    await expect(late).rejects.toThrow('table unavailable');
  });

  it('its bounds sit inside the rotation overlap, so it never signs with a key the JWKS dropped', () => {
    expect(SIGNER_RELOAD_MS).toBeLessThan(SIGNER_MAX_STALE_MS);
    expect(SIGNER_MAX_STALE_MS / 1000 + RELAY_TOKEN_TTL_S).toBeLessThan(ROTATION_OVERLAP_S);
  });
});
