/** Operator routes: startups, their keys, lenders (SPEC §10). */
import type { z } from 'zod';
import { apiRoute, idempotentReply } from './lib/api.js';
import { deps } from './lib/deps.js';
import { createKeyReply } from './keys.js';
import type { CreateKeyBody, CreateLenderBody, CreateStartupBody } from './lib/schemas.js';

export const createStartup = apiRoute<z.infer<typeof CreateStartupBody>>('functions/admin.createStartup', async (req) => {
  const r = await deps().tenants.createStartup(req.body, req.idempotency && { ...req.idempotency, status_code: 201, reply: null });
  return idempotentReply(r, (s) => ({ status: 201, body: s }));
});

export const createLender = apiRoute<z.infer<typeof CreateLenderBody>>('functions/admin.createLender', async (req) => {
  const r = await deps().tenants.createLender(req.body, req.idempotency && { ...req.idempotency, status_code: 201, reply: null });
  return idempotentReply(r, (l) => ({ status: 201, body: l }));
});

export const createStartupKey = apiRoute<z.infer<typeof CreateKeyBody>>('functions/admin.createStartupKey', async (req) =>
  createKeyReply(req.params.id!, req.body, req.idempotency),
);
