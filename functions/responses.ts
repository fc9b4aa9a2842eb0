/**
 * Stored responses of the Responses API (SPEC §4): read and delete, for the startup that made them only (another
 * startup's id, a deleted or expired one all answer the same 404). POST /v1/responses is served with the other
 * paid routes (functions/inference.ts).
 */
import { apiRoute, startupIdOf } from './lib/api.js';
import { deps } from './lib/deps.js';
import { responseNotFound } from './lib/openai-errors.js';

export const get = apiRoute('functions/responses.get', async (req) => {
  const id = req.params.id!;
  const stored = await deps().responses.get(startupIdOf(req), id);
  if (!stored) throw responseNotFound(id);
  return { status: 200, body: stored.response, headers: { 'x-compux-provider': 'none' } };
});

export const remove = apiRoute('functions/responses.remove', async (req) => {
  const id = req.params.id!;
  if (!(await deps().responses.delete(startupIdOf(req), id))) throw responseNotFound(id);
  return { status: 200, body: { id, object: 'response', deleted: true }, headers: { 'x-compux-provider': 'none' } };
});
