/**
 * Offline: the Webhooks service over in-memory ports (a store that keeps the adapter's conditions, a queue that
 * records jobs, a sender that answers as told). What it proves: emitting the same happening twice is one event
 * with one set of jobs; a failed enqueue leaves the event for the sweeper, which dispatches it; two copies of one
 * job never fork the retry chain (only the copy whose save lands queues the next attempt); a stale or finished
 * job does nothing; a deleted endpoint ends its delivery as failed; a rolled secret signs with the old one as well
 * during its overlap (two v1 entries, either verifies), then alone.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_BACKOFF, Webhooks, type AttemptOutcome, type DeliveryJob, type DeliveryState, type RollSecretResult, type SigningSecrets, type StoredEvent, type WebhookEndpoint, type WebhookStore,
} from '../../packages/core/src/index.js';
import { verifyWebhook } from '../../packages/provider-kit/src/index.js';

class MemoryStore implements WebhookStore {
  endpoints = new Map<string, WebhookEndpoint>();
  events = new Map<string, StoredEvent>();
  async createEndpoint(e: WebhookEndpoint, max: number) {
    if ([...this.endpoints.values()].filter((x) => x.tenant.id === e.tenant.id).length >= max) return { ok: false as const, code: 'too_many_endpoints' as const };
    this.endpoints.set(e.id, e);
    return { ok: true as const };
  }
  async listEndpoints(t: string) { return [...this.endpoints.values()].filter((e) => e.tenant.id === t); }
  async getEndpoint(t: string, id: string) { const e = this.endpoints.get(id); return e?.tenant.id === t ? e : null; }
  async deleteEndpoint(t: string, id: string) { const e = await this.getEndpoint(t, id); if (e) this.endpoints.delete(id); return e; }
  async updateSecrets(t: string, id: string, decide: (cur: SigningSecrets) => RollSecretResult) {
    const e = await this.getEndpoint(t, id);
    if (!e) return { ok: false as const, code: 'not_found' as const };
    const r = decide(e);
    if (!r.ok) return r;
    const next = { ...e, ...r.secrets };
    this.endpoints.set(id, next);
    return { ok: true as const, endpoint: next };
  }
  async putEvent(e: StoredEvent) {
    const existing = this.events.get(e.id);
    if (existing) return { created: false as const, existing: structuredClone(existing) };
    this.events.set(e.id, structuredClone(e));
    return { created: true as const };
  }
  async getEvent(t: string, id: string) { const e = this.events.get(id); return e?.tenant.id === t ? structuredClone(e) : null; }
  async listEvents(t: string) { return { items: [...this.events.values()].filter((e) => e.tenant.id === t), cursor: null }; }
  async markDispatched(e: StoredEvent, token: string) { const s = this.events.get(e.id)!; if (s.dispatch_token === token) s.dispatch_token = null; }
  async undispatched() { return [...this.events.values()].filter((e) => e.dispatch_token).map((e) => structuredClone(e)); }
  async saveDelivery(e: StoredEvent, d: DeliveryState, expect: { round: number; attempts: number }, token: string | null) {
    const s = this.events.get(e.id)!;
    const cur = s.deliveries[d.endpoint_id];
    if (!cur || cur.round !== expect.round || cur.attempts !== expect.attempts) return false;
    s.deliveries[d.endpoint_id] = d;
    if (token) s.dispatch_token = token;
    return true;
  }
  async startRound(e: StoredEvent, deliveries: Record<string, DeliveryState>, token: string) {
    const s = this.events.get(e.id)!;
    Object.assign(s, { deliveries, dispatch_token: token });
    return structuredClone(s);
  }
}

let now = Date.parse('2026-12-07T12:00:00.000Z');
let store: MemoryStore;
let queued: DeliveryJob[];
let queueFails: boolean;
let answers: AttemptOutcome[];
let posts: number;
/** What each attempt sent: the signed body and its headers. */
let sent: { body: string; headers: Record<string, string> }[];
let w: Webhooks;
const lender = { role: 'lender', id: 'len_A' } as const;

beforeEach(() => {
  store = new MemoryStore();
  queued = [];
  queueFails = false;
  answers = [];
  posts = 0;
  sent = [];
  w = new Webhooks(
    store,
    { enqueue: async (jobs) => { if (queueFails) throw new Error('queue down'); queued.push(...jobs); } },
    { post: async (_url, body, headers) => { posts++; sent.push({ body, headers }); return answers.shift() ?? { status_code: 200, error: null }; } },
    { policy: { allow_local: true }, lookup: async () => [], backoff: DEFAULT_BACKOFF, now: () => now, sweep_grace_ms: 0 },
  );
});

async function endpoint() {
  const r = await w.createEndpoint(lender, 'http://127.0.0.1:9/h', ['facility.frozen']);
  if (!r.ok) throw new Error(r.code);
  return r.endpoint;
}

describe('the Webhooks service', () => {
  it('emitting the same happening twice is one event with one job', async () => {
    await endpoint();
    const a = await w.emit('facility.frozen', lender, ['fac_1', 'frozen:t1'], { facility_id: 'fac_1' });
    const b = await w.emit('facility.frozen', lender, ['fac_1', 'frozen:t1'], { facility_id: 'fac_1' });
    expect(a.ok && b.ok && a.event.id === b.event.id).toBe(true);
    expect(store.events.size).toBe(1);
    expect(queued).toHaveLength(1);
    expect([...store.events.values()][0]!.dispatch_token).toBeNull();
  });

  it('a failed enqueue leaves the event marked; the sweeper dispatches it', async () => {
    await endpoint();
    queueFails = true;
    const r = await w.emit('facility.frozen', lender, ['fac_1', 'frozen:t2'], {});
    queueFails = false;
    expect(r.ok).toBe(true);
    expect(queued).toHaveLength(0);
    expect(await w.sweep()).toEqual({ dispatched: 1, failed: 0 });
    expect(queued).toHaveLength(1);
    expect(await w.sweep()).toEqual({ dispatched: 0, failed: 0 });
  });

  it('two copies of one job: one attempt chain, never two', async () => {
    await endpoint();
    await w.emit('facility.frozen', lender, ['fac_1', 'frozen:t3'], {});
    const job = queued.shift()!;
    answers = [{ status_code: 500, error: null }, { status_code: 500, error: null }];
    // Both copies attempt (at least once), but only the first save lands and queues attempt 2.
    const [first, second] = await Promise.all([w.handle(job), w.handle(job)]);
    expect([first, second].sort()).toEqual(['dropped', 'retrying']);
    expect(queued).toHaveLength(1);
    expect(queued[0]).toMatchObject({ attempt: 2, not_before: new Date(now + 60_000).toISOString() });
    // A late copy of attempt 1 finds attempt 1 done: nothing is sent.
    const before = posts;
    expect(await w.handle(job)).toBe('dropped');
    expect(posts).toBe(before);
  });

  it('a job before its time hops again; a finished delivery ignores every later job', async () => {
    await endpoint();
    await w.emit('facility.frozen', lender, ['fac_1', 'frozen:t4'], {});
    answers = [{ status_code: 503, error: null }];
    expect(await w.handle(queued.shift()!)).toBe('retrying');
    const next = queued.shift()!;
    expect(await w.handle(next)).toBe('waited');
    expect(queued.shift()).toEqual(next);
    now += 60_000;
    expect(await w.handle(next)).toBe('succeeded');
    expect(await w.handle({ ...next, attempt: 3 })).toBe('dropped');
  });

  it('a deleted endpoint ends its delivery as failed; redelivery skips it', async () => {
    const e = await endpoint();
    const r = await w.emit('facility.frozen', lender, ['fac_1', 'frozen:t5'], {});
    await w.deleteEndpoint(lender.id, e.id);
    expect(await w.handle(queued.shift()!)).toBe('failed');
    expect(store.events.get(r.ok ? r.event.id : '')!.deliveries[e.id]).toMatchObject({ status: 'failed', last_error: 'endpoint_deleted' });
    expect(await w.redeliver(lender.id, r.ok ? r.event.id : '')).toEqual({ ok: false, code: 'no_endpoints' });
    expect(await w.redeliver('len_other', r.ok ? r.event.id : '')).toEqual({ ok: false, code: 'not_found' });
  });

  it("a rolled secret: during the overlap each delivery is signed by both secrets (either verifies), after it by the new one only", async () => {
    // Prepare
    const e = await endpoint();
    const old = e.secret;
    const rolled = await w.rollEndpointSecret(lender.id, e.id, 60);
    const fresh = rolled.ok ? rolled.endpoint.secret : '';
    // Act: a delivery within the overlap, then one a second after it ends.
    await w.emit('facility.frozen', lender, ['fac_1', 'frozen:r1'], {});
    await w.handle(queued.shift()!);
    now += 61_000;
    await w.emit('facility.frozen', lender, ['fac_1', 'frozen:r2'], {});
    await w.handle(queued.shift()!);
    // Assess
    const verify = (i: number, secret: string) => verifyWebhook(sent[i]!.headers, sent[i]!.body, secret, { nowSeconds: Math.floor(now / 1000) }).ok;
    expect(rolled).toMatchObject({ ok: true, endpoint: { previous_secret: old, previous_secret_expires_at: new Date(now - 61_000 + 60_000).toISOString() } });
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(old);
    expect(sent[0]!.headers['x-compux-signature']!.match(/v1=/g)).toHaveLength(2);
    expect([verify(0, old), verify(0, fresh)]).toEqual([true, true]);
    expect(sent[1]!.headers['x-compux-signature']!.match(/v1=/g)).toHaveLength(1);
    expect([verify(1, old), verify(1, fresh)]).toEqual([false, true]);
  });

  it('a roll during an overlap is refused unless it keeps no overlap; another tenant cannot roll', async () => {
    // Prepare
    const e = await endpoint();
    await w.rollEndpointSecret(lender.id, e.id, 3_600);
    // Act
    const again = await w.rollEndpointSecret(lender.id, e.id, 3_600);
    const emergency = await w.rollEndpointSecret(lender.id, e.id, 0);
    const other = await w.rollEndpointSecret('len_other', e.id, 60);
    // Assess
    expect(again).toEqual({ ok: false, code: 'rotation_in_progress' });
    expect(emergency).toMatchObject({ ok: true, endpoint: { previous_secret: null, previous_secret_expires_at: null } });
    expect(other).toEqual({ ok: false, code: 'not_found' });
  });
});
