/** Recovery statement entity, stored beside its facility. */
import type { RecoveryStatement } from '../../../facilities.js';
import type { Key } from './keys.js';

export const recoveryKey = (facilityId: string): Key => ({ pk: `FACILITY#${facilityId}`, sk: 'RECOVERY' });
export const recoveryItem = (s: RecoveryStatement) => ({ ...recoveryKey(s.facility_id), type: 'recovery', ...s });
