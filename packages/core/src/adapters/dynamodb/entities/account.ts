/** Account entity: the cached balance of one ledger account (I2: equals the sum of its lines). */
import { ACCOUNT_SHARDS } from '../../../../../../infra/table.js';
import type { AccountSpec } from '../../../ledger.js';
import type { Balance } from '../../../store.js';
import { shardOf, type Key } from './keys.js';

export const accountKey = (account: string): Key => ({ pk: `ACCT#${account}`, sk: 'BALANCE' });

export function accountItem(spec: AccountSpec, at: string) {
  return {
    ...accountKey(spec.id),
    type: 'account',
    account: spec.id,
    kind: spec.kind,
    balance_micros: 0,
    line_count: 0,
    non_negative: spec.non_negative,
    frozen: false,
    created_at: at,
    updated_at: at,
    // index: accountsForAudit
    gsi4pk: `ACCOUNTS#${shardOf(spec.id, ACCOUNT_SHARDS)}`,
    gsi4sk: spec.id,
  };
}

export function toBalance(item: Record<string, unknown>): Balance {
  return {
    account: item.account as string,
    balance_micros: item.balance_micros as number,
    frozen: item.frozen === true,
    non_negative: item.non_negative === true,
  };
}
