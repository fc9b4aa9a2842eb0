/**
 * Concurrency tickets (concurrency.ts): one item a scope (`key:<id>`, `startup:<id>`, `streams:<tenant>`) holding
 * `n`, the tickets it holds, and one attribute a ticket, `tk_<ticket>` = the instant (epoch ms) it expires.
 */
import type { Key } from './keys.js';

export const ticketsKey = (scope: string): Key => ({ pk: `TICKETS#${scope}`, sk: 'TICKETS' });
export const TICKET_ATTR_PREFIX = 'tk_';
export const ticketAttr = (ticket: string): string => `${TICKET_ATTR_PREFIX}${ticket}`;
