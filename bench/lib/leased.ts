/**
 * bench:ledger's scenario C (issue 13): one hot startup paid through credit leases, as the gateway pays:
 * reserve in memory, settle in memory, then the after-reply flush, `concurrency` requests in flight. With as
 * many holders as requests in flight, each holder runs one at a time (Lambda's execution environments, a
 * flush per request); with one holder, requests share it (one process, as `npm start`: flushes batch). Reported:
 * reservations per second (each with its settle and flush), the leases taken, and the books after every
 * holder returned its leases (leased back to 0, spent = what was settled, available + spent = granted).
 */
import { DEFAULT_HOLDER_CONFIG, LeaseHolder, facilityAccount, newId, nowIso, type CreditStore, type Facility, type UsageRecord } from '../../packages/core/src/index.js';

export interface LeasedRun {
  ops: number;
  seconds: number;
  ops_per_s: number;
  refused: number;
  leases_taken: number;
  records_flushed: number;
  records_lost: number;
  problems: string[];
}

function record(startupId: string, leaseId: string, facilityId: string, cost: number): UsageRecord {
  const provider = Math.floor((cost * 85) / 100);
  return {
    request_id: newId('req'), startup_id: startupId, key_id: 'key_bench', hold_id: leaseId, workload: 'chat', model: 'bench-model', provider_id: 'prv_bench',
    endpoint_id: 'ep', accelerator: 'H100', stream: false, outcome: 'ok', status_code: 200, attempts: 1, prompt_tokens: 10, completion_tokens: 10, estimated: false,
    gpu_microseconds: 1_000, cost_micros: cost, provider_micros: provider, margin_micros: cost - provider, spot_micros_per_gpu_hour: 2_000_000,
    facilities: cost > 0 ? [{ facility_id: facilityId, amount_micros: cost }] : [], latency_ms: 1, ttft_ms: 1, created_at: nowIso(),
  };
}

export async function leasedScenario(store: CreditStore, startupId: string, facility: Facility, ops: number, concurrency: number, holderCount: number, holdAmount: (i: number) => number, settleAmount: (a: number) => number): Promise<LeasedRun> {
  const holders = Array.from({ length: holderCount }, () => new LeaseHolder(store, { ...DEFAULT_HOLDER_CONFIG, timing: { reserve_s: 20, spend_s: 60 } }));
  let next = 0;
  let refused = 0;
  let settled = 0;
  const t0 = performance.now();
  // `concurrency` workers, spread over the holders: one each when there are as many holders (Lambda), else sharing.
  await Promise.all(Array.from({ length: concurrency }, (_, w) => holders[w % holderCount]!).map(async (h) => {
    for (let i = next++; i < ops; i = next++) {
      const amount = holdAmount(i);
      const r = await h.reserve({ startup_id: startupId, budget_key: null, budget_left_micros: null, amount_micros: amount });
      if (!r.ok) {
        refused++;
        continue;
      }
      const cost = settleAmount(amount);
      h.settle(r.reservation, record(startupId, r.reservation.lease_id, facility.id, cost));
      settled += cost;
      await h.afterReply();
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(holders.map((h) => h.closeAll()));
  const names = (['available', 'leased', 'spent'] as const).map((k) => facilityAccount(facility.id, k));
  const b = await store.getBalances(names);
  const [available, leased, spent] = names.map((a) => b.get(a)?.balance_micros ?? Number.NaN) as [number, number, number];
  const lost = holders.reduce((s, h) => s + h.report.micros_lost, 0);
  const problems: string[] = [];
  if (leased !== 0) problems.push(`C: leased ${leased} after every holder closed`);
  if (spent !== settled - lost) problems.push(`C: spent ${spent}, settled ${settled} less ${lost} lost`);
  if (available + spent !== facility.granted_micros) problems.push(`C: available ${available} + spent ${spent} ≠ granted ${facility.granted_micros}`);
  return {
    ops: ops - refused, seconds, ops_per_s: (ops - refused) / seconds, refused,
    leases_taken: holders.reduce((s, h) => s + h.report.leases_taken, 0),
    records_flushed: holders.reduce((s, h) => s + h.report.records_flushed, 0),
    records_lost: holders.reduce((s, h) => s + h.report.records_lost, 0),
    problems,
  };
}
