/** Startup and lender entities (tenants). */
import type { Lender, Startup } from '../../../store.js';
import type { Key } from './keys.js';

export const startupKey = (id: string): Key => ({ pk: `STARTUP#${id}`, sk: 'STARTUP' });
export const lenderKey = (id: string): Key => ({ pk: `LENDER#${id}`, sk: 'LENDER' });
export const startupItem = (s: Startup) => ({ ...startupKey(s.id), type: 'startup', ...s });
export const lenderItem = (l: Lender) => ({ ...lenderKey(l.id), type: 'lender', ...l });
export const toStartup = (i: Record<string, unknown>): Startup => ({ id: i.id as string, name: i.name as string, segment: i.segment as string, created_at: i.created_at as string });
export const toLender = (i: Record<string, unknown>): Lender => ({ id: i.id as string, name: i.name as string, created_at: i.created_at as string });
