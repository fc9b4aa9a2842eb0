/**
 * Upstream over node:http(s) with keep-alive pools: the provider call of the request path.
 * The headers timeout covers connecting and waiting for the response head; the body is handed over as the
 * response stream (the caller bounds its reading). Aborting `signal` destroys the socket at any point, so a
 * client that goes away stops the provider's work at once.
 */
import http from 'node:http';
import https from 'node:https';
import type { Upstream, UpstreamOpen, UpstreamRequest } from '../../gateway.js';

/** Sockets kept per provider host: bounds what one busy container holds open. */
const MAX_SOCKETS_PER_HOST = 256;
const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS_PER_HOST, keepAliveMsecs: 10_000 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS_PER_HOST, keepAliveMsecs: 10_000 }),
};

export class HttpUpstream implements Upstream {
  open(req: UpstreamRequest): Promise<UpstreamOpen> {
    return new Promise<UpstreamOpen>((resolve) => {
      let settled = false;
      const done = (v: UpstreamOpen) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(v);
      };
      let url: URL;
      try {
        url = new URL(req.base_url.replace(/\/+$/, '') + req.path);
      } catch {
        done({ ok: false, failure: 'connection', message: `invalid endpoint URL ${req.base_url}` });
        return;
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        done({ ok: false, failure: 'connection', message: `unsupported endpoint protocol ${url.protocol}` });
        return;
      }
      if (req.signal.aborted) {
        done({ ok: false, failure: 'aborted', message: 'aborted before sending' });
        return;
      }
      const mod = url.protocol === 'https:' ? https : http;
      // A string body goes out in the same write as the head (Node joins them); a Buffer costs a second buffer in a
      // writev, and each socket write is dear on some hosts (docs/bench.md).
      const body = req.body;
      const r = mod.request(url, {
        method: 'POST',
        agent: agents[url.protocol],
        headers: { ...req.headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body, 'utf8')), accept: 'application/json, text/event-stream' },
      });
      const timer = setTimeout(() => {
        done({ ok: false, failure: 'timeout', message: `no response headers within ${req.headers_timeout_ms} ms` });
        r.destroy(new Error('headers timeout'));
      }, req.headers_timeout_ms);
      const onAbort = () => {
        done({ ok: false, failure: 'aborted', message: 'the client went away' });
        r.destroy(new Error('aborted'));
      };
      req.signal.addEventListener('abort', onAbort, { once: true });
      r.on('response', (res) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        // Errors after this point surface while the caller reads the body.
        res.on('error', () => {});
        req.signal.addEventListener('abort', () => res.destroy(new Error('aborted')), { once: true });
        done({ ok: true, status: res.statusCode ?? 502, headers, body: res });
      });
      r.on('error', (err) => done({ ok: false, failure: req.signal.aborted ? 'aborted' : 'connection', message: err.message }));
      r.end(body);
    });
  }
}
