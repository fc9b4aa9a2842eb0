/**
 * A webhook receiver for API tests (SPEC §12): a node:http server that answers a planned status per delivery
 * (then 200), verifies each with the provider kit's verifyWebhook, and applies each event id once (the dedupe
 * the docs tell receivers to keep). `until` polls for what a test waits on, bounded.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { nowS } from '../../packages/core/src/clock.js';
import { verifyWebhook, type CompuxEvent } from '../../packages/provider-kit/src/index.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One delivery as received: `body` and `signature` (the x-compux-signature header) exactly, to verify again with other secrets. */
export interface Delivery { at: number; eventId: string; verified: boolean; event: CompuxEvent | null; status: number; body: string; signature: string }

/** A receiver: answers `plan` statuses in turn (then 200), verifies each delivery, applies each event id once. */
export class Receiver {
  readonly deliveries: Delivery[] = [];
  readonly applied = new Map<string, number>();
  secret = '';
  private server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const check = verifyWebhook(req.headers, body, this.secret, { nowSeconds: nowS() });
      const status = check.ok ? this.plan.shift() ?? 200 : 400;
      // The receiver's own dedupe: an event id it has applied is acknowledged and not applied again.
      if (check.ok && status === 200 && !this.applied.has(check.event.id)) this.applied.set(check.event.id, 1);
      this.deliveries.push({
        at: Date.now(), eventId: String(req.headers['x-compux-event-id']), verified: check.ok, event: check.ok ? check.event : null, status, body, signature: String(req.headers['x-compux-signature'] ?? ''),
      });
      res.writeHead(status).end();
    });
  });
  constructor(private plan: number[] = []) {}
  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks`;
  }
  stop() {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(r));
  }
}

export async function until<T>(what: string, f: () => T | Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`${what}: not met in ${ms} ms: ${JSON.stringify(v).slice(0, 300)}`);
    await sleep(50);
  }
}
