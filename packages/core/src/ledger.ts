/**
 * Double-entry, append-only ledger (SPEC §2).
 *
 * Invariants (asserted here, and re-checked against storage by the audit):
 *  I1. Every posting's lines sum to zero, and no line is zero.
 *  I2. An account's cached balance equals the sum of its lines.
 *  I3. All accounts together sum to zero.
 *  I4. An account flagged non_negative never goes below zero (enforced atomically by the store).
 *  I5. Entries are never updated or deleted; corrections are reversing postings.
 */
import { assert, assertMicros } from './money.js';

/**
 * Named accounts. Facility accounts carry the startup's credit; the funding account is the lender's side.
 * The economics accounts (SPEC §7) are "open": created by the first posting that names them (see
 * openAccountSpec), so no set-up step has to know every provider and month in advance.
 */
/**
 * `leased`: credit taken out of `available` by a credit lease (leases/), spent from in memory by one
 * holder and closed back into `spent` and `available` by one posting when the lease ends.
 */
export type FacilityAccountKind = 'funding' | 'available' | 'reserved' | 'leased' | 'spent' | 'recovered';
export type AccountKind = FacilityAccountKind | 'sales' | 'margin' | 'accrued' | 'payable' | 'premium' | 'loan_fees' | 'loan_owed';

export interface AccountSpec {
  id: string;
  kind: AccountKind;
  /** I4: debits may not take the balance below zero. */
  non_negative: boolean;
}

export const facilityAccount = (facilityId: string, kind: FacilityAccountKind): string => `facility:${facilityId}:${kind}`;

export function facilityAccounts(facilityId: string): Record<FacilityAccountKind, AccountSpec> {
  const spec = (kind: FacilityAccountKind, non_negative: boolean): AccountSpec => ({ id: facilityAccount(facilityId, kind), kind, non_negative });
  return {
    // The funding account goes negative by the amount granted: it is the lender's contribution.
    funding: spec('funding', false),
    available: spec('available', true),
    reserved: spec('reserved', true),
    leased: spec('leased', true),
    spent: spec('spent', true),
    recovered: spec('recovered', true),
  };
}

export type PostingKind = 'grant' | 'reserve' | 'settle' | 'release' | 'expire' | 'recover' | 'reversal' | 'payable' | 'lease' | 'lease_close' | 'fee';

export interface PostingLine {
  account: string;
  amount_micros: number;
  /** A debit of this line fails with facility_frozen while the account is frozen (reservations only). */
  requires_unfrozen?: boolean;
}

export interface Posting {
  id: string;
  kind: PostingKind;
  lines: PostingLine[];
  created_at: string;
  /** Free-form references (hold id, facility id) for reading the ledger back. */
  refs: Record<string, string>;
}

// ---------- economics accounts (SPEC §7) ----------
//
// Each settled request posts, beside the facility's reserved → spent:
//   marketplace:sales:<month>:<s>       −cost      (what startups were charged that month)
//   provider:<id>:accrued:<month>:<s>   +provider  (85 % of spot, owed to the provider)
//   marketplace:margin:<month>:<s>      +margin    (the difference)
// Monthly accounts make each balance the month's total, so settlement reads balances, not lines; the
// shards (<s>, from the request id) keep any one item from taking every request's write.
// Settlement then moves each provider's month of accruals, plus the volume premium (taken from
// marketplace:premium:<month>), to provider:<id>:payable, and closes the accrual accounts.

/** Request-side shards: at most 32 lines a posting bound the accrual shards (16 + premium + payable). */
export const ACCRUAL_SHARDS = 16;
export const MARKET_SHARDS = 32;

const PERIOD = String.raw`\d{4}-(?:0[1-9]|1[0-2])`;
const OPEN_ACCOUNT = new RegExp(String.raw`^(?:marketplace:(sales|margin):${PERIOD}:\d{2}|provider:[A-Za-z0-9_-]{1,64}:(?:(accrued):${PERIOD}:\d{2}|(payable))|marketplace:(premium):${PERIOD})$`);
/** A facility's loan accounts (loans.ts): fees the startup owes its lender, never mixed with credit. */
const LOAN_ACCOUNT = /^loan:[A-Za-z0-9_-]{1,64}:(fees|owed)$/;

const pad2 = (n: number) => String(n).padStart(2, '0');
export const salesAccount = (period: string, shard: number): string => `marketplace:sales:${period}:${pad2(shard)}`;
export const marginAccount = (period: string, shard: number): string => `marketplace:margin:${period}:${pad2(shard)}`;
export const accruedAccount = (providerId: string, period: string, shard: number): string => `provider:${providerId}:accrued:${period}:${pad2(shard)}`;
export const payableAccount = (providerId: string): string => `provider:${providerId}:payable`;
export const premiumAccount = (period: string): string => `marketplace:premium:${period}`;

/**
 * The spec of an open account (created by its first posting), or null for an account that must exist
 * beforehand. Sales and premium carry the marketplace's side and go negative; the others never do.
 */
export function openAccountSpec(id: string): AccountSpec | null {
  const loan = LOAN_ACCOUNT.exec(id);
  // The lender's fee income goes negative by what was charged; what the startup owes never does.
  if (loan) return loan[1] === 'fees' ? { id, kind: 'loan_fees', non_negative: false } : { id, kind: 'loan_owed', non_negative: true };
  const m = OPEN_ACCOUNT.exec(id);
  if (!m) return null;
  const kind = (m[1] ?? m[2] ?? m[3] ?? m[4]) as AccountKind;
  return { id, kind, non_negative: kind !== 'sales' && kind !== 'premium' };
}

/** A transaction in DynamoDB holds at most 100 items; a posting writes 2 items a line plus a few more. */
export const MAX_LINES_PER_POSTING = 32;

/** Checks I1 and the limits; returns the posting unchanged so callers can build-and-check in one go. */
export function checkPosting(p: Posting): Posting {
  assert(p.lines.length >= 2, `posting ${p.id}: at least two lines`);
  assert(p.lines.length <= MAX_LINES_PER_POSTING, `posting ${p.id}: at most ${MAX_LINES_PER_POSTING} lines`);
  let total = 0;
  const seen = new Set<string>();
  for (const line of p.lines) {
    assertMicros(line.amount_micros, `posting ${p.id} line ${line.account}`);
    assert(line.amount_micros !== 0, `posting ${p.id}: zero line on ${line.account}`);
    assert(!seen.has(line.account), `posting ${p.id}: account ${line.account} appears twice`);
    seen.add(line.account);
    total += line.amount_micros;
  }
  assert(total === 0, `posting ${p.id}: lines sum to ${total}, not zero`);
  return p;
}

/** Moves `amount` from one account to another; a zero amount yields no lines. */
export function transfer(from: string, to: string, amount: number, opts: { requiresUnfrozen?: boolean } = {}): PostingLine[] {
  assertMicros(amount);
  assert(amount >= 0, 'transfer amount must be non-negative');
  if (amount === 0) return [];
  return [
    { account: from, amount_micros: -amount, ...(opts.requiresUnfrozen ? { requires_unfrozen: true } : {}) },
    { account: to, amount_micros: amount },
  ];
}

/** Merges lines on the same account (a posting names each account once). Drops lines that net to zero. */
export function mergeLines(lines: readonly PostingLine[]): PostingLine[] {
  const byAccount = new Map<string, PostingLine>();
  for (const l of lines) {
    const prev = byAccount.get(l.account);
    if (prev) {
      prev.amount_micros += l.amount_micros;
      prev.requires_unfrozen = prev.requires_unfrozen || l.requires_unfrozen;
    } else byAccount.set(l.account, { ...l });
  }
  return [...byAccount.values()].filter((l) => l.amount_micros !== 0);
}

/** The reversal of a posting: same accounts, opposite amounts (I5: mistakes are corrected, not erased). */
export function reversalLines(p: Posting): PostingLine[] {
  return p.lines.map((l) => ({ account: l.account, amount_micros: -l.amount_micros }));
}

/** A posting found under the id of one being written is a replay when its lines are the same (else a conflict). */
export const sameLines = (found: Posting, asked: Posting): boolean => JSON.stringify(found.lines) === JSON.stringify(asked.lines);

/** What a refused line's account held when its condition failed (the store's old item, or a read). */
export interface AccountState {
  balance_micros: number;
  frozen: boolean;
}

/**
 * Why the store refused a line of a posting: a frozen account under a line that needs it unfrozen, a
 * debit larger than the balance (I4), or otherwise a balance that moved from the one it was pinned to.
 */
export function lineRefusal(line: PostingLine, account: AccountState): 'facility_frozen' | 'exceeds_credit' | 'balance_changed' {
  if (line.requires_unfrozen && account.frozen) return 'facility_frozen';
  if (account.balance_micros + line.amount_micros < 0) return 'exceeds_credit';
  return 'balance_changed';
}

const SPENT_ACCOUNT = /^facility:(.+):spent$/;

/** The facilities a posting adds spend to (credits of their `spent` accounts), in line order: what the burn buckets count. */
export function spendOf(p: Posting): { facility_id: string; amount_micros: number }[] {
  const out: { facility_id: string; amount_micros: number }[] = [];
  for (const l of p.lines) {
    const m = SPENT_ACCOUNT.exec(l.account);
    if (m && l.amount_micros > 0) out.push({ facility_id: m[1]!, amount_micros: l.amount_micros });
  }
  return out;
}
