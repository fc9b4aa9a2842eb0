/**
 * A posting as transaction items: the posting, one conditioned balance update per line, one line item
 * per line. Every part that moves money (ledger, facilities, holds) puts these beside its own record, so
 * they commit together or not at all. The conditions are where I4 (non_negative accounts never below
 * zero), the freeze and closed accounts are enforced, atomically.
 */
import { lineRefusal, openAccountSpec, type AccountSpec, type Posting, type PostingLine } from '../../ledger.js';
import { InvariantError } from '../../money.js';
import { accountItem, accountKey } from './entities/account.js';
import { lineItem } from './entities/line.js';
import { postingItem } from './entities/posting.js';
import type { Table, Tagged } from './table.js';

/**
 * The SET clauses that give an open account (ledger.ts) every field the audit reads, on first use only.
 * Fills `names` and `values` with its placeholders.
 */
function upsertFields(spec: AccountSpec, at: string, names: Record<string, string>, values: Record<string, unknown>): string {
  const item = accountItem(spec, at);
  return (['type', 'account', 'kind', 'non_negative', 'frozen', 'created_at', 'gsi4pk', 'gsi4sk'] as const)
    .map((field, i) => {
      names[`#f${i}`] = field;
      values[`:f${i}`] = item[field];
      return `#f${i} = if_not_exists(#f${i}, :f${i})`;
    })
    .join(', ');
}

/** One line's balance update and its conditions; `expected` pins the balance, `close` closes the account. */
function balanceItem(table: Table, p: Posting, line: PostingLine, expected: number | undefined, close: boolean): Tagged {
  const open = openAccountSpec(line.account);
  const conds: string[] = [];
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = { ':a': line.amount_micros, ':one': 1, ':at': p.created_at };
  let update = 'SET balance_micros = balance_micros + :a, line_count = line_count + :one, updated_at = :at';
  if (open) {
    // Created by its first posting (ledger.ts, economics accounts); a closed one (a settled month's
    // accrual) takes no more lines.
    values[':zero'] = 0;
    update = `SET balance_micros = if_not_exists(balance_micros, :zero) + :a, line_count = if_not_exists(line_count, :zero) + :one, updated_at = :at, ${upsertFields(open, p.created_at, names, values)}`;
    conds.push('attribute_not_exists(closed_at)');
    if (line.amount_micros < 0 && open.non_negative) {
      conds.push('attribute_exists(pk) AND balance_micros >= :abs');
      values[':abs'] = -line.amount_micros;
    }
  } else {
    conds.push('attribute_exists(pk)');
    if (line.amount_micros < 0) {
      conds.push('(non_negative = :f OR balance_micros >= :abs)');
      values[':f'] = false;
      values[':abs'] = -line.amount_micros;
      if (line.requires_unfrozen) conds.push('frozen = :f');
    }
  }
  if (expected !== undefined) {
    conds.push('balance_micros = :expected');
    values[':expected'] = expected;
  }
  if (close) update += ', closed_at = :at';
  return {
    tag: 'balance',
    line,
    item: {
      Update: {
        TableName: table.name,
        Key: accountKey(line.account),
        UpdateExpression: update,
        ConditionExpression: conds.join(' AND '),
        ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
        ExpressionAttributeValues: values,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
  };
}

/** The posting (index 0 of the result, create-only: a refusal there is a replay), its balance updates, its lines. */
export function postingItems(table: Table, p: Posting, expectBalance: ReadonlyMap<string, number> = new Map(), close: ReadonlySet<string> = new Set()): Tagged[] {
  const out: Tagged[] = [{ item: table.put(postingItem(p)), tag: 'posting' }];
  for (const line of p.lines) out.push(balanceItem(table, p, line, expectBalance.get(line.account), close.has(line.account)));
  for (const line of p.lines) out.push({ item: table.put(lineItem(p, line)), tag: 'line' });
  return out;
}

/**
 * Closes an open account no line of the posting touches (nothing accrued on it): at its expected balance,
 * created closed if it never existed, so a late line cannot land on it either.
 */
export function closeAccountItem(table: Table, account: string, expected: number, at: string): Tagged {
  const spec = openAccountSpec(account);
  if (!spec) throw new InvariantError(`only open accounts are closed here, not ${account}`);
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = { ':zero': 0, ':at': at, ':expected': expected };
  return {
    tag: 'balance',
    item: {
      Update: {
        TableName: table.name,
        Key: accountKey(account),
        UpdateExpression: `SET balance_micros = if_not_exists(balance_micros, :zero), line_count = if_not_exists(line_count, :zero), updated_at = :at, closed_at = :at, ${upsertFields(spec, at, names, values)}`,
        ConditionExpression: 'attribute_not_exists(closed_at) AND (attribute_not_exists(balance_micros) OR balance_micros = :expected)',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
  };
}

/** Whether a failed transaction was refused by a closed account (a settled month's accrual): the old items DynamoDB returned say. */
export function closedAccountRefused(tagged: readonly Tagged[], failed: ReadonlyMap<number, Record<string, unknown> | null>): boolean {
  for (const [i, old] of failed) if (tagged[i]?.tag === 'balance' && old?.closed_at !== undefined) return true;
  return false;
}

/** Why a balance condition failed (ledger.ts decides), from the old item DynamoDB returned or, failing that, read now. */
export async function balanceFailure(table: Table, t: Tagged, old: Record<string, unknown> | null): Promise<'exceeds_credit' | 'facility_frozen' | 'balance_changed'> {
  const item = old ?? (await table.get(accountKey(t.line!.account)));
  if (!item) throw new InvariantError(`account ${t.line!.account} does not exist`);
  return lineRefusal(t.line!, { balance_micros: item.balance_micros as number, frozen: item.frozen === true });
}

/**
 * Why a transaction taking credit (a hold's reserve, a lease's take) was refused, from its failed conditions:
 * the key's budget, else a frozen facility, else not enough credit.
 */
export async function takeRefusal(table: Table, tagged: readonly Tagged[], failed: ReadonlyMap<number, Record<string, unknown> | null>): Promise<'key_budget_exceeded' | 'facility_frozen' | 'exceeds_credit'> {
  let frozen = false;
  for (const [i, old] of failed) {
    const t = tagged[i];
    if (t?.tag === 'budget') return 'key_budget_exceeded';
    if (t?.tag === 'balance' && (await balanceFailure(table, t, old)) === 'facility_frozen') frozen = true;
  }
  return frozen ? 'facility_frozen' : 'exceeds_credit';
}
