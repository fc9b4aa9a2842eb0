/**
 * GET /v1/requests/{id} (SPEC §4): one request's record, for the startup that made it. The id is the reply's
 * x-request-id. Another startup's request, a request refused before it was held (it has no record) and one whose
 * record is not written yet (the record lands with the lease's flush, just after the reply's last byte) are 404.
 */
import type { z } from 'zod';
import type { UsageRecord } from '../packages/core/src/index.js';
import { apiRoute, startupIdOf } from './lib/api.js';
import { deps } from './lib/deps.js';
import { HttpError } from './lib/errors.js';
import type { RequestReply } from './lib/request-schemas.js';

/** What the startup sees: no hold, lease, endpoint, provider share or margin (those are the marketplace's). */
function requestJson(r: UsageRecord): z.infer<typeof RequestReply> {
  if (r.workload === 'reserved') throw new Error('a booked hour is not a request');
  return {
    id: r.request_id, object: 'request', created_at: r.created_at, key_id: r.key_id, workload: r.workload, model: r.model,
    provider: r.provider_id === '-' ? null : r.provider_id, accelerator: r.accelerator === '-' ? null : r.accelerator,
    stream: r.stream, outcome: r.outcome, status_code: r.status_code, attempts: r.attempts,
    prompt_tokens: r.prompt_tokens, completion_tokens: r.completion_tokens, total_tokens: r.prompt_tokens + r.completion_tokens,
    estimated: r.estimated, gpu_seconds: r.gpu_microseconds / 1_000_000, cost_micros: r.cost_micros,
    latency_ms: r.latency_ms, ttft_ms: r.ttft_ms,
    facilities: r.facilities.map((a) => ({ facility_id: a.facility_id, amount_micros: a.amount_micros })),
  };
}

export const get = apiRoute('functions/requests.get', async (req) => {
  const record = await deps().store.getRequest(startupIdOf(req), req.params.id ?? '');
  // Named as params.ts names an id that cannot exist: the caller cannot tell a malformed id from another's.
  if (!record) throw new HttpError(404, 'No such request.', 'not_found', 'not_found_error', 'id');
  return { status: 200, body: requestJson(record) };
});
