/** Relay-token keys (SPEC §6): the public JWKS providers verify with, and the operator's rotation. */
import { jwksOf, nowIso } from '../packages/core/src/index.js';
import { apiRoute } from './lib/api.js';
import { deps } from './lib/deps.js';
import { conflict } from './lib/errors.js';

export const jwks = apiRoute('functions/relay.jwks', async () => ({
  status: 200,
  body: jwksOf(await deps().relayKeys.load(), nowIso()),
  // The provider kit also refetches on an unknown kid, so a short cache is safe during rotation.
  headers: { 'cache-control': 'public, max-age=300' },
}));

export const rotate = apiRoute('functions/relay.rotate', async () => {
  const r = await deps().relayKeys.rotate(nowIso());
  if (!r.ok) throw conflict('A rotation is still in its overlap (two keys valid); try again once the previous key has retired.', r.code);
  return { status: 200, body: { active_kid: r.set.active_kid, keys: r.set.keys.map(({ kid, created_at, retire_at }) => ({ kid, created_at, retire_at })) } };
});
