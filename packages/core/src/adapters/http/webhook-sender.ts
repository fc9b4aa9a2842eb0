/**
 * Sends one webhook delivery over node:http(s): one POST, no redirects followed (a 3xx is a failed attempt, as
 * at Stripe), the whole exchange bounded by `timeout_ms`, at most MAX_RESPONSE_BYTES of the reply read (only
 * the status matters). No keep-alive: receivers are many and rarely called twice in a row.
 *
 * Outside the local runtime every address the name resolves to is checked at connect time (checkedLookup):
 * the connection uses exactly the addresses checked, so DNS that answers a public address when the endpoint is
 * registered and 127.0.0.1 when it is called (rebinding) is refused. Literal IPs never reach a lookup, so the
 * URL is checked again here as well.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { AttemptOutcome } from '../../webhooks/delivery.js';
import type { WebhookSender } from '../../webhooks/service.js';
import { isNonPublicAddress, parseWebhookUrl, type UrlPolicy } from '../../webhooks/url.js';

const MAX_RESPONSE_BYTES = 64 * 1024;
/** Largest body sent: an event's data is bounded well under this (MAX_EVENT_DATA_BYTES). */
const MAX_REQUEST_BYTES = 256 * 1024;

/** dns.lookup that fails when any address is non-public (an error the attempt reports as `private_address`). */
export const checkedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...(options as object), all: true } as LookupAllOptions, (err, addresses: LookupAddress[]) => {
    if (err) return callback(err, '', 0);
    const bad = addresses.find((a) => isNonPublicAddress(a.address));
    if (bad || addresses.length === 0) return callback(Object.assign(new Error('private_address'), { code: 'EPRIVATE' }), '', 0);
    if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    return callback(null, addresses[0]!.address, addresses[0]!.family);
  });
};

export class HttpWebhookSender implements WebhookSender {
  constructor(private readonly policy: UrlPolicy) {}

  post(raw: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<AttemptOutcome> {
    const parsed = parseWebhookUrl(raw, this.policy);
    if (!parsed.ok) return Promise.resolve({ status_code: null, error: parsed.code });
    if (Buffer.byteLength(body) > MAX_REQUEST_BYTES) return Promise.resolve({ status_code: null, error: 'body_too_large' });
    const url = parsed.url;
    const client = url.protocol === 'https:' ? https : http;
    return new Promise<AttemptOutcome>((resolve) => {
      let settled = false;
      const done = (o: AttemptOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        resolve(o);
      };
      const req = client.request(url, {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        agent: false,
        ...(this.policy.allow_local ? {} : { lookup: checkedLookup }),
      });
      const timer = setTimeout(() => done({ status_code: null, error: 'timeout' }), timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => done({ status_code: null, error: err.message === 'private_address' ? 'private_address' : (err.code ?? err.message).slice(0, 100) }));
      req.on('response', (res) => {
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_RESPONSE_BYTES) done({ status_code: res.statusCode ?? null, error: null });
        });
        res.on('end', () => done({ status_code: res.statusCode ?? null, error: null }));
        res.on('error', () => done({ status_code: res.statusCode ?? null, error: null }));
      });
      req.end(body);
    });
  }
}
