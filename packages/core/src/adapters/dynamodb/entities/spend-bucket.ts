/** Spend bucket entity: a facility's spend per UTC hour, so burn over 7 days is one bounded query (168 items). */
import { hourOf, type Key } from './keys.js';

export const spendBucketKey = (facilityId: string, iso: string): Key => ({ pk: `SPEND#${facilityId}`, sk: `H#${hourOf(iso)}` });
export const SPEND_PREFIX = (facilityId: string) => `SPEND#${facilityId}`;
