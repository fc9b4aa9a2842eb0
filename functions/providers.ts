/**
 * Provider routes (SPEC §6, §10): application (public, rate limited per caller address), operator review,
 * integration (endpoints, model catalog, SLA tier), the provider's own record, and the signed capacity
 * webhook, which only verifies and queues: the consumer (functions/capacity.ts) applies reports in order.
 * A provider naming another provider's id gets 404, as for every tenant.
 */
import { randomBytes } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { z } from 'zod';
import {
  MIN_CAPACITY_INTERVAL_S, addStep, newId, newSecretKey, sha256Hex, unlimitedKey, validSecrets, verifySignature, type OnboardingStep, type ProviderRecord,
} from '../packages/core/src/index.js';
import { nowIso, nowMs, nowS } from '../packages/core/src/clock.js';
import { VersionConflictError } from '../packages/core/src/adapters/dynamodb/index.js';
import { CapacityReport } from '../events/capacity.js';
import { apiRoute, providerIdOf, type ApiRequest } from './lib/api.js';
import { deps, sfnClient, sqsClient } from './lib/deps.js';
import { logger } from './lib/powertools.js';
import { limitPerAddress, perMinuteFromEnv } from './lib/address-limit.js';
import { HttpError, badRequest, conflict, fromZod, notFound } from './lib/errors.js';
import type { ApplyProviderBody, EndpointsBody, ModelsBody, ReviewBody, SlaBody } from './lib/provider-schemas.js';
import type { RollSecretBody } from './lib/webhook-schemas.js';

/** Applications one address may send a minute: the public route's limit (COMPUX_APPLICATIONS_PER_MINUTE, 1–1000). */
const APPLICATIONS_PER_MINUTE = perMinuteFromEnv('COMPUX_APPLICATIONS_PER_MINUTE', 5);

/** The provider the caller may see; else 404. */
async function visible(req: ApiRequest<unknown, unknown>) {
  const found = await deps().providers.get(providerIdOf(req));
  if (!found) throw notFound('provider');
  return found;
}

/** Changes the provider the caller may see, under its version; one that keeps changing gives 503. */
async function update(req: ApiRequest<unknown, unknown>, change: (p: ProviderRecord, at: string) => ProviderRecord) {
  providerIdOf(req);
  try {
    const next = await deps().providers.modify(req.params.id!, change);
    if (!next) throw notFound('provider');
    return { status: 200, body: next };
  } catch (err) {
    if (!(err instanceof VersionConflictError)) throw err;
    throw new HttpError(503, 'The provider record kept changing; retry.', 'contention', 'api_error', null, true, { 'retry-after': '1' });
  }
}

function step(step: OnboardingStep['step'], result: OnboardingStep['result'], at: string, detail: string): OnboardingStep {
  return { step, result, at, detail };
}

/** Integration steps need an approved provider that is not being validated. */
function integrating(p: ProviderRecord): void {
  if (p.status === 'pending_review') throw conflict('The application is still waiting for review.', 'not_approved');
  if (p.status === 'rejected') throw conflict('The application was rejected.', 'rejected');
  if (p.status === 'validating') throw conflict('Validation is running; change the integration after it ends.', 'validating');
}

export const apply = apiRoute<z.infer<typeof ApplyProviderBody>>('functions/providers.apply', async (req) => {
  await limitPerAddress(req, 'apply', APPLICATIONS_PER_MINUTE, 'applications');
  const at = nowIso();
  const id = newId('prv');
  const webhookSecret = newSecretKey('whsec');
  const p: ProviderRecord = {
    id, name: req.body.name, contact_email: req.body.contact_email, regions: req.body.regions, accelerators: [...new Set(req.body.accelerators)],
    status: 'pending_review', sla_tier: null, capacity_interval_s: MIN_CAPACITY_INTERVAL_S, endpoints: [], models: [],
    steps: [step('application', 'recorded', at, 'application received')], created_at: at, updated_at: at,
  };
  const { secret, record: key } = unlimitedKey('provider', id, `${p.name} (primary)`, at);
  await deps().providers.create(p, key, webhookSecret);
  // Shown once: the key is stored only as a hash; the webhook secret is kept to verify signatures.
  return { status: 201, body: { ...p, key: secret, webhook_secret: webhookSecret } };
});

export const review = apiRoute<z.infer<typeof ReviewBody>>('functions/providers.review', async (req) =>
  update(req, (p, at) => {
    if (p.status !== 'pending_review') throw conflict(`The provider is ${p.status}, not waiting for review.`, 'not_pending_review');
    const approved = req.body.decision === 'approve';
    return { ...addStep(p, step('review', approved ? 'passed' : 'failed', at, req.body.notes || (approved ? 'approved' : 'rejected'))), status: approved ? 'integration' : 'rejected' };
  }),
);

export const get = apiRoute('functions/providers.get', async (req) => ({ status: 200, body: (await visible(req)).value }));

export const putEndpoints = apiRoute<z.infer<typeof EndpointsBody>>('functions/providers.putEndpoints', async (req) =>
  update(req, (p, at) => {
    integrating(p);
    for (const e of req.body.endpoints) {
      if (!p.regions.includes(e.region)) throw badRequest(`Endpoint ${e.id} is in ${e.region}, not one of the provider's regions (${p.regions.join(', ')}).`, 'endpoints');
      if (!e.availability_zone.startsWith(e.region)) throw badRequest(`Endpoint ${e.id}: ${e.availability_zone} is not a zone of ${e.region}.`, 'endpoints');
    }
    return { ...addStep(p, step('endpoints', 'recorded', at, `${req.body.endpoints.length} endpoint(s)`)), endpoints: req.body.endpoints };
  }),
);

export const putModels = apiRoute<z.infer<typeof ModelsBody>>('functions/providers.putModels', async (req) =>
  update(req, (p, at) => {
    integrating(p);
    for (const m of req.body.models) {
      if (!p.accelerators.includes(m.accelerator)) throw badRequest(`Model ${m.model} runs on ${m.accelerator}, which the provider did not apply with.`, 'models');
    }
    return { ...addStep(p, step('models', 'recorded', at, `${req.body.models.length} model(s) synced`)), models: req.body.models };
  }),
);

export const putSla = apiRoute<z.infer<typeof SlaBody>>('functions/providers.putSla', async (req) =>
  update(req, (p, at) => {
    integrating(p);
    const interval = req.body.capacity_interval_s ?? p.capacity_interval_s;
    return { ...addStep(p, step('sla', 'recorded', at, `tier ${req.body.tier}, capacity interval ${interval} s`)), sla_tier: req.body.tier, capacity_interval_s: interval };
  }),
);

/**
 * The webhook's one refusal before the signature holds (issue 14, point 7): an unknown provider id and a missing,
 * malformed, stale or mismatching signature get the same status, code and message, so the route does not tell which
 * provider ids exist. The reason is logged for the operator.
 */
const signatureRefused = () =>
  new HttpError(401, 'The x-compux-signature header is missing, malformed, more than 300 s away, or does not match the body.', 'invalid_signature', 'authentication_error');
/** An id the table can hold and ids are made of: anything else is unknown without a read. */
const PROVIDER_ID = /^[A-Za-z0-9_-]{1,64}$/;
/**
 * An unknown provider's body is checked against this instead, so its reply costs the same read and HMAC as a known
 * one's (no shortcut to time). Random per container: no signature can match it.
 */
const DECOY_SECRET = `whsec_${randomBytes(32).toString('base64url')}`;

/**
 * Always two secrets to check, whatever the provider: its valid ones (two during a roll's overlap) made up with the
 * decoy, so a known provider with or without an overlap and an unknown one all cost the same two HMACs.
 */
function secretsToCheck(valid: readonly string[]): [string, string] {
  return [valid[0] ?? DECOY_SECRET, valid[1] ?? DECOY_SECRET];
}

/** The signed capacity webhook: 401 on any signature problem (an unknown provider looks the same), 400 on a malformed report, 202 once queued. */
export const capacity = apiRoute('functions/providers.capacity', async (req) => {
  const id = req.params.id!;
  const secrets = PROVIDER_ID.test(id) ? await deps().providers.webhookSecrets(id) : null;
  const check = verifySignature(req.headers['x-compux-signature'], secretsToCheck(secrets ? validSecrets(secrets, nowMs()) : []), req.rawBody, nowS());
  if (!check.ok || secrets === null) {
    logger.info('capacity webhook refused', { provider_id: id.slice(0, 64), reason: secrets === null ? 'unknown_provider' : check.ok ? 'ok' : check.reason });
    throw signatureRefused();
  }
  let json: unknown;
  try {
    json = JSON.parse(req.rawBody);
  } catch {
    throw badRequest('The report is not valid JSON.', null, 'invalid_json');
  }
  const parsed = CapacityReport.safeParse(json);
  if (!parsed.success) throw fromZod(parsed.error, 'body');
  if (parsed.data.provider_id !== id) throw badRequest('provider_id does not match the URL.', 'provider_id');
  const url = process.env.CAPACITY_QUEUE_URL;
  if (!url) throw new Error('CAPACITY_QUEUE_URL is not set');
  await sqsClient().send(
    new SendMessageCommand({
      QueueUrl: url,
      MessageBody: JSON.stringify(parsed.data),
      // Per-provider order; SQS drops a resend of the same event id within 5 minutes, the consumer for good.
      MessageGroupId: id,
      MessageDeduplicationId: sha256Hex(`${id}:${parsed.data.event_id}`),
    }),
  );
  return { status: 202, body: { accepted: true, event_id: parsed.data.event_id } };
});

/**
 * Rolls the provider's capacity-webhook secret (issue 14 point 3): the new secret is in the reply only; reports signed
 * with the previous one are accepted for `expires_in_s` more (signing-secrets.ts; 409 while an earlier roll's overlap
 * runs, unless 0). Only the provider itself: another provider's id is a 404 (providerIdOf), an operator is refused by
 * the row (403).
 */
export const rollWebhookSecret = apiRoute<z.infer<typeof RollSecretBody>>('functions/providers.rollWebhookSecret', async (req) => {
  const id = providerIdOf(req);
  const r = await deps().providers.rollWebhookSecret(id, nowIso(), req.body.expires_in_s);
  if (!r.ok && r.code === 'not_found') throw notFound('provider');
  if (!r.ok) throw conflict('The previous roll is still in its overlap (two secrets valid); roll again once it ends, or with expires_in_s 0 to end both old secrets now.', r.code);
  const { secret, rolled_at, previous_secret_expires_at } = r.secrets;
  return { status: 200, body: { object: 'webhook_secret' as const, provider_id: id, secret, rolled_at, previous_secret_expires_at } };
});

/**
 * Starts the validation state machine: the provider must be in integration with endpoints, models and
 * an SLA tier. It turns `validating` first (so integration cannot change under the probes); if the
 * execution cannot be started it is put back, with the failure recorded.
 */
export const startValidation = apiRoute('functions/providers.startValidation', async (req) => {
  const arn = process.env.PROVIDER_VALIDATION_ARN;
  if (!arn) throw new Error('PROVIDER_VALIDATION_ARN is not set');
  const id = req.params.id!;
  await update(req, (p, at) => {
    integrating(p);
    if (p.status === 'live') throw conflict('The provider is already live.', 'already_live');
    const missing = [p.endpoints.length === 0 && 'endpoints', p.models.length === 0 && 'models', !p.sla_tier && 'an SLA tier'].filter(Boolean);
    if (missing.length > 0) throw conflict(`Register ${missing.join(', ')} before validation.`, 'integration_incomplete');
    return { ...addStep(p, step('validation', 'recorded', at, 'validation started')), status: 'validating' };
  });
  try {
    const out = await sfnClient().send(new StartExecutionCommand({ stateMachineArn: arn, name: `${id}-${nowMs()}`, input: JSON.stringify({ provider_id: id, results: {} }) }));
    return { status: 202, body: { provider_id: id, execution_id: out.executionArn!, status: 'validating' as const } };
  } catch (err) {
    await deps().providers.modify(id, (p, at) => ({ ...addStep(p, step('validation', 'failed', at, 'validation could not be started; try again')), status: 'integration' }));
    throw err;
  }
});
