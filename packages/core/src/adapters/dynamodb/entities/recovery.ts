/** Recovery statement entity, stored beside its facility. */
import type { RecoveryStatement } from '../../../facilities.js';
import type { Key } from './keys.js';

export const recoveryKey = (facilityId: string): Key => ({ pk: `FACILITY#${facilityId}`, sk: 'RECOVERY' });
export const recoveryItem = (s: RecoveryStatement) => ({ ...recoveryKey(s.facility_id), type: 'recovery', ...s });
export function toRecovery(item: Record<string, unknown>): RecoveryStatement {
  const { pk: _pk, sk: _sk, type: _t, ...rest } = item;
  return rest as unknown as RecoveryStatement;
}
