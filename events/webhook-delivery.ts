/**
 * Delivery jobs on the webhook-deliveries queue (SPEC §12): attempt `attempt` of round `round` of one event's
 * delivery to one endpoint, not before `not_before`. Written by emission, redelivery, the sweeper and the
 * consumer itself (its next attempt); the consumer validates each (a queue is a trust boundary too).
 */
import { z } from 'zod';

export const DeliveryJobMessage = z.strictObject({
  tenant_id: z.string().min(1).max(64),
  event_id: z.string().regex(/^evt_[A-Za-z0-9]{8,40}$/),
  endpoint_id: z.string().regex(/^whe_[A-Za-z0-9]{8,40}$/),
  round: z.number().int().min(1).max(1_000),
  attempt: z.number().int().min(1).max(100),
  not_before: z.iso.datetime(),
});
export type DeliveryJobMessage = z.infer<typeof DeliveryJobMessage>;
