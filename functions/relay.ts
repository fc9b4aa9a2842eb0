/** Relay-token keys (SPEC §6): the public JWKS providers verify with, and the operator's rotation. */
import { JWKS_MAX_AGE_S, jwksOf, nowIso } from '../packages/core/src/index.js';
import { apiRoute } from './lib/api.js';
import { deps } from './lib/deps.js';
import { conflict } from './lib/errors.js';
import { relayPublishLeadS } from './lib/settings.js';

export const jwks = apiRoute('functions/relay.jwks', async () => ({
  status: 200,
  // The public halves only: this route holds no grant on the key-encryption key and opens nothing. Before the first
  // key exists (made by the first signature or rotation) there is nothing to verify, so nothing is published.
  body: await deps().relayKeys.publicKeys().then((set) => (set ? jwksOf(set, nowIso()) : { keys: [] })),
  // Part of the publish lead (relay.ts): a new key is published this long plus the kit's cache before it signs.
  headers: { 'cache-control': `public, max-age=${JWKS_MAX_AGE_S}` },
}));

export const rotate = apiRoute('functions/relay.rotate', async () => {
  const r = await deps().relayKeys.rotate(nowIso(), relayPublishLeadS());
  if (!r.ok) throw conflict('A rotation is still in its overlap (two keys valid); try again once the previous key has retired.', r.code);
  deps().relay.invalidate();
  return { status: 200, body: { active_kid: r.set.active_kid, keys: r.set.keys.map(({ kid, created_at, signs_from, retire_at }) => ({ kid, created_at, signs_from: signs_from ?? created_at, retire_at })) } };
});
