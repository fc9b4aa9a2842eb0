/**
 * The relay-token signing key set: one item (at most 3 keys, a few KB), versioned so two rotations
 * cannot both win. Each key's public half is in clear (the JWKS); its private key is sealed under the
 * relay key-encryption key (packages/core/src/relay-at-rest.ts): reading the item opens nothing without it.
 */
import type { Key } from './keys.js';

export const relayKeySetKey = (): Key => ({ pk: 'RELAYKEYS', sk: 'SET' });
