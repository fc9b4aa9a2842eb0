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

export function routingProviderItem(p: RoutingProvider) {
  return { ...routingProviderKey(p.id), type: 'routing_provider', provider: p };
}
