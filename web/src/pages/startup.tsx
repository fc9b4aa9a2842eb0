/** Startup pages: credits by facility, burn, usage by model and provider, capacity bookings, and key management. */
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { Chart } from '../chart.js';
import { day, num, usd, when } from '../format.js';
import { Async, Badge, Card, Confirm, ErrorLine, Figures, useAction, useLoad } from '../ui.js';

interface Credits {
  granted_micros: number; spent_micros: number; reserved_micros: number; available_micros: number; frozen_micros: number;
  facilities: { id: string; status: string; term_end: string; granted_micros: number; spent_micros: number; reserved_micros: number; available_micros: number; frozen_micros: number; burn_24h_micros: number; burn_7d_micros: number }[];
}
interface UsageGroup { group: string; requests: number; errors: number; prompt_tokens: number; completion_tokens: number; gpu_microseconds: number; cost_micros: number }
interface Usage { data: UsageGroup[]; total: UsageGroup }
interface Booking {
  id: string; status: string; accelerator: string; region: string; gpus: number; hours: number; start: string; end: string;
  price_micros_per_gpu_hour: number; total_micros: number; billed_hours?: number; interruption?: string | null;
}
interface Key { id: string; name: string; budget_micros: number | null; budget_period?: string | null; budget_left_micros?: number | null; models: string[] | null; rpm: number | null; tpm: number | null; created_at: string; revoked_at: string | null }

// No `from`: the server's default is the last 30 days by ITS clock (COMPUX_NOW may shift it; the browser's may differ).
function usage(groupBy: string) {
  return api<Usage>('GET', `/v1/usage?group_by=${groupBy}`);
}

export function StartupPage() {
  const [credits] = useLoad(() => api<Credits>('GET', '/v1/credits'), []);
  const [byDay] = useLoad(() => usage('day'), []);
  const [byModel] = useLoad(() => usage('model'), []);
  const [byProvider] = useLoad(() => usage('provider'), []);
  return (
    <div class="grid">
      <Card title="Credits" wide id="credits">
        <Async value={credits}>
          {(c) => (
            <>
              <Figures items={[['Granted', usd(c.granted_micros)], ['Spent', usd(c.spent_micros)], ['Reserved', usd(c.reserved_micros)], ['Available', usd(c.available_micros)], ['Frozen', usd(c.frozen_micros)]]} />
              <div class="scroll">
                <table>
                  <caption class="muted" style="text-align:left">By facility, in draw order (earliest term end first)</caption>
                  <thead><tr><th>Facility</th><th>Status</th><th>Term end</th><th class="num">Available</th><th class="num">Spent</th><th class="num">Burn 24 h</th><th class="num">Burn 7 d</th></tr></thead>
                  <tbody>
                    {c.facilities.map((f) => (
                      <tr key={f.id}><td>{f.id}</td><td><Badge value={f.status} /></td><td>{day(f.term_end)}</td><td class="num">{usd(f.available_micros)}</td><td class="num">{usd(f.spent_micros)}</td><td class="num">{usd(f.burn_24h_micros)}</td><td class="num">{usd(f.burn_7d_micros)}</td></tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </>
          )}
        </Async>
      </Card>
      <Card title="Burn, last 30 days" wide id="burn">
        <Async value={byDay} empty={(u) => u.data.length === 0} emptyText="No spend in the last 30 days.">
          {(u) => (
            <Chart
              label="Daily spend, last 30 days"
              option={{
                tooltip: { trigger: 'axis' },
                grid: { left: 72, right: 16, top: 16, bottom: 40 },
                xAxis: { type: 'category', data: u.data.map((g) => g.group) },
                yAxis: { type: 'value', splitNumber: 4, axisLabel: { formatter: (v: number) => usd(v * 1e6) } },
                series: [{ type: 'bar', name: 'Spend', data: u.data.map((g) => g.cost_micros / 1e6) }],
              }}
            />
          )}
        </Async>
      </Card>
      <UsageCard title="Usage by model" value={byModel} />
      <UsageCard title="Usage by provider" value={byProvider} />
      <BookingsCard />
      <KeysCard />
    </div>
  );
}

function UsageCard(p: { title: string; value: ReturnType<typeof useLoad<Usage>>[0] }) {
  return (
    <Card title={`${p.title}, last 30 days`}>
      <Async value={p.value} empty={(u) => u.data.length === 0} emptyText="No requests in the last 30 days.">
        {(u) => (
          <>
            <Chart label={p.title} option={{ tooltip: { trigger: 'item' }, grid: { left: 140, right: 16, top: 8, bottom: 24 }, xAxis: { type: 'value', splitNumber: 3, axisLabel: { formatter: (v: number) => usd(v * 1e6) } }, yAxis: { type: 'category', data: u.data.map((g) => g.group), axisLabel: { width: 130, overflow: 'truncate' } }, series: [{ type: 'bar', name: 'USD', data: u.data.map((g) => g.cost_micros / 1e6) }] }} />
            <div class="scroll">
              <table>
                <thead><tr><th>{p.title.split(' ').pop()}</th><th class="num">Requests</th><th class="num">Tokens</th><th class="num">Cost</th></tr></thead>
                <tbody>{u.data.map((g) => <tr key={g.group}><td>{g.group}</td><td class="num">{num(g.requests)}</td><td class="num">{num(g.prompt_tokens + g.completion_tokens)}</td><td class="num">{usd(g.cost_micros)}</td></tr>)}</tbody>
              </table>
            </div>
          </>
        )}
      </Async>
    </Card>
  );
}

/** The startup's capacity bookings (SPEC §11): state, GPUs and hours, and what each costs and has billed so far. */
function BookingsCard() {
  const [bookings] = useLoad(() => api<{ data: Booking[] }>('GET', '/v1/bookings?limit=50'), []);
  return (
    <Card title="Capacity bookings" wide id="bookings">
      <Async value={bookings} empty={(b) => b.data.length === 0} emptyText="No bookings yet: quote blocks of GPU-hours with POST /v1/capacity/quotes.">
        {(b) => (
          <div class="scroll">
            <table aria-label="Capacity bookings">
              <thead><tr><th>Booking</th><th>State</th><th>GPUs</th><th>Start</th><th class="num">Hours billed</th><th class="num">Price / GPU-hour</th><th class="num">Total</th><th class="num">Billed</th></tr></thead>
              <tbody>
                {b.data.map((x) => (
                  <tr key={x.id}>
                    <td>{x.id}</td><td><Badge value={x.status} />{x.interruption && <span class="muted"> {x.interruption}</span>}</td>
                    <td>{x.gpus} × {x.accelerator}, {x.region}</td><td>{when(x.start)}</td>
                    <td class="num">{x.billed_hours ?? 0} of {x.hours}</td><td class="num">{usd(x.price_micros_per_gpu_hour)}</td><td class="num">{usd(x.total_micros)}</td>
                    <td class="num">{usd((x.billed_hours ?? 0) * x.gpus * x.price_micros_per_gpu_hour)}</td>
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

function KeysCard() {
  const [keys, reload] = useLoad(() => api<{ data: Key[] }>('GET', '/v1/keys?limit=100'), []);
  const [created, setCreated] = useState<{ key: string; name: string } | null>(null);
  const { error, busy, run } = useAction();
  const [revoking, setRevoking] = useState<Key | null>(null);

  function create(e: Event) {
    e.preventDefault();
    // currentTarget is gone once the handler awaits: keep the form.
    const form = e.currentTarget as HTMLFormElement;
    const f = new FormData(form);
    const body: Record<string, unknown> = { name: String(f.get('name') ?? '').trim() };
    const budget = String(f.get('budget') ?? '').trim();
    if (budget) body.budget_micros = Math.round(Number(budget) * 1e6);
    const models = String(f.get('models') ?? '').split(',').map((m) => m.trim()).filter(Boolean);
    if (models.length) body.models = models;
    for (const k of ['rpm', 'tpm'] as const) {
      const v = String(f.get(k) ?? '').trim();
      if (v) body[k] = Number(v);
    }
    void run(async () => {
      const k = await api<{ key: string; name: string }>('POST', '/v1/keys', body);
      setCreated({ key: k.key, name: k.name });
      form.reset();
      reload();
    });
  }

  function revoke(k: Key) {
    setRevoking(null);
    void run(async () => {
      await api('DELETE', `/v1/keys/${k.id}`);
      reload();
    });
  }

  return (
    <Card title="API keys" wide id="keys">
      <form class="inline" onSubmit={create} aria-label="Create a key">
        <label>Name<input name="name" required maxLength={100} autocomplete="off" /></label>
        <label>Budget (USD)<input name="budget" type="number" min="0" step="0.01" inputMode="decimal" /></label>
        <label>Allowed models (comma-separated)<input name="models" autocomplete="off" /></label>
        <label>RPM<input name="rpm" type="number" min="1" max="100000" /></label>
        <label>TPM<input name="tpm" type="number" min="1" max="100000000" /></label>
        <button type="submit" disabled={busy}>Create key</button>
      </form>
      <ErrorLine error={error} />
      {created && (
        <div role="status" style="margin:.75rem 0">
          <p>New key <b>{created.name}</b>. Copy it now: it is shown once and never again.</p>
          <p class="secret" data-testid="new-key">{created.key}</p>
          <button type="button" class="secondary" onClick={() => setCreated(null)}>I have copied it</button>
        </div>
      )}
      <Async value={keys} empty={(k) => k.data.length === 0} emptyText="No keys yet.">
        {(k) => (
          <div class="scroll">
            <table>
              <thead><tr><th>Name</th><th>Id</th><th class="num">Budget left</th><th>Models</th><th class="num">RPM</th><th class="num">TPM</th><th>Created</th><th /></tr></thead>
              <tbody>
                {k.data.map((key) => (
                  <tr key={key.id}>
                    <td>{key.name}</td><td>{key.id}</td>
                    <td class="num">{key.budget_micros === null ? 'no budget' : key.budget_left_micros === undefined ? usd(key.budget_micros) : `${usd(key.budget_left_micros)} of ${usd(key.budget_micros)}`}{key.budget_period ? ` ${key.budget_period}` : ''}</td>
                    <td>{key.models?.join(', ') ?? 'all'}</td><td class="num">{key.rpm ?? '—'}</td><td class="num">{key.tpm ?? '—'}</td><td>{when(key.created_at)}</td>
                    <td>{key.revoked_at ? <Badge value="revoked" /> : <button type="button" class="secondary" onClick={() => setRevoking(key)} aria-label={`Revoke ${key.name}`}>Revoke</button>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Async>
      <Confirm open={revoking !== null} title="Revoke this key?" danger confirm="Revoke" onCancel={() => setRevoking(null)} onConfirm={() => revoking && revoke(revoking)}
        body={<p>Requests with <b>{revoking?.name}</b> fail from now on. This cannot be undone.</p>} />
    </Card>
  );
}
