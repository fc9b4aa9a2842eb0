/**
 * Provider pages: utilization heatmap (accelerator × hour of day), fill rate against the 80 % target, SLA
 * compliance over 30 days with breaches marked, revenue by client segment and workload, the 30-day capacity
 * forecast (its method stated), statements, and onboarding with each step's result.
 */
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { Chart } from '../chart.js';
import { day, num, pct, usd, when } from '../format.js';
import { Async, Badge, Card, ErrorLine, Figures, useAction, useLoad } from '../ui.js';

interface Provider { id: string; name: string; status: string; sla_tier: string | null; steps: { step: string; result: string; at: string; detail: string }[]; accelerators: string[]; regions: string[] }
interface Utilization {
  days: number; accelerators: string[];
  heatmap: { accelerator: string; hour_of_day: number; delivered_gpu_hours: number; listed_gpu_hours: number; utilization_ppm: number | null; booked_gpu_hours: number }[];
  delivered_gpu_hours: number; listed_gpu_hours: number; fill_ppm: number | null; fill_target_ppm: number;
  daily: { day: string; delivered_gpu_hours: number; requests: number; earnings_micros: number }[];
  blocks_ahead: { listed_gpu_hours: number; booked_gpu_hours: number; fill_ppm: number | null };
  forecast: { day: string; listed_gpu_hours: number; expected_gpu_hours: number; blocks_listed_gpu_hours: number; booked_gpu_hours: number }[]; forecast_method: string;
}
interface Sla {
  tier: string; terms: { uptime_ppm: number; latency_ms_p95: number }; uptime_ppm: number | null; latency_ms_p95: number | null; meeting: boolean; judged: boolean; reasons: string[];
  daily: { day: string; samples: number; errors: number; uptime_ppm: number | null; latency_ms_p95: number | null; met: boolean | null }[];
  alerts: { kind: 'breach' | 'recovered'; at: string; reasons: string[] }[];
}
interface StatementLine { accelerator: string; segment: string; workload: string; requests: number; gpu_microseconds: number; spend_micros: number; earnings_micros: number }
interface Statement {
  period: string; due_date: string; requests: number; gpu_hours: number; tier: string; premium_bps: number; earnings_micros: number; premium_micros: number; payable_micros: number; lines: StatementLine[];
}

export function ProviderPage(p: { id: string }) {
  const [provider] = useLoad(() => api<Provider>('GET', `/v1/providers/${p.id}`), [p.id]);
  const [util] = useLoad(() => api<Utilization>('GET', `/v1/providers/${p.id}/utilization?days=30`), [p.id]);
  const [sla] = useLoad(() => api<Sla>('GET', `/v1/providers/${p.id}/sla?limit=50`), [p.id]);
  const [statements] = useLoad(() => api<{ data: Statement[] }>('GET', `/v1/providers/${p.id}/statements?limit=12`), [p.id]);
  return (
    <div class="grid">
      <Card title="Utilization, last 30 days (accelerator × hour of day, UTC)" wide id="heatmap">
        <Async value={util} empty={(u) => u.accelerators.length === 0} emptyText="No capacity listed and nothing delivered yet.">{(u) => <Heatmap u={u} />}</Async>
      </Card>
      <Card title="Fill rate against the 80 % target" id="fill">
        <Async value={util}>{(u) => <Fill u={u} />}</Async>
      </Card>
      <Card title="SLA compliance, rolling 30 days" id="sla">
        <Async value={sla}>{(s) => <SlaChart s={s} />}</Async>
      </Card>
      <Card title="Revenue by client segment and workload" wide id="revenue">
        <Async value={statements} empty={(s) => s.data.length === 0} emptyText="No statement yet: revenue appears here once a month is settled.">{(s) => <Revenue statements={s.data} />}</Async>
      </Card>
      <BookingsCard id={p.id} />
      <Card title="Capacity forecast, next 30 days" wide id="forecast">
        <Async value={util}>{(u) => <Forecast u={u} />}</Async>
      </Card>
      <Card title="Statements" wide id="statements">
        <Async value={statements} empty={(s) => s.data.length === 0} emptyText="No statement yet.">
          {(s) => (
            <div class="scroll">
              <table>
                <thead><tr><th>Month</th><th class="num">GPU-hours</th><th>Tier</th><th class="num">Earnings</th><th class="num">Premium</th><th class="num">Payable</th><th>Due</th></tr></thead>
                <tbody>{s.data.map((st) => <tr key={st.period}><td>{st.period}</td><td class="num">{num(st.gpu_hours, 1)}</td><td>{st.tier} (+{st.premium_bps / 100} %)</td><td class="num">{usd(st.earnings_micros)}</td><td class="num">{usd(st.premium_micros)}</td><td class="num"><b>{usd(st.payable_micros)}</b></td><td>{st.due_date}</td></tr>)}</tbody>
              </table>
            </div>
          )}
        </Async>
      </Card>
      <Card title="Onboarding" wide id="onboarding">
        <Async value={provider}>
          {(pr) => (
            <>
              <p>{pr.name} · <Badge value={pr.status} /> · SLA tier {pr.sla_tier ?? 'not chosen'} · {pr.accelerators.join(', ')} in {pr.regions.join(', ')}</p>
              <div class="scroll">
                <table>
                  <thead><tr><th>Step</th><th>Result</th><th>When</th><th>Detail</th></tr></thead>
                  <tbody>{pr.steps.map((s, i) => <tr key={i}><td>{s.step.replace(/_/g, ' ')}</td><td><Badge value={s.result} /></td><td>{when(s.at)}</td><td>{s.detail}</td></tr>)}</tbody>
                </table>
              </div>
            </>
          )}
        </Async>
      </Card>
    </div>
  );
}

function Heatmap(p: { u: Utilization }) {
  const hours = Array.from({ length: 24 }, (_, h) => String(h).padStart(2, '0'));
  const data = p.u.heatmap.map((c) => [c.hour_of_day, p.u.accelerators.indexOf(c.accelerator), c.utilization_ppm === null ? '-' : Math.round(c.utilization_ppm / 100) / 100]);
  // The colour scale spans what was reached (at least 10 %, at most 100 %), so a quiet month still shows its rhythm.
  const top = Math.min(100, Math.max(10, Math.ceil(Math.max(0, ...p.u.heatmap.map((c) => (c.utilization_ppm ?? 0) / 10_000)))));
  // Booked blocks: a ring on each slot with GPU-hours booked, its size by the slot's share of the most booked one.
  const mostBooked = Math.max(1, ...p.u.heatmap.map((c) => c.booked_gpu_hours));
  const booked = p.u.heatmap.filter((c) => c.booked_gpu_hours > 0).map((c) => [c.hour_of_day, p.u.accelerators.indexOf(c.accelerator), c.booked_gpu_hours]);
  type Cell = { seriesName: string; value: [number, number, number | string] };
  return (
    <>
      <Chart
        label="Utilization heatmap: accelerator by hour of day"
        option={{
          tooltip: {
            position: 'top',
            formatter: (x: Cell) => `${p.u.accelerators[x.value[1]]} ${hours[x.value[0]]}:00 — ${x.seriesName === 'Booked blocks' ? `${x.value[2]} GPU-h booked on blocks` : `${x.value[2]} % of listed`}`,
          },
          grid: { left: 56, right: 16, top: 8, bottom: 96 },
          xAxis: { type: 'category', data: hours, name: 'hour (UTC)', nameLocation: 'middle', nameGap: 28, splitArea: { show: true } },
          yAxis: { type: 'category', data: p.u.accelerators, splitArea: { show: true } },
          visualMap: { min: 0, max: top, calculable: true, orient: 'horizontal', left: 'center', bottom: 0, itemHeight: 160, text: [`${top} %`, '0 %'], inRange: { color: ['#eef2ff', '#6f8cff', '#1b2fa0'] } },
          series: [
            { type: 'heatmap', name: 'Utilization %', data, label: { show: false }, emphasis: { itemStyle: { borderColor: '#000', borderWidth: 1 } } },
            { type: 'scatter', name: 'Booked blocks', data: booked, symbol: 'emptyCircle', symbolSize: (v: [number, number, number]) => 6 + Math.round((v[2] / mostBooked) * 12), itemStyle: { color: '#b26a00' } },
          ],
        }}
      />
      <p class="muted">
        Delivered ÷ listed GPU-hours in each hour of the day over 30 days. Listed: the last capacity report's monthly GPU-hours ÷ 720.
        Rings: GPU-hours booked on your capacity blocks in that hour ({booked.length === 0 ? 'none in these 30 days' : `${num(p.u.heatmap.reduce((s, c) => s + c.booked_gpu_hours, 0), 0)} GPU-h`}; billed ones count as delivered).
      </p>
    </>
  );
}

function Fill(p: { u: Utilization }) {
  // Listed GPU-hours a day (all accelerators) and the target's share of it.
  const target = Math.round((p.u.listed_gpu_hours / p.u.days) * (p.u.fill_target_ppm / 1e6) * 1000) / 1000;
  return (
    <>
      <Figures items={[['Fill rate', pct(p.u.fill_ppm)], ['Target', pct(p.u.fill_target_ppm, 0)], ['Delivered', `${num(p.u.delivered_gpu_hours, 1)} GPU-h`], ['Listed', `${num(p.u.listed_gpu_hours, 1)} GPU-h`]]} />
      <Figures items={[['Blocks booked ahead', pct(p.u.blocks_ahead.fill_ppm)], ['Booked', `${num(p.u.blocks_ahead.booked_gpu_hours, 0)} GPU-h`], ['Listed as blocks', `${num(p.u.blocks_ahead.listed_gpu_hours, 0)} GPU-h`]]} />
      <Chart
        label="Delivered GPU-hours a day against 80 % of listed"
        option={{
          tooltip: { trigger: 'axis' }, grid: { left: 56, right: 16, top: 24, bottom: 40 },
          xAxis: { type: 'category', data: p.u.daily.map((d) => d.day) }, yAxis: { type: 'value', name: 'GPU-h / day', max: (v: { max: number }) => Math.ceil(Math.max(v.max, target) * 1.1) },
          series: [{
            type: 'bar', name: 'Delivered', data: p.u.daily.map((d) => d.delivered_gpu_hours),
            markLine: { symbol: 'none', data: [{ yAxis: target, name: '80 % of listed' }], label: { formatter: '80 % target', position: 'insideEndTop' }, lineStyle: { color: '#b26a00', type: 'dashed' } },
          }],
        }}
      />
    </>
  );
}

function SlaChart(p: { s: Sla }) {
  const breaches = p.s.daily.filter((d) => d.met === false);
  return (
    <>
      <Figures items={[['Tier', p.s.tier], ['Uptime', pct(p.s.uptime_ppm, 3)], ['p95 TTFT', p.s.latency_ms_p95 === null ? '—' : `< ${p.s.latency_ms_p95} ms`], ['Standing', p.s.judged ? (p.s.meeting ? 'meeting' : 'breaching') : 'too few samples']]} />
      <Chart
        label="Daily uptime over 30 days with the tier's line; days that missed it are marked"
        option={{
          tooltip: { trigger: 'axis' }, grid: { left: 64, right: 24, top: 24, bottom: 40 },
          xAxis: { type: 'category', data: p.s.daily.map((d) => d.day) },
          yAxis: { type: 'value', name: 'uptime %', min: (v: { min: number }) => Math.min(99, Math.floor(v.min)), max: 100 },
          series: [{
            type: 'line', name: 'Uptime %', data: p.s.daily.map((d) => (d.uptime_ppm === null ? null : d.uptime_ppm / 10_000)), connectNulls: true,
            markLine: { symbol: 'none', data: [{ yAxis: p.s.terms.uptime_ppm / 10_000 }], label: { formatter: `${p.s.tier} ${p.s.terms.uptime_ppm / 10_000} %`, position: 'insideStartBottom' }, lineStyle: { type: 'dashed', color: '#b26a00' } },
            markPoint: { symbol: 'pin', itemStyle: { color: '#c62828' }, data: breaches.map((d) => ({ coord: [d.day, (d.uptime_ppm ?? 0) / 10_000], name: 'missed' })) },
          }],
        }}
      />
      {p.s.alerts.length > 0 ? (
        <ul aria-label="SLA alerts">{p.s.alerts.map((a, i) => <li key={i}><Badge value={a.kind} /> {when(a.at)} {a.reasons.join('; ')}</li>)}</ul>
      ) : <p class="muted">No breach alert in the window.</p>}
    </>
  );
}

function Revenue(p: { statements: Statement[] }) {
  const [period, setPeriod] = useState(p.statements[0]!.period);
  const st = p.statements.find((s) => s.period === period) ?? p.statements[0]!;
  const segments = [...new Set(st.lines.map((l) => l.segment))].sort();
  const workloads = ['chat', 'completion', 'embedding', 'reserved'];
  return (
    <>
      <label style="max-width:12rem">Month
        <select value={period} onChange={(e) => setPeriod((e.target as HTMLSelectElement).value)}>{p.statements.map((s) => <option key={s.period}>{s.period}</option>)}</select>
      </label>
      {st.lines.length === 0 ? <p class="state">Nothing was delivered in {st.period}.</p> : (
        <Chart
          label={`Base earnings by client segment and workload, ${st.period}`}
          option={{
            tooltip: { trigger: 'axis' }, legend: { top: 0 }, grid: { left: 72, right: 16, top: 32, bottom: 40 },
            xAxis: { type: 'category', data: segments }, yAxis: { type: 'value', name: 'USD' },
            series: workloads.map((w) => ({ type: 'bar', stack: 'earnings', name: w, data: segments.map((s) => st.lines.filter((l) => l.segment === s && l.workload === w).reduce((n, l) => n + l.earnings_micros, 0) / 1e6) })),
          }}
        />
      )}
      <div class="scroll">
        <table>
          <thead><tr><th>Accelerator</th><th>Segment</th><th>Workload</th><th class="num">Requests</th><th class="num">GPU-hours</th><th class="num">Earnings</th></tr></thead>
          <tbody>{st.lines.map((l, i) => <tr key={i}><td>{l.accelerator}</td><td>{l.segment}</td><td>{l.workload}</td><td class="num">{num(l.requests)}</td><td class="num">{num(l.gpu_microseconds / 3.6e9, 3)}</td><td class="num">{usd(l.earnings_micros)}</td></tr>)}</tbody>
        </table>
      </div>
      <p class="muted">Base earnings (85 % of spot) by line; the tier's premium of {usd(st.premium_micros)} is on the month as a whole. Payable {usd(st.payable_micros)}, due {day(st.due_date)}.</p>
    </>
  );
}

function Forecast(p: { u: Utilization }) {
  return (
    <>
      <Chart
        label="Capacity forecast: listed and expected GPU-hours a day for the next 30 days, with the blocks listed and booked"
        option={{
          tooltip: { trigger: 'axis' }, legend: { top: 0 }, grid: { left: 56, right: 16, top: 32, bottom: 40 },
          xAxis: { type: 'category', data: p.u.forecast.map((d) => d.day) }, yAxis: { type: 'value', name: 'GPU-h / day' },
          series: [
            { type: 'line', name: 'Listed capacity', step: 'middle', data: p.u.forecast.map((d) => d.listed_gpu_hours) },
            { type: 'line', name: 'Expected demand', data: p.u.forecast.map((d) => d.expected_gpu_hours), lineStyle: { type: 'dashed' } },
            { type: 'line', name: 'Listed blocks', step: 'middle', data: p.u.forecast.map((d) => d.blocks_listed_gpu_hours), lineStyle: { type: 'dotted' } },
            { type: 'bar', name: 'Booked on blocks', data: p.u.forecast.map((d) => d.booked_gpu_hours), itemStyle: { color: '#b26a00' } },
          ],
        }}
      />
      <p class="muted"><b>Method:</b> {p.u.forecast_method}</p>
    </>
  );
}

interface ProviderBooking {
  id: string; status: string; accelerator: string; region: string; gpus: number; hours: number; start: string;
  total_micros: number; accept_by: string; billed_hours?: number;
}

/** Bookings of the provider's blocks (SPEC §11): a pending one is accepted with its access details, or declined. */
function BookingsCard(p: { id: string }) {
  const [bookings, reload] = useLoad(() => api<{ data: ProviderBooking[] }>('GET', `/v1/providers/${p.id}/bookings?limit=50`), [p.id]);
  const [endpoint, setEndpoint] = useState('');
  const { error, busy, run } = useAction();
  const act = (b: ProviderBooking, action: 'accept' | 'decline') =>
    run(async () => {
      await api('POST', `/v1/providers/${p.id}/bookings/${b.id}/${action}`, action === 'accept' ? { access: { endpoint: endpoint.trim() } } : {});
      reload();
    });
  return (
    <Card title="Capacity bookings" wide id="bookings">
      <label style="max-width:24rem">Access endpoint for an acceptance (host, SSH target or URL)
        <input value={endpoint} onInput={(e) => setEndpoint((e.target as HTMLInputElement).value)} maxLength={512} autocomplete="off" />
      </label>
      <ErrorLine error={error} />
      <Async value={bookings} empty={(b) => b.data.length === 0} emptyText="No bookings of your blocks yet.">
        {(b) => (
          <div class="scroll">
            <table aria-label="Bookings of your capacity">
              <thead><tr><th>Booking</th><th>State</th><th>GPUs</th><th>Start</th><th class="num">Hours billed</th><th class="num">Total</th><th>Answer by</th><th /></tr></thead>
              <tbody>
                {b.data.map((x) => (
                  <tr key={x.id}>
                    <td>{x.id}</td><td><Badge value={x.status} /></td><td>{x.gpus} × {x.accelerator}, {x.region}</td><td>{when(x.start)}</td>
                    <td class="num">{x.billed_hours ?? 0} of {x.hours}</td><td class="num">{usd(x.total_micros)}</td><td>{x.status === 'pending' ? when(x.accept_by) : '—'}</td>
                    <td>
                      {x.status === 'pending' && (
                        <>
                          <button type="button" disabled={busy || endpoint.trim() === ''} onClick={() => void act(x, 'accept')} aria-label={`Accept ${x.id}`}>Accept</button>{' '}
                          <button type="button" class="secondary" disabled={busy} onClick={() => void act(x, 'decline')} aria-label={`Decline ${x.id}`}>Decline</button>
                        </>
                      )}
                    </td>
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
