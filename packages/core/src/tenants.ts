/**
 * Tenants and keys. A key is shown once at creation; only its sha256 is stored. The operator key is
 * configured (its sha256 in COMPUX_ADMIN_KEY_SHA256), never stored in the table.
 */
import { DEFAULT_KEY_MAX_IN_FLIGHT } from './concurrency.js';
import { timingSafeEqual } from 'node:crypto';
import { newId, newSecretKey, sha256Hex } from './ids.js';
import type { Clock } from './credits.js';
import { now } from './clock.js';
import { TtlCache } from './cache.js';
import { checkBudgetTerms, periodWindow, type BudgetPeriod } from './key-budgets.js';
import type { ApiKeyRecord, IdempotencyClaim, Idempotent, Lender, Role, Startup, TenantStore } from './store.js';
import type { RoutingPreferences } from './gateway/preferences.js';

export interface Principal {
  role: Role;
  /** The startup, lender or provider id; null for the operator. */
  tenant_id: string | null;
  key_id: string | null;
  key: ApiKeyRecord | null;
}

/** Longest bearer token we will hash: anything longer is not one of ours. */
export const MAX_KEY_CHARS = 200;
/** Keys one startup may hold (revoked ones included): bounds the walk that finds a key by id. */
export const MAX_KEYS_PER_STARTUP = 100;

/**
 * How long an instance may keep answering from a key it read (ms of wall time): a key revoked elsewhere stops
 * being accepted on every instance within this bound, and at once on the instance that revoked it. It can be
 * set by COMPUX_KEY_CACHE_TTL_MS (0 turns the cache off), never above MAX_KEY_CACHE_TTL_MS.
 */
export const KEY_CACHE_TTL_MS = 5_000;
export const MAX_KEY_CACHE_TTL_MS = 60_000;
/** Keys one instance keeps (a record is a few hundred bytes); past it the oldest read is dropped. */
export const KEY_CACHE_MAX_ENTRIES = 10_000;

/**
 * A new key with no budget, allow-list or rate limit (a lender's or a provider's own key): the secret to
 * show once, and the record to store (its sha256 only).
 */
export function unlimitedKey(role: 'lender' | 'provider', tenantId: string, name: string, at: string): { secret: string; record: ApiKeyRecord } {
  const secret = newSecretKey(role === 'lender' ? 'cx_lender' : 'cx_provider');
  return {
    secret,
    record: {
      id: newId('key'), role, tenant_id: tenantId, name, key_sha256: sha256Hex(secret),
      budget_micros: null, budget_period: null, budget_soft_micros: null, models: null, rpm: null, tpm: null, budget_left_micros: null, created_at: at, revoked_at: null,
    },
  };
}

export interface TenantsOptions {
  /** See KEY_CACHE_TTL_MS (the default); clamped to MAX_KEY_CACHE_TTL_MS. */
  keyCacheTtlMs?: number;
  /** Wall time for the key cache's staleness (default Date.now). */
  wallMs?: () => number;
}

export class Tenants {
  /**
   * Keys by sha256, as last read. Safe for money: what the record carries besides identity (budget left, rpm,
   * tpm, models) is either fixed at creation or, for the budget, enforced by the hold's own conditional
   * transaction on the stored key item (hold-store), never from this copy. What staleness can do is let a
   * key revoked on another instance through for at most the TTL. "Not found" is not kept: a key's secret
   * exists only once its item is written, so a miss is a mistyped or guessed token, and keeping those would
   * let a spray of random tokens push real keys out of the bounded cache.
   */
  private readonly keys: TtlCache<string, ApiKeyRecord | null>;

  constructor(
    private readonly store: TenantStore,
    private readonly operatorKeySha256: string | undefined,
    private readonly clock: Clock = now,
    opts: TenantsOptions = {},
  ) {
    const ttlMs = Math.min(Math.max(0, opts.keyCacheTtlMs ?? KEY_CACHE_TTL_MS), MAX_KEY_CACHE_TTL_MS);
    // Reloaded in the background from half its TTL on: a key in use is never read in front of its request.
    this.keys = new TtlCache({ ttlMs, maxEntries: KEY_CACHE_MAX_ENTRIES, ttlOf: (rec) => (rec ? ttlMs : 0), refreshAfterMs: Math.floor(ttlMs / 2), ...(opts.wallMs ? { nowMs: opts.wallMs } : {}) });
  }

  /** Resolves a bearer token to a principal, or null (unknown, revoked or malformed: all look the same). */
  async authenticate(bearer: string | undefined): Promise<Principal | null> {
    if (!bearer || bearer.length > MAX_KEY_CHARS) return null;
    const digest = sha256Hex(bearer);
    if (this.operatorKeySha256 && this.operatorKeySha256.length === 64) {
      if (timingSafeEqual(Buffer.from(digest, 'hex'), Buffer.from(this.operatorKeySha256, 'hex'))) return { role: 'operator', tenant_id: null, key_id: null, key: null };
    }
    const rec = await this.keys.get(digest, (d) => this.store.findApiKeyByHash(d));
    if (!rec || rec.revoked_at) return null;
    return { role: rec.role, tenant_id: rec.tenant_id, key_id: rec.id, key: rec };
  }

  async createStartup(input: { name: string; segment: string }, idem?: IdempotencyClaim): Promise<Idempotent<Startup>> {
    const s: Startup = { id: newId('stu'), name: input.name, segment: input.segment, created_at: this.clock().toISOString() };
    return this.store.createStartup(s, idem && { ...idem, reply: s });
  }

  async createLender(input: { name: string }, idem?: IdempotencyClaim): Promise<Idempotent<Lender & { key: string }>> {
    const at = this.clock().toISOString();
    const l: Lender = { id: newId('len'), name: input.name, created_at: at };
    const { secret, record: key } = unlimitedKey('lender', l.id, `${input.name} (primary)`, at);
    // Keys are shown once and stored only as a hash: the reply kept for replays has no secret, so a
    // replay returns the lender with `key: null` (the caller that lost the first reply makes a new key).
    const r = await this.store.createLender(l, key, idem && { ...idem, reply: { ...l, key: null } });
    return r.ok && !r.replayed ? { ok: true, replayed: false, value: { ...l, key: secret } } : (r as Idempotent<never>);
  }

  async createStartupKey(
    startupId: string,
    input: { name: string; budget_micros?: number; budget_period?: BudgetPeriod; budget_soft_micros?: number; models?: string[]; rpm?: number; tpm?: number; max_in_flight?: number; routing?: RoutingPreferences },
    idem?: IdempotencyClaim,
  ): Promise<Idempotent<ApiKeyRecord & { key: string }> | { ok: false; code: 'startup_not_found' | 'too_many_keys' } | { ok: false; code: 'invalid_budget'; field: string; message: string }> {
    const terms = checkBudgetTerms(input);
    if (!terms.ok) return { ok: false, code: 'invalid_budget', field: terms.field, message: terms.message };
    if (!(await this.store.getStartup(startupId))) return { ok: false, code: 'startup_not_found' };
    // A soft bound (two racing creates may both pass it): it keeps key lookups by id bounded, not exact.
    const existing = await this.store.listStartupKeys(startupId, MAX_KEYS_PER_STARTUP);
    if (existing.items.length >= MAX_KEYS_PER_STARTUP) return { ok: false, code: 'too_many_keys' };
    const secret = newSecretKey('cx_startup');
    const rec: ApiKeyRecord = {
      id: newId('key'), role: 'startup', tenant_id: startupId, name: input.name, key_sha256: sha256Hex(secret),
      budget_micros: input.budget_micros ?? null, budget_period: input.budget_period ?? null, budget_soft_micros: input.budget_soft_micros ?? null, models: input.models ?? null, rpm: input.rpm ?? null, tpm: input.tpm ?? null, max_in_flight: input.max_in_flight ?? null,
      routing: input.routing ?? null,
      budget_left_micros: input.budget_micros ?? null,
      created_at: this.clock().toISOString(), revoked_at: null,
    };
    // As for lenders: the replayed reply never holds the secret (it is shown once, stored only hashed).
    const r = await this.store.createApiKey(rec, idem && { ...idem, reply: { ...ownerView(rec, new Date(rec.created_at)), key: null } });
    return r.ok && !r.replayed ? { ok: true, replayed: false, value: { ...rec, key: secret } } : (r as Idempotent<never>);
  }

  listStartupKeys(startupId: string, limit: number, cursor?: string) {
    return this.store.listStartupKeys(startupId, limit, cursor);
  }

  /** Revokes a startup's key by id (revoking twice keeps the first time). Null when the startup has no such key. */
  async revokeStartupKey(startupId: string, keyId: string): Promise<ApiKeyRecord | null> {
    const at = this.clock().toISOString();
    // A startup holds at most MAX_KEYS_PER_STARTUP keys, so finding one by id is a bounded walk of its list.
    let cursor: string | undefined;
    let found: ApiKeyRecord | undefined;
    do {
      const page = await this.store.listStartupKeys(startupId, 100, cursor);
      found = page.items.find((k) => k.id === keyId);
      cursor = page.cursor ?? undefined;
    } while (!found && cursor);
    if (!found) return null;
    try {
      return found.revoked_at ? found : await this.store.revokeApiKey(startupId, found.key_sha256, at);
    } finally {
      // This instance stops accepting the key at once: its cached copy, and any read racing the write, are dropped.
      this.keys.invalidate(found.key_sha256);
    }
  }
}

/** What a key looks like to its owner: never the hash. */
export function publicKey(k: ApiKeyRecord) {
  const { key_sha256: _hash, role: _role, tenant_id: _tenant, ...rest } = k;
  return rest;
}

/** A key as its owner sees it at `at`, with when its period budget resets (null: a lifetime budget, or none). */
export function ownerView(k: ApiKeyRecord, at: Date) {
  return {
    ...publicKey(k), max_in_flight: k.max_in_flight ?? DEFAULT_KEY_MAX_IN_FLIGHT, routing: k.routing ?? null,
    budget_resets_at: k.budget_micros !== null && k.budget_period !== null ? periodWindow(k.budget_period, at).resets_at : null,
  };
}
