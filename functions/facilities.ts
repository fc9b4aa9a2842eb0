/** Lender routes on credit facilities (SPEC §3, §10). Only the facility's lender or an operator sees it; anyone else gets 404. */
import type { z } from 'zod';
import { MAX_EVENT_STREAMS_PER_TENANT, maxLeaseLifeMs, nowMs as clockNowMs, rateToBps, streamScope, ticketExpiry, type Caller, type Principal } from '../packages/core/src/index.js';
import { apiRoute, idempotentReply, type ApiRequest } from './lib/api.js';
import { deps } from './lib/deps.js';
import { HttpError, badRequest, busy, conflict, notFound } from './lib/errors.js';
import type { FacilityListQuery, FreezeBody, OpenFacilityBody } from './lib/schemas.js';
import { facilityJson, freshFacilityView } from './lib/views.js';
import { sseFrame, streamRoute } from './lib/stream.js';
import { emitFacilityEvent } from './lib/webhooks.js';

export function callerOf(p: Principal | null): Caller {
  if (p?.role === 'lender') return { role: 'lender', lender_id: p.tenant_id };
  if (p?.role === 'operator') return { role: 'operator', lender_id: null };
  throw new Error('facility routes are for lenders and operators');
}

export async function visibleFacility(req: ApiRequest<unknown, unknown>) {
  const f = await deps().lending.get(callerOf(req.principal), req.params.id!);
  if (!f) throw notFound('facility');
  return f;
}

export const open = apiRoute<z.infer<typeof OpenFacilityBody>>('functions/facilities.open', async (req) => {
  const caller = callerOf(req.principal);
  if (caller.role === 'lender' && req.body.lender_id !== undefined && req.body.lender_id !== caller.lender_id) {
    throw badRequest('lender_id is for operators; a lender opens facilities for itself.', 'lender_id', 'invalid_request');
  }
  const { multiplier, ...terms } = req.body;
  const r = await deps().lending.open(
    caller,
    { ...terms, multiplier_bps: rateToBps(multiplier) },
    req.idempotency && { ...req.idempotency, status_code: 201, replyOf: (f) => facilityJson(freshFacilityView(f)) },
  );
  if (!r.ok && r.code === 'startup_not_found') throw notFound('startup');
  if (!r.ok && r.code === 'lender_not_found') throw badRequest('An operator opening a facility must act for an existing lender.', 'lender_id', 'lender_not_found');
  if (!r.ok && r.code === 'too_many_facilities') throw conflict('This startup already holds the maximum number of facilities (8).', 'too_many_facilities');
  return idempotentReply(r as Exclude<typeof r, { code: 'startup_not_found' | 'lender_not_found' | 'too_many_facilities' }>, (f) => ({
    status: 201,
    body: facilityJson(freshFacilityView(f)),
  }));
});

export const list = apiRoute<unknown, z.infer<typeof FacilityListQuery>>('functions/facilities.list', async (req) => {
  const caller = callerOf(req.principal);
  if (caller.role === 'lender' && req.query.lender_id && req.query.lender_id !== caller.lender_id) {
    throw badRequest('lender_id is for operators; a lender lists its own facilities.', 'lender_id', 'invalid_request');
  }
  if (caller.role === 'operator' && !req.query.lender_id) throw badRequest('An operator lists facilities of one lender: add lender_id.', 'lender_id', 'missing_param');
  const page = await deps().lending.list(caller, req.query.lender_id ?? null, req.query.limit, req.query.cursor);
  const data = await Promise.all(page.items.map(async (f) => facilityJson(await deps().lending.view(f))));
  return { status: 200, body: { data, next_cursor: page.cursor } };
});

export const get = apiRoute('functions/facilities.get', async (req) => {
  return { status: 200, body: facilityJson(await deps().lending.view(await visibleFacility(req))) };
});

export const freeze = apiRoute<z.infer<typeof FreezeBody>>('functions/facilities.freeze', async (req) => {
  const r = await deps().lending.freeze(callerOf(req.principal), req.params.id!, req.body.reason);
  if (!r) throw notFound('facility');
  if ('code' in r) throw conflict(`This facility was ${r.code === 'facility_matured' ? 'matured at its term end' : 'recovered'}; it can no longer be frozen or unfrozen.`, r.code);
  // Named by the freeze's own instant: a repeated freeze (a retry after a lost reply, or after this emission
  // failed) emits the same event, so it is recorded and delivered once. Emission only writes and queues.
  await emitFacilityEvent('facility.frozen', r, [`frozen:${r.frozen_at}`]);
  // Read after the freeze committed: a lease taken before it is in `leased`; none can be taken after it.
  const v = await deps().lending.view(r);
  // Leased credit is all that may still be spent, until the last lease taken before the freeze expires: every
  // such lease was stamped before now (its take committed before the freeze did), so now + a lease's life bounds it.
  const nowMs = clockNowMs();
  const endsMs = v.leased_micros > 0 ? nowMs + maxLeaseLifeMs(deps().leaseTiming) : nowMs;
  return { status: 200, body: { ...facilityJson(v), exposure_micros_max: v.leased_micros, exposure_ends_at: new Date(endsMs).toISOString() } };
});

export const unfreeze = apiRoute('functions/facilities.unfreeze', async (req) => {
  const before = await visibleFacility(req);
  const r = await deps().lending.unfreeze(callerOf(req.principal), req.params.id!);
  if (!r) throw notFound('facility');
  if ('code' in r) throw conflict(`This facility was ${r.code === 'facility_matured' ? 'matured at its term end' : 'recovered'}; it can no longer be frozen or unfrozen.`, r.code);
  // Named by the freeze it ends. Only the call that found it frozen knows that freeze, so an unfreeze whose
  // emission failed and is retried finds it active and emits nothing (docs/api.md "Webhooks" says so).
  if (before.status === 'frozen' && r.status === 'active') await emitFacilityEvent('facility.unfrozen', r, [`unfrozen:${before.frozen_at}`]);
  return { status: 200, body: facilityJson(await deps().lending.view(r)) };
});

export const recover = apiRoute('functions/facilities.recover', async (req) => {
  const r = await deps().lending.recover(callerOf(req.principal), req.params.id!, req.idempotency && { ...req.idempotency, status_code: 200, reply: null });
  if (r.ok) return { status: 200, body: r.statement, ...(r.replayed ? { headers: { 'idempotent-replayed': 'true' } } : {}) };
  switch (r.code) {
    case 'not_found':
      throw notFound('facility');
    case 'facility_not_frozen':
      throw conflict('Freeze the facility before recovering it, so no new spend races the recovery.', r.code);
    case 'already_recovered':
      throw conflict('This facility was already recovered.', r.code);
    case 'facility_matured':
      throw conflict('This facility matured at its term end; its unspent credit is recovered by the loan servicing, and its loan statements show it.', r.code);
    case 'idempotency_conflict':
      throw new HttpError(409, 'This Idempotency-Key was already used with a different request.', r.code, 'conflict_error');
    case 'contention':
      throw busy();
  }
});

/** How long one SSE connection lives, how often figures are re-read, and the keep-alive interval. */
export const STREAM_MAX_MS = 60_000;
export const STREAM_POLL_MS = 1_000;
const STREAM_PING_MS = 15_000;

/**
 * Takes one of the tenant's event-stream tickets (at most MAX_EVENT_STREAMS_PER_TENANT open at once, across every
 * container: concurrency.ts); over it, 429 at once.
 */
async function streamTicket(tenantId: string, ticket: string): Promise<() => Promise<void>> {
  const scopes = [{ scope: streamScope(tenantId), max: MAX_EVENT_STREAMS_PER_TENANT }];
  const r = await deps().tickets.take(scopes, ticket, ticketExpiry(clockNowMs(), STREAM_MAX_MS), clockNowMs());
  // A give-back that fails leaves the ticket to expire (the stream's length and a minute): never the stream's error.
  if (r.ok) return () => deps().tickets.give([scopes[0]!.scope], ticket).catch(() => undefined);
  if (r.code === 'contention') throw busy();
  throw new HttpError(429, `At most ${MAX_EVENT_STREAMS_PER_TENANT} event streams may be open at once; close one or retry when one ends (each lasts at most ${STREAM_MAX_MS / 1000} s).`, 'too_many_streams', 'rate_limit_error', null, true, { 'retry-after': '5' });
}

/** Real-time visibility: the facility's figures as server-sent events, pushed when they change. */
export const stream = streamRoute('functions/facilities.stream', async function* (req) {
  const lending = deps().lending;
  const f = await visibleFacility(req);
  // The operator's streams count together, as one tenant's.
  const give = await streamTicket(req.principal!.tenant_id ?? 'operator', req.requestId);
  try {
    yield* figures(lending, req, f);
  } finally {
    // Also when the client goes away: the stream's generator is returned, and this runs.
    await give();
  }
});

async function* figures(lending: ReturnType<typeof deps>['lending'], req: ApiRequest<undefined, Record<string, never>>, f: Awaited<ReturnType<typeof visibleFacility>>): AsyncGenerator<string> {
  const started = Date.now();
  let last = '';
  let lastSent = 0;
  while (Date.now() - started < STREAM_MAX_MS) {
    const current = (await lending.get(callerOf(req.principal), f.id)) ?? f;
    const json = JSON.stringify(facilityJson(await lending.view(current)));
    if (json !== last) {
      last = json;
      lastSent = Date.now();
      yield `event: figures\ndata: ${json}\n\n`;
    } else if (Date.now() - lastSent >= STREAM_PING_MS) {
      lastSent = Date.now();
      yield `: keep-alive\n\n`;
    }
    await new Promise((r) => setTimeout(r, STREAM_POLL_MS));
  }
  yield sseFrame('end', { reason: 'max_duration', reconnect: true });
}
