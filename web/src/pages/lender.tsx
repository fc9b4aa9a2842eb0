/** Lender pages: each facility's visibility figures with a burn chart, its covenants and their state, and freeze / unfreeze behind a confirmation. */
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { Chart } from '../chart.js';
import { day, num, usd, when } from '../format.js';
import { Async, Badge, Card, Confirm, ErrorLine, Figures, useAction, useLoad } from '../ui.js';

interface Facility {
  id: string; startup_id: string; status: 'active' | 'frozen' | 'recovered' | 'matured'; frozen_reason: string | null; principal_micros: number; multiplier: number; term_end: string;
  granted_micros: number; spent_micros: number; reserved_micros: number; available_micros: number; frozen_micros: number;
  burn_24h_micros: number; burn_7d_micros: number; burn_rate_micros_per_day: number; runway_days: number | null; fees_owed_micros: number;
}

interface CovenantRow {
  kind: 'min_runway_days' | 'max_spend_24h_micros' | 'max_burn_ratio'; threshold: number; action: 'notify' | 'freeze';
  state: { value: number | null; breached: boolean; breached_since: string | null; evaluated_at: string | null };
}

const COVENANT_LABELS: Record<CovenantRow['kind'], { name: string; show: (v: number) => string }> = {
  min_runway_days: { name: 'Minimum runway', show: (v) => `${num(v, 1)} days` },
  max_spend_24h_micros: { name: 'Maximum spend in 24 h', show: (v) => usd(v) },
  max_burn_ratio: { name: 'Maximum burn ratio (24 h ÷ 7-day average)', show: (v) => `${num(v, 2)}×` },
};

/** The facility's covenants (set through the API) and their state at the schedule's last evaluation. */
function Covenants(p: { id: string }) {
  const [set] = useLoad(() => api<{ covenants: CovenantRow[] }>('GET', `/v1/facilities/${p.id}/covenants`), [p.id]);
  return (
    <Async value={set} empty={(s) => s.covenants.length === 0} emptyText="No covenants on this facility (PUT /v1/facilities/{id}/covenants sets them).">
      {(s) => (
        <div class="scroll">
          <table aria-label={`Covenants of facility ${p.id}`}>
            <thead><tr><th>Covenant</th><th>Threshold</th><th>Action</th><th>Now</th><th>State</th></tr></thead>
            <tbody>
              {s.covenants.map((c) => (
                <tr key={c.kind}>
                  <td>{COVENANT_LABELS[c.kind].name}</td><td>{COVENANT_LABELS[c.kind].show(c.threshold)}</td><td>{c.action}</td>
                  <td>{c.state.value === null ? '–' : COVENANT_LABELS[c.kind].show(c.state.value)}</td>
                  <td>{c.state.evaluated_at === null ? <span class="muted">not evaluated yet</span> : <><Badge value={c.state.breached ? 'breached' : 'met'} />{c.state.breached_since && <span class="muted"> since {when(c.state.breached_since)}</span>}</>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Async>
  );
}

interface Burn {
  daily: { day: string; spent_micros: number }[];
  by_provider: { provider_id: string; spent_micros: number }[];
  by_model: { model: string; spent_micros: number }[];
}

/** Where the facility's credit went over the same 30 days: by provider and by model, most spent first. */
function SpendSplit(p: { id: string; burn: Burn }) {
  const rows = (title: string, items: [string, number][]) => (
    <table aria-label={`${title} of facility ${p.id}, last 30 days`}>
      <thead><tr><th>{title}</th><th>Spent</th></tr></thead>
      <tbody>{items.map(([name, micros]) => <tr key={name}><td>{name}</td><td>{usd(micros)}</td></tr>)}</tbody>
    </table>
  );
  return (
    <div class="scroll">
      {rows('Spend by provider', p.burn.by_provider.map((x) => [x.provider_id, x.spent_micros]))}
      {rows('Spend by model', p.burn.by_model.map((x) => [x.model, x.spent_micros]))}
    </div>
  );
}

export function LenderPage() {
  const [list] = useLoad(() => api<{ data: Facility[] }>('GET', '/v1/facilities?limit=100'), []);
  return (
    <div class="grid">
      <Async value={list} empty={(l) => l.data.length === 0} emptyText="You have not funded a facility yet.">
        {(l) => l.data.map((f) => <FacilityCard key={f.id} id={f.id} />)}
      </Async>
    </div>
  );
}

function FacilityCard(p: { id: string }) {
  const [facility, reload] = useLoad(() => api<Facility>('GET', `/v1/facilities/${p.id}`), [p.id]);
  const [burn, reloadBurn] = useLoad(() => api<Burn>('GET', `/v1/facilities/${p.id}/burn?days=30`), [p.id]);
  const [asking, setAsking] = useState<'freeze' | 'unfreeze' | null>(null);
  const [reason, setReason] = useState('');
  const { error, run } = useAction();

  function act(action: 'freeze' | 'unfreeze') {
    setAsking(null);
    void run(async () => {
      await api('POST', `/v1/facilities/${p.id}/${action}`, action === 'freeze' ? { reason: reason.trim() || 'frozen by the lender' } : {});
      reload();
      reloadBurn();
    });
  }

  return (
    <Card title={`Facility ${p.id}`} wide>
      <Async value={facility}>
        {(f) => (
          <>
            <p>
              Startup {f.startup_id} · <Badge value={f.status} /> · principal {usd(f.principal_micros)} × {f.multiplier} · term ends {day(f.term_end)}
              {f.frozen_reason && <span class="muted"> · frozen: {f.frozen_reason}</span>}
            </p>
            <Figures
              items={[
                ['Granted', usd(f.granted_micros)], ['Spent', usd(f.spent_micros)], ['Reserved', usd(f.reserved_micros)], ['Available', usd(f.available_micros)],
                ['Frozen', usd(f.frozen_micros)], ['Burn 24 h', usd(f.burn_24h_micros)], ['Burn 7 d', usd(f.burn_7d_micros)],
                ['Runway', f.runway_days === null ? 'no burn' : `${num(f.runway_days, 1)} days`], ['Fees owed', usd(f.fees_owed_micros)],
              ]}
            />
            <Covenants id={f.id} />
            <Async value={burn} empty={(b) => b.daily.length === 0} emptyText="No spend in the last 30 days.">
              {(b) => (
                <>
                <Chart
                  label={`Daily spend of facility ${f.id}, last 30 days`}
                  option={{
                    tooltip: { trigger: 'axis' }, grid: { left: 60, right: 16, top: 24, bottom: 40 },
                    xAxis: { type: 'category', data: b.daily.map((d) => d.day) }, yAxis: { type: 'value', name: 'USD / day' },
                    series: [{ type: 'bar', name: 'Spend', data: b.daily.map((d) => d.spent_micros / 1e6) }],
                  }}
                />
                <SpendSplit id={f.id} burn={b} />
                </>
              )}
            </Async>
            {f.status === 'active' && (
              <form class="inline" onSubmit={(e) => (e.preventDefault(), setAsking('freeze'))}>
                <label>Reason<input value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} maxLength={500} placeholder="e.g. covenant breach" /></label>
                <button type="submit" class="danger">Freeze…</button>
              </form>
            )}
            {f.status === 'frozen' && <button type="button" onClick={() => setAsking('unfreeze')}>Unfreeze…</button>}
            <ErrorLine error={error} />
            <Confirm
              open={asking !== null}
              title={asking === 'freeze' ? 'Freeze this facility?' : 'Unfreeze this facility?'}
              danger={asking === 'freeze'}
              confirm={asking === 'freeze' ? 'Freeze now' : 'Unfreeze'}
              onCancel={() => setAsking(null)}
              onConfirm={() => asking && act(asking)}
              body={asking === 'freeze'
                ? <p>From the moment this returns, no new request of startup {f.startup_id} may draw on {usd(f.available_micros)} of credit. Requests already running finish and settle.</p>
                : <p>The startup may draw on this facility again at once.</p>}
            />
          </>
        )}
      </Async>
    </Card>
  );
}
