/** Offline: every sample event in events/samples parses with its schema, and the schema refuses the obvious mistakes. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CapacityReport } from '../../events/capacity.js';
import { DeliveryJobMessage } from '../../events/webhook-delivery.js';

const sample = () => JSON.parse(readFileSync(new URL('../../events/samples/capacity-report.json', import.meta.url), 'utf8'));

describe('capacity report messages', () => {
  it('the sample parses', () => expect(CapacityReport.safeParse(sample()).success).toBe(true));

  it.each([
    ['an unknown accelerator', (s: any) => (s.capacity[0].accelerator = 'TPUv5')],
    ['negative GPU-hours', (s: any) => (s.capacity[0].available_gpu_hours = -1)],
    ['fractional GPU-hours', (s: any) => (s.capacity[0].available_gpu_hours = 1.5)],
    ['a window that ends before it starts', (s: any) => (s.maintenance_windows = [{ start: '2026-11-23T04:00:00.000Z', end: '2026-11-23T02:00:00.000Z' }])],
    ['no event id', (s: any) => delete s.event_id],
    ['an unknown field', (s: any) => (s.extra = true)],
    ['a timestamp that is not ISO 8601', (s: any) => (s.reported_at = 'yesterday')],
    ['a block that does not start on a whole hour', (s: any) => (s.capacity_blocks[0].start = '2026-11-22T00:30:00.000Z')],
    ['a block that ends before it starts', (s: any) => (s.capacity_blocks[0].end = '2026-11-21T23:00:00.000Z')],
    ['a block more than 90 days ahead', (s: any) => (s.capacity_blocks[0].end = '2027-03-01T00:00:00.000Z')],
    ['a block of no GPUs', (s: any) => (s.capacity_blocks[0].gpus = 0)],
    ['a block of more than 1,024 GPUs', (s: any) => (s.capacity_blocks[0].gpus = 1_025)],
    ['a pool-hour over 4,096 GPUs', (s: any) => (s.capacity_blocks = Array.from({ length: 5 }, () => ({ ...s.capacity_blocks[0], gpus: 1_000 })))],
    ['more than 200 blocks', (s: any) => (s.capacity_blocks = Array.from({ length: 201 }, () => ({ ...s.capacity_blocks[1] })))],
    ['a region name with a separator', (s: any) => (s.capacity_blocks[0].region = 'us|east')],
    ['an unknown interconnect', (s: any) => (s.capacity_blocks[0].interconnect = 'carrier-pigeon')],
  ])('refuses %s', (_n, mutate) => {
    const s = sample();
    mutate(s);
    expect(CapacityReport.safeParse(s).success).toBe(false);
  });
});

describe('webhook delivery jobs', () => {
  const job = () => JSON.parse(readFileSync(new URL('../../events/samples/webhook-delivery.json', import.meta.url), 'utf8'));
  it('the sample parses', () => expect(DeliveryJobMessage.safeParse(job()).success).toBe(true));
  it.each([
    ['attempt 0', (s: any) => (s.attempt = 0)],
    ['an event id of another kind', (s: any) => (s.event_id = 'fac_7Yk2mN4pQ8rS1tU5vW9xZa3b')],
    ['an unknown field', (s: any) => (s.extra = true)],
  ])('refuses %s', (_n, mutate) => {
    const s = job();
    mutate(s);
    expect(DeliveryJobMessage.safeParse(s).success).toBe(false);
  });
});
