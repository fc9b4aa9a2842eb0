/**
 * A lease's close from its flushes, offline (leases/lease.ts closeOf): the record pages settlement reads, and
 * the L3 check that the records, the journal and the posting agree to the micro.
 */
import { describe, expect, it } from 'vitest';
import { RECORDS_PER_PAGE, addToJournal, closeOf, journalEntries, newLease, type Journal, type UsageRecord } from '../../packages/core/src/index.js';

const lease = newLease({ id: 'lse_close', holder_id: 'hld_x', startup_id: 'stu_x', facility_id: 'fac_x', budget_key: null, amount_micros: 1_000_000_000, created_at: '2026-11-30T23:59:50.000Z' }, { reserve_s: 20, spend_s: 60 });

function rec(n: number, provider: string, at: string, cost = 100): UsageRecord {
  return {
    request_id: `req_${n}`, startup_id: 'stu_x', key_id: 'key_x', hold_id: lease.id, lease_id: lease.id, workload: 'chat', model: 'm', provider_id: provider, endpoint_id: 'ep',
    accelerator: 'H100', stream: false, outcome: 'ok', status_code: 200, attempts: 1, prompt_tokens: 1, completion_tokens: 1, estimated: false, gpu_microseconds: 10,
    cost_micros: cost, provider_micros: cost - 15, margin_micros: 15, spot_micros_per_gpu_hour: 1, facilities: [{ facility_id: 'fac_x', amount_micros: cost }], latency_ms: 1, ttft_ms: 1, created_at: at,
  };
}

const journalOf = (records: UsageRecord[]): Journal => {
  const j: Journal = new Map();
  for (const r of records) addToJournal(j, journalEntries(r));
  return j;
};

describe('closing a lease from its flushes', () => {
  it('pages billed records by provider and posting month, RECORDS_PER_PAGE at most, unbilled ones left out', () => {
    // Prepare: one provider across a month end, more records than a page holds; another provider; one failed request
    const records = [
      ...Array.from({ length: RECORDS_PER_PAGE + 3 }, (_, i) => rec(i, 'prv_a', '2026-11-30T23:59:55.000Z')),
      rec(5_000, 'prv_a', '2026-12-01T00:00:05.000Z'),
      rec(5_001, 'prv_b', '2026-12-01T00:00:06.000Z'),
      { ...rec(5_002, '-', '2026-12-01T00:00:07.000Z', 0), accelerator: '-' as const, outcome: 'upstream_error' as const, provider_micros: 0, margin_micros: 0, facilities: [] },
    ];
    // Act
    const c = closeOf(lease, journalOf(records), records, '2026-12-01T00:01:00.000Z', 'pst_close');
    // Assess
    expect(c.record_pages.map((p) => [p.provider_id, p.period, p.n, p.records.length])).toEqual([
      ['prv_a', '2026-11', 0, RECORDS_PER_PAGE], ['prv_a', '2026-11', 1, 3], ['prv_a', '2026-12', 0, 1], ['prv_b', '2026-12', 0, 1],
    ]);
    expect(c.record_pages.flatMap((p) => p.records).reduce((s, r) => s + r.cost_micros, 0)).toBe(c.spent_micros);
    // The facility's spend by day, provider and model (the lender's split), unbilled requests left out.
    expect(c.facility_models.map((m) => [m.day, m.provider_id, m.model, m.spent_micros])).toEqual([
      ['2026-11-30', 'prv_a', 'm', (RECORDS_PER_PAGE + 3) * 100], ['2026-12-01', 'prv_a', 'm', 100], ['2026-12-01', 'prv_b', 'm', 100],
    ]);
  });

  it('puts records in the month their accrual is posted in when that month was already settled', () => {
    // Prepare
    const records = [rec(1, 'prv_a', '2026-11-30T23:59:55.000Z'), rec(2, 'prv_a', '2026-12-01T00:00:01.000Z')];
    // Act: November was settled: its late accruals go to December
    const c = closeOf(lease, journalOf(records), records, '2026-12-01T00:01:00.000Z', 'pst_close', (p) => (p < '2026-12' ? '2026-12' : p));
    // Assess
    expect(c.record_pages.map((p) => [p.provider_id, p.period, p.records.length])).toEqual([['prv_a', '2026-12', 2]]);
  });

  it('refuses a close whose records disagree with the journal (L3), or that holds a request twice', () => {
    // Prepare
    const records = [rec(1, 'prv_a', '2026-12-01T00:00:01.000Z'), rec(2, 'prv_a', '2026-12-01T00:00:02.000Z')];
    // Act / Assess
    expect(() => closeOf(lease, journalOf(records), records.slice(0, 1), '2026-12-01T00:01:00.000Z', 'pst_close')).toThrow(/L3/);
    expect(() => closeOf(lease, journalOf(records), [records[0]!, records[0]!], '2026-12-01T00:01:00.000Z', 'pst_close')).toThrow(/flushed twice/);
  });
});
