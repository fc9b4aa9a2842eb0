/** A startup's own keys (SPEC §10: POST/GET/DELETE /v1/keys), sharing creation with the operator's route. */
import type { z } from 'zod';
import { budgetSlot, now, ownerView, resolvePreferences, type ApiKeyRecord, type IdempotencyClaim, type RoutingPreferences } from '../packages/core/src/index.js';
import { DynamoKeyBudgetStore } from '../packages/core/src/adapters/dynamodb/index.js';
import { apiRoute, idempotentReply, startupIdOf, type ApiReply } from './lib/api.js';
import { deps } from './lib/deps.js';
import { badRequest, conflict, notFound } from './lib/errors.js';
import type { CreateKeyBody, ListQuery } from './lib/schemas.js';

let budgets: DynamoKeyBudgetStore | undefined;
const budgetStore = () => (budgets ??= new DynamoKeyBudgetStore(deps().doc, deps().table));

/**
 * What a key looks like to its owner: never the hash; a period budget shows what is left in the current period
 * (read from its own item: the key record counts only a lifetime budget) and when it resets.
 */
export async function keyView(k: ApiKeyRecord) {
  const at = now();
  const slot = budgetSlot(k, at);
  if (slot === null || k.budget_period === null) return ownerView(k, at);
  const use = await budgetStore().getBudgetUse(slot, at);
  return { ...ownerView(k, at), budget_left_micros: use.budget_left_micros };
}

/**
 * A key's routing defaults may only name providers the catalog knows (as a request's may): a typo in `ignore`
 * would otherwise never match, and route to the provider it meant to avoid. Read fresh: not on a request path.
 */
async function checkRoutingRefs(startupId: string, routing: RoutingPreferences | undefined): Promise<void> {
  const p = routing?.provider;
  if (!p || (!p.order && !p.only && !p.ignore)) return;
  const { providers } = await deps().catalog.load();
  const r = resolvePreferences(routing, '', providers, startupId, new Set(['order', 'only', 'ignore']));
  if (!r.ok) throw badRequest(`Unknown provider reference '${r.ref}' in routing.${r.param}: name a provider as x-compux-provider shows it, or by the provider_ref of a capacity-booking offer.`, `routing.${r.param}`, 'unknown_provider');
}

/** Creates a startup key; the reply carries the secret once. Used by the operator's and the startup's routes. */
export async function createKeyReply(startupId: string, body: z.infer<typeof CreateKeyBody>, idem: Omit<IdempotencyClaim, 'status_code' | 'reply'> | undefined): Promise<ApiReply> {
  await checkRoutingRefs(startupId, body.routing);
  const r = await deps().tenants.createStartupKey(startupId, body, idem && { ...idem, status_code: 201, reply: null });
  if (r.ok) return idempotentReply(r, (k) => ({ status: 201, body: { ...ownerView(k, now()), key: k.key } }));
  switch (r.code) {
    case 'invalid_budget':
      throw badRequest(r.message, r.field, r.code);
    case 'startup_not_found':
      throw notFound('startup');
    case 'too_many_keys':
      throw conflict('This startup already holds the maximum number of keys (100); revoke one first.', 'too_many_keys');
    case 'idempotency_conflict':
      return idempotentReply(r, () => ({ status: 201, body: null }));
  }
}

export const create = apiRoute<z.infer<typeof CreateKeyBody>>('functions/keys.create', async (req) => createKeyReply(startupIdOf(req), req.body, req.idempotency));

export const list = apiRoute<unknown, z.infer<typeof ListQuery>>('functions/keys.list', async (req) => {
  const page = await deps().tenants.listStartupKeys(startupIdOf(req), req.query.limit, req.query.cursor);
  return { status: 200, body: { data: await Promise.all(page.items.map(keyView)), next_cursor: page.cursor } };
});

export const revoke = apiRoute('functions/keys.revoke', async (req) => {
  const k = await deps().tenants.revokeStartupKey(startupIdOf(req), req.params.id!);
  if (!k) throw notFound('key');
  return { status: 200, body: await keyView(k) };
});
