/**
 * Outbound webhooks (SPEC §12): a tenant's endpoints and events (routes), the webhook-deliveries consumer and
 * the sweeper schedule. Every route acts on the caller's own tenant only: another tenant's endpoint or event is
 * a 404, exactly as if it did not exist. Operators hold no tenant, so these routes are not theirs (403).
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { z } from 'zod';
import { DeliveryJobMessage } from '../events/webhook-delivery.js';
import { publicEndpoint, type EventTenant, type StoredEvent, type WebhookEndpoint } from '../packages/core/src/index.js';
import { apiRoute, type ApiRequest } from './lib/api.js';
import { badRequest, conflict, forbidden, notFound } from './lib/errors.js';
import { logger } from './lib/powertools.js';
import type { ListQuery } from './lib/schemas.js';
import type { CreateEndpointBody, RollSecretBody } from './lib/webhook-schemas.js';
import { webhooks } from './lib/webhooks.js';

function tenantOf(req: ApiRequest<unknown, unknown>): EventTenant {
  const p = req.principal;
  if (!p || !p.tenant_id || (p.role !== 'startup' && p.role !== 'lender' && p.role !== 'provider')) throw forbidden();
  return { role: p.role, id: p.tenant_id };
}

const endpointJson = (e: WebhookEndpoint) => ({ object: 'webhook_endpoint' as const, ...publicEndpoint(e) });

export function eventJson(e: StoredEvent) {
  return {
    id: e.id,
    object: 'event' as const,
    type: e.type,
    created_at: e.created_at,
    data: e.data,
    deliveries: Object.values(e.deliveries)
      .sort((a, b) => a.endpoint_id.localeCompare(b.endpoint_id))
      .map((d) => ({
        endpoint_id: d.endpoint_id, status: d.status, round: d.round, attempts: d.attempts, last_status_code: d.last_status_code,
        last_error: d.last_error, last_attempt_at: d.last_attempt_at, next_attempt_at: d.status === 'pending' ? d.next_attempt_at : null,
      })),
  };
}

const URL_MESSAGES: Record<string, string> = {
  invalid_url: 'url is not a valid absolute URL.',
  insecure_scheme: 'url must use https.',
  credentials_in_url: 'url must not carry a user name or password.',
  private_address: 'url must reach a public address: private, loopback, link-local and unique-local targets are refused.',
  unresolvable: 'url names a host that does not resolve.',
};

export const createEndpoint = apiRoute<z.infer<typeof CreateEndpointBody>>('functions/webhooks.createEndpoint', async (req) => {
  const r = await webhooks().createEndpoint(tenantOf(req), req.body.url, req.body.events);
  if (r.ok) return { status: 201, body: { ...endpointJson(r.endpoint), secret: r.endpoint.secret } };
  if (r.code === 'too_many_endpoints') throw conflict('This account already holds the maximum number of webhook endpoints (16); delete one first.', r.code);
  if (r.code in URL_MESSAGES) throw badRequest(URL_MESSAGES[r.code]!, 'url', r.code);
  throw badRequest(`events: ${r.code.replace(/_/g, ' ')}`, 'events', r.code);
});

export const listEndpoints = apiRoute('functions/webhooks.listEndpoints', async (req) => {
  // At most 16 live endpoints: one page, always whole.
  const list = await webhooks().listEndpoints(tenantOf(req).id);
  return { status: 200, body: { data: list.map(endpointJson), next_cursor: null } };
});

export const deleteEndpoint = apiRoute('functions/webhooks.deleteEndpoint', async (req) => {
  const e = await webhooks().deleteEndpoint(tenantOf(req).id, req.params.id!);
  if (!e) throw notFound('webhook endpoint');
  return { status: 200, body: { ...endpointJson(e), deleted: true } };
});

/**
 * Rolls an endpoint's signing secret (issue 14 point 3): the new secret is in the reply only; each delivery carries
 * a signature by the old one as well for `expires_in_s` (409 while an earlier roll's overlap runs, unless 0).
 */
export const rollEndpointSecret = apiRoute<z.infer<typeof RollSecretBody>>('functions/webhooks.rollEndpointSecret', async (req) => {
  const r = await webhooks().rollEndpointSecret(tenantOf(req).id, req.params.id!, req.body.expires_in_s);
  if (!r.ok && r.code === 'not_found') throw notFound('webhook endpoint');
  if (!r.ok) throw conflict("The endpoint's previous roll is still in its overlap (two secrets sign); roll again once it ends, or with expires_in_s 0 to end both old secrets now.", r.code);
  return { status: 200, body: { ...endpointJson(r.endpoint), secret: r.endpoint.secret } };
});

export const listEvents = apiRoute<unknown, z.infer<typeof ListQuery>>('functions/webhooks.listEvents', async (req) => {
  const page = await webhooks().listEvents(tenantOf(req).id, req.query.limit, req.query.cursor);
  return { status: 200, body: { data: page.items.map(eventJson), next_cursor: page.cursor } };
});

export const getEvent = apiRoute('functions/webhooks.getEvent', async (req) => {
  const e = await webhooks().getEvent(tenantOf(req).id, req.params.id!);
  if (!e) throw notFound('event');
  return { status: 200, body: eventJson(e) };
});

export const redeliver = apiRoute('functions/webhooks.redeliver', async (req) => {
  const r = await webhooks().redeliver(tenantOf(req).id, req.params.id!);
  if (!r.ok && r.code === 'not_found') throw notFound('event');
  if (!r.ok) throw conflict('None of the endpoints this event was sent to exists any more.', r.code);
  return { status: 202, body: eventJson(r.event) };
});

/**
 * The webhook-deliveries consumer: the batch's jobs in parallel (each bounded by the 10 s delivery timeout), so
 * one slow receiver does not hold up the others. A job that throws (the table or the queue failing, not the
 * receiver) is reported failed alone and comes back after the visibility timeout.
 */
export const deliver = middy(async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const w = webhooks();
  const results = await Promise.allSettled(
    event.Records.map(async (record) => {
      let json: unknown;
      try {
        json = JSON.parse(record.body);
      } catch {
        json = undefined;
      }
      const parsed = DeliveryJobMessage.safeParse(json);
      if (!parsed.success) {
        // Retrying a malformed job cannot help: logged and dropped.
        logger.error('malformed webhook delivery job dropped', { messageId: record.messageId, issue: parsed.error.issues[0]?.message });
        return;
      }
      await w.handle(parsed.data);
    }),
  );
  const batchItemFailures = results.flatMap((r, i) => {
    if (r.status === 'fulfilled') return [];
    logger.warn('webhook delivery job failed', { messageId: event.Records[i]!.messageId, error: r.reason as Error });
    return [{ itemIdentifier: event.Records[i]!.messageId }];
  });
  return { batchItemFailures };
}).use(injectLambdaContext(logger));

/** Schedule: queues the deliveries of events whose dispatch did not finish. */
export const sweep = middy(async () => {
  const r = await webhooks().sweep();
  if (r.dispatched + r.failed > 0) logger.warn('dispatched webhook events left undispatched', { ...r });
  return r;
}).use(injectLambdaContext(logger));
