/**
 * Capacity report messages on the capacity-webhooks queue (SPEC §6). The webhook route validates and
 * enqueues them (MessageGroupId = provider id for per-provider order, MessageDeduplicationId = event id);
 * the consumer validates again (a queue is a trust boundary too).
 */
import { z } from 'zod';

export const Accelerator = z.enum(['H100', 'A100', 'H200']);
const Window = z.strictObject({ start: z.iso.datetime(), end: z.iso.datetime() }).refine((w) => w.start < w.end, 'window start must be before its end');

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
});

export type CapacityReport = z.infer<typeof CapacityReport>;
