/**
 * The relay-token signing key set: one item (at most 3 keys, a few KB), versioned so two rotations
 * cannot both win. The private keys sit here, encrypted at rest with the table; only functions granted
 * read access to the table can sign.
 */
import type { Key } from './keys.js';

export const relayKeySetKey = (): Key => ({ pk: 'RELAYKEYS', sk: 'SET' });
