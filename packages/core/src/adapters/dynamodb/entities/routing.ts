/**
 * Routing entities: one partition the request path reads with a single Query — a routing record per
 * provider (what it serves, where, capacity, standing) and the spot price in force per accelerator.
 * Spot price history sits in its own partition per accelerator.
 */
import type { RoutingProvider } from '../../../catalog.js';
import type { Accelerator } from '../../../routing.js';
import type { Key } from './keys.js';

export const ROUTING_PK = 'ROUTING';
export const routingProviderKey = (id: string): Key => ({ pk: ROUTING_PK, sk: `PROVIDER#${id}` });
export const spotCurrentKey = (acc: Accelerator): Key => ({ pk: ROUTING_PK, sk: `SPOT#${acc}` });
export const spotHistoryKey = (acc: Accelerator, effectiveAt: string): Key => ({ pk: `SPOTHIST#${acc}`, sk: `AT#${effectiveAt}` });

let routingWrites = 0;

/**
 * How many writes to the routing partition this process has made: the epoch of the request path's cached
 * catalog (CachedCatalog), so a change written here (capacity, maintenance, status, standing, spot) is routed
 * on at once by this process, whichever adapter instance wrote it.
 */
export function routingEpoch(): number {
  return routingWrites;
}

/** Awaits a write that may change the routing partition, then counts it (failed or not: it may have landed). */
export async function routingWrite<T>(write: Promise<T>): Promise<T> {
  try {
    return await write;
  } finally {
    routingWrites++;
  }
}

export function routingProviderItem(p: RoutingProvider) {
  return { ...routingProviderKey(p.id), type: 'routing_provider', provider: p };
}
