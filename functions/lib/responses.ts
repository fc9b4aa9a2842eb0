/**
 * POST /v1/responses on the chat gateway: the request prepared as a chat completion (the previous response read
 * first, when named), served through the same gateway entry as /v1/chat/completions (held, routed, metered and
 * billed as chat is) into a sink that retells it as the Responses API, and the Response stored after the reply's
 * last byte (unless `store: false`).
 */
import { RESPONSE_RETENTION_S, ResponsesSink, describeCall, isRefusal, newId, prepareResponse, type ResponsesRequest } from '../../packages/core/src/index.js';
import { nowMs } from '../../packages/core/src/clock.js';
import type { Serve } from './sink.js';
import { deps } from './deps.js';
import { httpErrorOf } from './openai-errors.js';
import { logger } from './powertools.js';

export const serveResponse: Serve = async (body, { principal, requestId, sink }) => {
  const startupId = principal.tenant_id;
  const createdAtS = Math.floor(nowMs() / 1000);
  const prepared = await prepareResponse(body as unknown as ResponsesRequest, { startup_id: startupId, id: newId('resp'), created_at_s: createdAtS, store: deps().responses });
  if (isRefusal(prepared)) throw httpErrorOf(prepared);
  const responses = new ResponsesSink(sink, prepared.shell);
  return {
    call: describeCall('chat', prepared.chat),
    sink: responses,
    after: async () => {
      const final = responses.final;
      if (!prepared.shell.store || !final) return;
      const r = await deps().responses.put({ startup_id: startupId, response: final, conversation: prepared.conversation, expires_at_s: createdAtS + RESPONSE_RETENTION_S });
      if (!r.ok) logger.warn('response not stored: over the stored item limit', { requestId, response_id: final.id });
    },
  };
};
