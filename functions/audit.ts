/** Task handlers of the ledger-audit state machine (infra/asl/ledger-audit.asl.json). */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { z } from 'zod';
import { ACCOUNT_SHARDS } from '../infra/table.js';
import { auditPage, summarize, type ShardAudit } from '../packages/core/src/index.js';
import { deps } from './lib/deps.js';
import { logger } from './lib/powertools.js';

const ShardState = z.object({
  shard: z.number().int().min(0).max(ACCOUNT_SHARDS - 1),
  cursor: z.string().max(2_000).optional(),
  accounts_checked: z.number().int().min(0),
  balance_sum_micros: z.number().int(),
  mismatches: z.array(z.object({ account: z.string(), cached_micros: z.number(), lines_sum_micros: z.number() })).max(50),
});

/** One page of one shard; returns the state with `cursor` while more pages remain (the ASL loops on it). */
export const auditShard = middy(async (event: unknown): Promise<ShardAudit> => auditPage(deps().store, ShardState.parse(event))).use(injectLambdaContext(logger));

const summarize_ = async (event: unknown) => {
  const result = summarize(z.array(ShardState).max(ACCOUNT_SHARDS).parse(event));
  if (!result.ok) logger.error('ledger audit found an imbalance', { ...result });
  return result;
};
export { summarize_ as summarize };
