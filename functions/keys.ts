/** A startup's own keys (SPEC §10: POST/GET/DELETE /v1/keys), sharing creation with the operator's route. */
import type { z } from 'zod';
import { publicKey, type IdempotencyClaim } from '../packages/core/src/index.js';
import { apiRoute, idempotentReply, startupIdOf, type ApiReply } from './lib/api.js';
import { deps } from './lib/deps.js';
import { conflict, notFound } from './lib/errors.js';
import type { CreateKeyBody, ListQuery } from './lib/schemas.js';

/** Creates a startup key; the reply carries the secret once. Used by the operator's and the startup's routes. */
export async function createKeyReply(startupId: string, body: z.infer<typeof CreateKeyBody>, idem: Omit<IdempotencyClaim, 'status_code' | 'reply'> | undefined): Promise<ApiReply> {
  const r = await deps().tenants.createStartupKey(startupId, body, idem && { ...idem, status_code: 201, reply: null });
  if (!r.ok && r.code === 'startup_not_found') throw notFound('startup');
  if (!r.ok && r.code === 'too_many_keys') throw conflict('This startup already holds the maximum number of keys (100); revoke one first.', 'too_many_keys');
  return idempotentReply(r as Exclude<typeof r, { code: 'startup_not_found' | 'too_many_keys' }>, (k) => ({ status: 201, body: { ...publicKey(k), key: k.key } }));
}

export const create = apiRoute<z.infer<typeof CreateKeyBody>>('functions/keys.create', async (req) => createKeyReply(startupIdOf(req), req.body, req.idempotency));

export const list = apiRoute<unknown, z.infer<typeof ListQuery>>('functions/keys.list', async (req) => {
  const page = await deps().tenants.listStartupKeys(startupIdOf(req), req.query.limit, req.query.cursor);
  return { status: 200, body: { data: page.items.map(publicKey), next_cursor: page.cursor } };
});

export const revoke = apiRoute('functions/keys.revoke', async (req) => {
  const k = await deps().tenants.revokeStartupKey(startupIdOf(req), req.params.id!);
  if (!k) throw notFound('key');
  return { status: 200, body: publicKey(k) };
});
