/**
 * Capacity report messages on the capacity-webhooks queue (SPEC §6). The webhook route validates and
 * enqueues them (MessageGroupId = provider id for per-provider order, MessageDeduplicationId = event id);
 * the consumer validates again (a queue is a trust boundary too).
 */
import { z } from 'zod';
import { MAX_BLOCKS_PER_REPORT, MAX_GPUS_PER_BLOCK, blocksProblem } from '../packages/core/src/bookings/blocks.js';

export const Accelerator = z.enum(['H100', 'A100', 'H200']);
const Window = z.strictObject({ start: z.iso.datetime(), end: z.iso.datetime() }).refine((w) => w.start < w.end, 'window start must be before its end');

/** Region and zone names as they appear in pool keys: lower case, digits and dashes. */
const PlaceName = z.string().regex(/^[a-z0-9-]{1,32}$/, 'lower case letters, digits and dashes, at most 32');

/** A block of whole GPUs for bookings (SPEC §6, §11); hour-aligned; a burst window is a block with burst: true. */
export const CapacityBlock = z.strictObject({
  accelerator: Accelerator,
  region: PlaceName,
  availability_zone: PlaceName,
  capacity_type: z.enum(['dedicated', 'shared']),
  interconnect: z.enum(['infiniband', 'roce', 'nvlink', 'ethernet']),
  start: z.iso.datetime(),
  end: z.iso.datetime(),
  gpus: z.number().int().min(1).max(MAX_GPUS_PER_BLOCK),
  burst: z.boolean().optional(),
});

export const CapacityReport = z.strictObject({
  event_id: z.string().min(1).max(128),
  provider_id: z.string().min(1).max(64),
  reported_at: z.iso.datetime(),
  capacity: z
    .array(
      z.strictObject({
        accelerator: Accelerator,
        region: z.string().min(1).max(32),
        availability_zone: z.string().min(1).max(32),
        available_gpu_hours: z.number().int().min(0).max(10_000_000),
      }),
    )
    .max(200),
  burst_windows: z.array(Window.and(z.object({ extra_gpu_hours: z.number().int().min(0).max(10_000_000) }))).max(50).default([]),
  maintenance_windows: z.array(Window).max(50).default([]),
  /**
   * The blocks bookings may take. Absent: the blocks applied before stay as they are; present (even empty): they
   * replace every block from the current hour on.
   */
  capacity_blocks: z.array(CapacityBlock).max(MAX_BLOCKS_PER_REPORT).optional(),
}).superRefine((r, ctx) => {
  const problem = r.capacity_blocks ? blocksProblem(r.capacity_blocks, Date.parse(r.reported_at)) : null;
  if (problem) ctx.addIssue({ code: 'custom', path: ['capacity_blocks'], message: problem });
});

export type CapacityReport = z.infer<typeof CapacityReport>;
