/**
 * The small interfaces (ports) the domain needs from storage, one per concern. The DynamoDB adapter
 * (src/adapters/dynamodb) implements them; each money-moving method is ONE atomic conditional transaction.
 * Expected failures are result codes, not exceptions (TIGER_STYLE).
 */
import type { Facility, RecoveryStatement } from './facilities.js';
import type { BudgetPeriod } from './key-budgets.js';
import type { Hold } from './holds.js';
import type { Journal, Lease, LeaseClose } from './leases/lease.js';
import type { AccountSpec, Posting, PostingLine } from './ledger.js';
import type { UsageBucket, UsageRecord } from './usage.js';
import type { RoutingPreferences } from './gateway/preferences.js';

export interface Startup { id: string; name: string; segment: string; created_at: string }
export interface Lender { id: string; name: string; created_at: string }

export type Role = 'operator' | 'lender' | 'startup' | 'provider';

export interface ApiKeyRecord {
  id: string;
  role: Exclude<Role, 'operator'>;
  tenant_id: string;
  name: string;
  key_sha256: string;
  budget_micros: number | null;
  /** Null: the budget counts over the key's life; else it resets every UTC day, week or month (key-budgets.ts). */
  budget_period: BudgetPeriod | null;
  /** Spend in a period at which the startup is told key.budget_low; null: never. */
  budget_soft_micros: number | null;
  models: string[] | null;
  rpm: number | null;
  tpm: number | null;
  /** Requests in flight at once (streams included); absent or null: DEFAULT_KEY_MAX_IN_FLIGHT (concurrency.ts). */
  max_in_flight?: number | null;
  /** Routing defaults for the key's requests (`provider`, `models`); a request's own win field by field. Absent or null: none. */
  routing?: RoutingPreferences | null;
  /** What is left of a lifetime budget_micros: reserved spend is taken at once, the unspent part returned on settle. (A period's is on its own item.) */
  budget_left_micros: number | null;
  created_at: string;
  revoked_at: string | null;
}

/** An idempotency claim: the key is scoped to the caller and route; the reply is stored with the write. */
export interface IdempotencyClaim {
  scope: string;
  key: string;
  request_hash: string;
  status_code: number;
  reply: unknown;
}

export type Idempotent<T> =
  | { ok: true; replayed: false; value: T }
  | { ok: true; replayed: true; status_code: number; reply: unknown }
  | { ok: false; code: 'idempotency_conflict' };

export interface Balance {
  account: string;
  balance_micros: number;
  frozen: boolean;
  non_negative: boolean;
}

export interface LedgerLine {
  account: string;
  posting_id: string;
  kind: string;
  amount_micros: number;
  created_at: string;
}

export interface Page<T> { items: T[]; cursor: string | null }

export type ReserveResult =
  | { ok: true; hold: Hold; replayed: boolean }
  | { ok: false; code: 'exceeds_credit' | 'facility_frozen' | 'key_budget_exceeded' | 'idempotency_conflict' | 'contention' };

export type CloseResult =
  | { ok: true; hold: Hold; replayed: boolean }
  /** period_closed: the request's month was already settled (its accrual account is closed); nothing was written. */
  | { ok: false; code: 'hold_not_found' | 'hold_closed' | 'idempotency_conflict' | 'contention' | 'period_closed' };

/** hold_changed: another capture or the close landed first (read the hold again). */
export type CaptureResult =
  | { ok: true; hold: Hold; replayed: boolean }
  | { ok: false; code: 'hold_not_found' | 'hold_closed' | 'hold_changed' | 'exceeds_hold' | 'contention' | 'period_closed' };

export type PostResult =
  | { ok: true; replayed: boolean }
  | { ok: false; code: 'exceeds_credit' | 'facility_frozen' | 'balance_changed' | 'idempotency_conflict' | 'contention' };

/*
 * The ports, one per concern. Domain classes take only the ports (or the methods of a port) they use;
 * CreditStore, their intersection, is what the wiring (functions/lib/deps.ts) builds once and hands to all.
 */

/** Idempotency: what a key already answered. Writes carry their claim; this only reads it back. */
export interface IdempotencyStore {
  /** The stored outcome of an idempotency key: its first reply, a conflict (other body), or null if unused. */
  findReplay(claim: Omit<IdempotencyClaim, 'status_code' | 'reply'>): Promise<Idempotent<never> | null>;
  /** Claims a key on its own (one create-only put): value true when this call is the first, else the replay or conflict. */
  claim(claim: IdempotencyClaim): Promise<Idempotent<true>>;
}

/** Startups, lenders and their API keys. */
export interface TenantStore {
  createStartup(s: Startup, idem?: IdempotencyClaim): Promise<Idempotent<Startup>>;
  getStartup(id: string): Promise<Startup | null>;
  createLender(l: Lender, key: ApiKeyRecord, idem?: IdempotencyClaim): Promise<Idempotent<Lender>>;
  getLender(id: string): Promise<Lender | null>;
  createApiKey(k: ApiKeyRecord, idem?: IdempotencyClaim): Promise<Idempotent<ApiKeyRecord>>;
  findApiKeyByHash(keySha256: string): Promise<ApiKeyRecord | null>;
  /** A startup's keys, newest first. */
  listStartupKeys(startupId: string, limit: number, cursor?: string): Promise<Page<ApiKeyRecord>>;
  /**
   * Marks the tenant's key (by its sha256) revoked at `at`, unless it already is (the first revocation's time
   * stands): the key as stored afterwards, null when it is gone.
   */
  revokeApiKey(tenantId: string, keySha256: string, at: string): Promise<ApiKeyRecord | null>;
}

/** Credit facilities: opening (with the grant), freeze, recovery. */
export interface FacilityStore {
  /** Opens it with its accounts, the grant, the origination fee (loans.ts; null when it rounds to 0) and its loan-book entry, in one transaction. */
  openFacility(f: Facility, accounts: AccountSpec[], grant: Posting, fee: Posting | null, idem?: IdempotencyClaim): Promise<Idempotent<Facility>>;
  getFacility(id: string): Promise<Facility | null>;
  listFacilitiesByLender(lenderId: string | null, limit: number, cursor?: string): Promise<Page<Facility>>;
  listFacilitiesByStartup(startupId: string, limit: number): Promise<Facility[]>;
  /** Sets or clears the freeze on the facility record and its available account, atomically. */
  setFacilityFrozen(id: string, frozen: boolean, reason: string | null, at: string): Promise<Facility | null>;
  /** Matures an active or frozen facility past its term end: status matured and its available account frozen, atomically. */
  matureFacility(id: string, at: string): Promise<Facility | null>;
  /** Marks a frozen facility recovered (a matured one stays matured, with recovered_at set) and moves exactly `posting` (available → recovered, null when nothing is left) provided the available balance still equals `expectedAvailable`. */
  recoverFacility(f: Facility, posting: Posting | null, expectedAvailable: number, statement: RecoveryStatement, idem?: IdempotencyClaim): Promise<PostResult>;
}

/** The ledger: balances, lines, postings, and the hourly spend the burn figures read. */
export interface LedgerStore {
  getBalances(accounts: readonly string[]): Promise<Map<string, Balance>>;
  /**
   * The same, as one snapshot (at most 100 accounts): no posting is seen half-applied, so figures that
   * must add up (granted = available + reserved + spent + recovered) do. Costs twice the reads.
   */
  getBalancesSnapshot(accounts: readonly string[]): Promise<Map<string, Balance>>;
  listLines(account: string, limit: number, cursor?: string): Promise<Page<LedgerLine>>;
  /** Sum of the facility's spend in whole UTC hours [fromHour, toHour]. */
  spendBetween(facilityId: string, fromIso: string, toIso: string): Promise<number>;
  getPosting(id: string): Promise<Posting | null>;
  /** A general posting (reversals, corrections). */
  post(p: Posting): Promise<PostResult>;
}

/**
 * Holds: credit taken before one request runs and closed after it. The usage records a close writes are
 * read back here too. (Leases, credit taken ahead of many requests, are the LeaseStore port below.)
 */
export interface HoldStore {
  reserve(hold: Hold, posting: Posting): Promise<ReserveResult>;
  /** Closes a hold; with `usage`, the request record and its daily aggregate are written in the same transaction. */
  closeHold(hold: Hold, posting: Posting | null, status: 'settled' | 'released' | 'expired', settledMicros: number, at: string, usage?: UsageRecord): Promise<CloseResult>;
  getHold(id: string): Promise<Hold | null>;
  /**
   * Captures `amountMicros` of an open hold (posting: capturePosting), with its usage record, provided the hold is
   * still open with exactly the captures it was read with; the posting's id makes a repeat a replay.
   */
  captureHold(hold: Hold, posting: Posting, amountMicros: number, usage: UsageRecord): Promise<CaptureResult>;
  listExpiredHolds(shard: number, nowIso: string, limit: number): Promise<Hold[]>;
  /** A startup's daily usage buckets for days in [fromDay, toDay] (YYYY-MM-DD). */
  listUsage(startupId: string, fromDay: string, toDay: string): Promise<UsageBucket[]>;
  /** One request's record, for the startup that made it (null for any other startup or an unknown id). */
  getRequest(startupId: string, requestId: string): Promise<UsageRecord | null>;
}

export type TakeLeaseResult = { ok: true } | { ok: false; code: 'exceeds_credit' | 'facility_frozen' | 'key_budget_exceeded' | 'contention' };
export type FlushLeaseResult = { ok: true; replayed: boolean } | { ok: false; code: 'lease_closed' | 'contention' };
export type CloseLeaseResult =
  | { ok: true; replayed: boolean }
  /** flush_raced: a flush landed after the journal was read (read again); period_closed: a month in it was settled. */
  | { ok: false; code: 'flush_raced' | 'period_closed' | 'contention' };

/**
 * Credit leases (leases/): one conditional transaction takes one (available → leased, and the key budget),
 * each flush adds settled requests' records and journal counters to it (conditioned on the flush count), and
 * one transaction closes it (the posting and the shared buckets, from the journal).
 */
export interface LeaseStore {
  takeLease(lease: Lease, posting: Posting): Promise<TakeLeaseResult>;
  /** Flush number `seq` (0-based): applied only if the lease is open and has exactly `seq` flushes. */
  flushLease(lease: Lease, seq: number, counters: Journal, records: readonly UsageRecord[]): Promise<FlushLeaseResult>;
  /**
   * The lease, its journal (the sum of its flushes) and its flushed records, read consistently; `flush_seq` is
   * the number of flushes (`buckets_pending`: closed, with shared buckets still to write); null when none.
   */
  getLease(id: string): Promise<{ lease: Lease; journal: Journal; records: UsageRecord[]; buckets_pending: boolean } | null>;
  /** Writes the shared buckets a close left for follow-up transactions (each conditioned, so none twice). */
  finishClose(id: string): Promise<void>;
  /** Closes the lease as `close` says, provided it is open with exactly `seq` flushes. */
  closeLease(lease: Lease, seq: number, close: LeaseClose, at: string): Promise<CloseLeaseResult>;
  /** Open leases that expired before `beforeIso`, one shard. */
  listLeasesToSweep(shard: number, beforeIso: string, limit: number): Promise<Lease[]>;
}

/** What the ledger audit walks: every account, and the sum of an account's lines. */
export interface AuditStore {
  /** Accounts in one shard, paged. */
  listAccounts(shard: number, limit: number, cursor?: string): Promise<Page<Balance>>;
  sumLines(account: string): Promise<{ sum_micros: number; lines: number }>;
}

/** Every port: what the wiring builds once (one adapter serves them all). */
export interface CreditStore extends IdempotencyStore, TenantStore, FacilityStore, LedgerStore, HoldStore, LeaseStore, AuditStore {}

export type { PostingLine };
