/** Dashboard figures (packages/core/src/dashboard.ts), offline: heatmap, fill rate, forecast, SLA by day. */
import { describe, expect, it } from 'vitest';
import { FILL_TARGET_PPM, LATENCY_BUCKETS, latencyBucket, maintenanceHours, slaDaily, utilization, type ProviderHour } from '../../packages/core/src/index.js';

const H = 3_600_000_000; // µs in a GPU-hour
const provider = {
  // 720 listed GPU-hours a month on H100: one GPU-hour per hour of the day per day.
  capacity: [{ accelerator: 'H100' as const, region: 'us-east-1', availability_zone: 'us-east-1a', available_gpu_hours: 720 }],
  maintenance: [{ start: '2026-11-23T00:00:00.000Z', end: '2026-11-23T06:00:00.000Z' }],
  endpoints: [],
};

describe('utilization', () => {
  it('puts delivered GPU time in its accelerator × hour-of-day cell against what was listed there, and the fill rate against 80 %', () => {
    // Prepare: over 2 days, hour 14 delivered 1.5 GPU-hours in all (75 % of the 2 listed), hour 3 delivered 0.5.
    const hours: ProviderHour[] = [
      { hour: '2026-11-20T14', requests: 3, gpu_us: { H100: H }, earnings_micros: 10 },
      { hour: '2026-11-21T14', requests: 1, gpu_us: { H100: H / 2 }, earnings_micros: 5 },
      { hour: '2026-11-21T03', requests: 1, gpu_us: { H100: H / 2 }, earnings_micros: 5 },
    ];
    // Act
    const u = utilization(hours, provider, '2026-11-21T20:00:00.000Z', 2);
    // Assess
    const cell = (h: number) => u.heatmap.find((c) => c.hour_of_day === h)!;
    expect(u.heatmap).toHaveLength(24);
    expect(cell(14)).toEqual({ accelerator: 'H100', hour_of_day: 14, delivered_gpu_hours: 1.5, listed_gpu_hours: 2, utilization_ppm: 750_000, booked_gpu_hours: 0 });
    expect(cell(3).utilization_ppm).toBe(250_000);
    expect(cell(9).utilization_ppm).toBe(0);
    expect(u.delivered_gpu_hours).toBe(2);
    expect(u.listed_gpu_hours).toBe(48);
    expect(u.fill_ppm).toBe(Math.round((2 / 48) * 1e6));
    expect(u.fill_target_ppm).toBe(FILL_TARGET_PPM);
    expect(u.daily).toEqual([
      { day: '2026-11-20', delivered_gpu_hours: 1, requests: 3, earnings_micros: 10 },
      { day: '2026-11-21', delivered_gpu_hours: 1, requests: 2, earnings_micros: 10 },
    ]);
  });

  it('forecasts 30 days: capacity a day less maintenance hours, demand the trailing 7-day mean, capped', () => {
    // Prepare: 14 GPU-hours delivered over the trailing week: 2 a day.
    const hours: ProviderHour[] = [{ hour: '2026-11-19T10', requests: 1, gpu_us: { H100: 14 * H }, earnings_micros: 1 }];
    // Act
    const u = utilization(hours, provider, '2026-11-21T20:00:00.000Z', 30);
    // Assess
    expect(u.forecast).toHaveLength(30);
    expect(u.forecast[0]).toEqual({ day: '2026-11-22', listed_gpu_hours: 24, expected_gpu_hours: 2, blocks_listed_gpu_hours: 0, booked_gpu_hours: 0 });
    // 6 of 24 hours in maintenance on the 23rd.
    expect(u.forecast[1]).toEqual({ day: '2026-11-23', listed_gpu_hours: 18, expected_gpu_hours: 2, blocks_listed_gpu_hours: 0, booked_gpu_hours: 0 });
    expect(u.forecast_method).toMatch(/trailing 7 days/);
  });

  it('shows booked capacity blocks: in their heatmap slot over the window, listed and booked a day ahead, and as committed demand', () => {
    // Prepare: A100 blocks (an accelerator the capacity report does not list): 4 GPUs booked of 8 at 14:00 yesterday;
    // tomorrow 10 hours of 8 GPUs listed, 6 GPUs booked in 5 of them; one hour a reduction left short (3 booked, 2 listed).
    const pool = (acc: string) => `${acc}|us-east-1|us-east-1a|dedicated|infiniband`;
    const hour = (h: string, listed: number, booked: number) => ({ provider_id: 'prv_x', pool: pool('A100'), hour: h, listed_gpus: listed, booked_gpus: booked, free_gpus: listed - booked });
    const blocks = [
      hour('2026-11-20T14', 8, 4),
      ...Array.from({ length: 10 }, (_, i) => hour(`2026-11-22T${String(i).padStart(2, '0')}`, 8, i < 5 ? 6 : 0)),
      hour('2026-11-23T01', 2, 3),
    ];
    const quiet: ProviderHour[] = [{ hour: '2026-11-19T10', requests: 1, gpu_us: { H100: 14 * H }, earnings_micros: 1 }];
    // Act
    const u = utilization(quiet, provider, '2026-11-21T20:00:00.000Z', 2, blocks);
    // Assess
    expect(u.accelerators).toEqual(['A100', 'H100']);
    expect(u.heatmap.find((c) => c.accelerator === 'A100' && c.hour_of_day === 14)!.booked_gpu_hours).toBe(4);
    expect(u.heatmap.filter((c) => c.booked_gpu_hours > 0)).toHaveLength(1);
    expect(u.forecast[0]).toMatchObject({ day: '2026-11-22', blocks_listed_gpu_hours: 80, booked_gpu_hours: 30, expected_gpu_hours: 30 });
    expect(u.forecast[1]).toMatchObject({ day: '2026-11-23', blocks_listed_gpu_hours: 2, booked_gpu_hours: 2 });
    expect(u.blocks_ahead).toEqual({ listed_gpu_hours: 82, booked_gpu_hours: 32, fill_ppm: Math.round((32 / 82) * 1e6) });
    expect(u.forecast_method).toMatch(/booked/);
  });

  it('counts overlapping maintenance windows once', () => {
    const day = Date.parse('2026-11-23T00:00:00.000Z');
    expect(maintenanceHours([{ start: '2026-11-22T22:00:00Z', end: '2026-11-23T04:00:00Z' }, { start: '2026-11-23T02:00:00Z', end: '2026-11-23T05:00:00Z' }], day)).toBe(5);
    expect(maintenanceHours([], day)).toBe(0);
  });
});

describe('SLA by day', () => {
  it('judges each day alone with the standing arithmetic: uptime floored, p95 by bucket bound', () => {
    // Prepare
    const lat = (ms: number, n: number) => {
      const l = new Array<number>(LATENCY_BUCKETS).fill(0);
      l[latencyBucket(ms)] = n;
      return l;
    };
    const buckets = [
      { hour: '2026-11-20T01', samples: 100, errors: 0, latency: lat(120, 100) },
      { hour: '2026-11-20T02', samples: 100, errors: 0, latency: lat(130, 100) },
      { hour: '2026-11-21T01', samples: 200, errors: 3, latency: lat(120, 197) },
    ];
    // Act
    const days = slaDaily('standard', buckets);
    // Assess
    expect(days).toEqual([
      { day: '2026-11-20', samples: 200, errors: 0, uptime_ppm: 1_000_000, latency_ms_p95: 150, met: true },
      { day: '2026-11-21', samples: 200, errors: 3, uptime_ppm: 985_000, latency_ms_p95: 125, met: false },
    ]);
  });
});
