/** Operator pages: the provider review queue, the spot index and the settlement runs; live providers open their provider page. */
import { api } from '../api.js';
import { num, usd, when } from '../format.js';
import { Async, Badge, Card, ErrorLine, useAction, useLoad } from '../ui.js';

interface QueueItem { id: string; name: string; status: string; contact_email: string | null; regions: string[]; accelerators: string[]; created_at: string | null }
interface Spot { accelerator: string; usd_per_gpu_hour_micros: number; effective_at: string }
interface Run { period: string; status: string; started_at: string | null; finished_at: string | null; totals: { providers: number; requests: number; startup_spend_micros: number; provider_earnings_micros: number; premium_micros: number; margin_micros: number } | null; failures: { provider_id: string | null; code: string; reasons: string[] }[] }

export function OperatorPage() {
  return (
    <div class="grid">
      <ReviewQueue />
      <SpotIndex />
      <Settlements />
      <LiveProviders />
    </div>
  );
}

function ReviewQueue() {
  const [queue, reload] = useLoad(() => api<{ data: QueueItem[] }>('GET', '/v1/admin/providers?status=pending_review'), []);
  const { error, run } = useAction();
  const review = (id: string, decision: 'approve' | 'reject') =>
    run(async () => {
      await api('POST', `/v1/admin/providers/${id}/review`, { decision, notes: `${decision}d in the operator console` });
      reload();
    });
  return (
    <Card title="Provider review queue" wide id="queue">
      <ErrorLine error={error} />
      <Async value={queue} empty={(q) => q.data.length === 0} emptyText="No application is waiting for review.">
        {(q) => (
          <div class="scroll">
            <table>
              <thead><tr><th>Provider</th><th>Contact</th><th>Regions</th><th>Accelerators</th><th>Applied</th><th /></tr></thead>
              <tbody>
                {q.data.map((p) => (
                  <tr key={p.id}>
                    <td>{p.name}<div class="muted">{p.id}</div></td><td>{p.contact_email}</td><td>{p.regions.join(', ')}</td><td>{p.accelerators.join(', ')}</td><td>{when(p.created_at)}</td>
                    <td style="white-space:nowrap"><button type="button" onClick={() => review(p.id, 'approve')} aria-label={`Approve ${p.name}`}>Approve</button>{' '}
                      <button type="button" class="secondary" onClick={() => review(p.id, 'reject')} aria-label={`Reject ${p.name}`}>Reject</button></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Async>
    </Card>
  );
}

function SpotIndex() {
  const [spot, reload] = useLoad(() => api<{ data: Spot[] }>('GET', '/v1/spot-prices'), []);
  const { error, run } = useAction();
  function set(e: Event) {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement); // read before any await
    void run(async () => {
      await api('PUT', `/v1/admin/spot-prices/${String(f.get('accelerator'))}`, { usd_per_gpu_hour_micros: Math.round(Number(f.get('usd')) * 1e6) });
      reload();
    });
  }
  return (
    <Card title="Spot index (USD per GPU-hour)" id="spot">
      <Async value={spot} empty={(s) => s.data.length === 0} emptyText="No spot price is set.">
        {(s) => (
          <table>
            <thead><tr><th>Accelerator</th><th class="num">Price</th><th>Since</th></tr></thead>
            <tbody>{s.data.map((p) => <tr key={p.accelerator}><td>{p.accelerator}</td><td class="num">{usd(p.usd_per_gpu_hour_micros)}</td><td>{when(p.effective_at)}</td></tr>)}</tbody>
          </table>
        )}
      </Async>
      <form class="inline" onSubmit={set} aria-label="Set a spot price">
        <label>Accelerator<select name="accelerator">{['H100', 'A100', 'H200'].map((a) => <option key={a}>{a}</option>)}</select></label>
        <label>USD per GPU-hour<input name="usd" type="number" min="0.000001" max="1000" step="0.000001" required /></label>
        <button type="submit">Set from now</button>
      </form>
      <ErrorLine error={error} />
    </Card>
  );
}

function Settlements() {
  const [runs, reload] = useLoad(() => api<{ data: Run[] }>('GET', '/v1/admin/settlements?months=6'), []);
  const { error, run } = useAction();
  const settle = (period: string) =>
    run(async () => {
      await api('POST', `/v1/admin/settlements/${period}`);
      setTimeout(reload, 1500);
    });
  return (
    <Card title="Settlement runs" id="settlements">
      <ErrorLine error={error} />
      <Async value={runs}>
        {(r) => (
          <div class="scroll">
            <table>
              <thead><tr><th>Month</th><th>Status</th><th class="num">Requests</th><th class="num">Startup spend</th><th class="num">Provider earnings</th><th class="num">Margin</th><th /></tr></thead>
              <tbody>
                {r.data.map((run) => (
                  <tr key={run.period}>
                    <td>{run.period}</td>
                    <td><Badge value={run.status} />{run.failures.length > 0 && <div class="muted">{run.failures.map((f) => `${f.provider_id ?? 'month'}: ${f.code}`).join('; ')}</div>}</td>
                    <td class="num">{num(run.totals?.requests)}</td><td class="num">{usd(run.totals?.startup_spend_micros)}</td>
                    <td class="num">{usd(run.totals ? run.totals.provider_earnings_micros + run.totals.premium_micros : null)}</td><td class="num">{usd(run.totals?.margin_micros)}</td>
                    <td>{run.status !== 'settled' && run.status !== 'running' && <button type="button" class="secondary" onClick={() => settle(run.period)}>Settle</button>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Async>
    </Card>
  );
}

function LiveProviders() {
  const [live] = useLoad(() => api<{ data: QueueItem[] }>('GET', '/v1/admin/providers?status=live'), []);
  return (
    <Card title="Live providers" id="live">
      <Async value={live} empty={(l) => l.data.length === 0} emptyText="No live provider.">
        {(l) => <ul>{l.data.map((p) => <li key={p.id}><a href={`#/provider/${p.id}`}>{p.name}</a> <span class="muted">{p.accelerators.join(', ')}</span></li>)}</ul>}
      </Async>
    </Card>
  );
}
