/**
 * CORS, the one policy: rows with `cors: true` in infra/routes.ts (the OpenAI-compatible inference and model
 * routes) may be called by a page on another origin. Read by stacks/Api.ts (the OPTIONS mocks and API Gateway's
 * own 4XX/5XX replies), local/cors.ts (the same preflights and the runtime's own errors) and
 * functions/lib/reply.ts (the handlers' real replies: behind a Lambda proxy integration a reply carries only the
 * headers its handler set, on AWS as locally, so the handler adds them).
 *
 * Origin policy: any origin (`*`), never credentials. A key travels as a bearer token, never as a cookie, so a
 * page on another origin can do nothing with our API that a script holding the key could not do anyway; OpenAI's
 * and OpenRouter's APIs answer `*` for the same reason. Keeping a key out of a public page is its owner's
 * business (the openai client makes a browser caller opt in with `dangerouslyAllowBrowser`).
 */
import type { RouteDef } from './routes.js';

export const CORS_ALLOW_ORIGIN = '*';

/**
 * Request headers a cross-origin caller may send (the preflight's Access-Control-Allow-Headers). Names, not `*`:
 * `*` never covers Authorization. Beyond ours (authorization, content-type, idempotency-key), every header the
 * official openai JS client (7.x: client.js buildHeaders, internal/detect-platform.js, the beta and polling
 * helpers) sends from a browser; `accept` is CORS-safelisted and user-agent is not sent from a browser.
 */
export const CORS_ALLOW_HEADERS: readonly string[] = [
  'authorization',
  'content-type',
  'idempotency-key',
  'openai-beta',
  'openai-organization',
  'openai-project',
  'x-stainless-arch',
  'x-stainless-custom-poll-interval',
  'x-stainless-helper-method',
  'x-stainless-lang',
  'x-stainless-os',
  'x-stainless-package-version',
  'x-stainless-poll-helper',
  'x-stainless-retry-count',
  'x-stainless-runtime',
  'x-stainless-runtime-version',
  'x-stainless-timeout',
];

/** How long a browser may reuse a preflight's answer. Chromium caps it at 2 h, Firefox at 24 h. */
export const CORS_MAX_AGE_SECONDS = 3600;

/**
 * Response headers every script may read without being exposed (the Fetch standard's CORS-safelisted response
 * header names), and those that describe the transfer rather than the reply: neither is listed in
 * Access-Control-Expose-Headers.
 */
const NEVER_EXPOSED = new Set([
  'cache-control', 'content-language', 'content-length', 'content-type', 'expires', 'last-modified', 'pragma',
  'connection', 'content-encoding', 'transfer-encoding', 'vary',
]);

/** What API Gateway's own 4XX/5XX replies (and the local runtime's own errors) carry once any row has `cors`. */
export const GATEWAY_RESPONSE_CORS_HEADERS: Readonly<Record<string, string>> = { 'Access-Control-Allow-Origin': CORS_ALLOW_ORIGIN };

/** The methods of the `cors` rows, by path template: one preflight per path, for exactly these methods. */
export function corsMethodsByPath(rows: readonly Pick<RouteDef, 'method' | 'path' | 'cors'>[]): Map<string, string[]> {
  const byPath = new Map<string, Set<string>>();
  for (const row of rows) if (row.cors) byPath.set(row.path, (byPath.get(row.path) ?? new Set()).add(row.method));
  return new Map([...byPath].map(([path, methods]) => [path, [...methods].sort()]));
}

/** A preflight's answer (204, no body) on a path whose `cors` rows have these methods; what the stack's OPTIONS mock sends. */
export function preflightHeaders(methods: readonly string[]): Record<string, string> {
  return {
    'Access-Control-Allow-Origin': CORS_ALLOW_ORIGIN,
    'Access-Control-Allow-Methods': methods.join(','),
    'Access-Control-Allow-Headers': CORS_ALLOW_HEADERS.join(','),
    'Access-Control-Max-Age': String(CORS_MAX_AGE_SECONDS),
  };
}

/**
 * What a `cors` row's real reply adds to its own headers: the origin, and every header of the reply a script could
 * not otherwise read (x-request-id, the x-compux-* figures, retry-after, idempotent-replayed, ...), taken from the
 * reply itself so a header added later is exposed without a second list to keep in step.
 */
export function corsReplyHeaders(replyHeaders: Readonly<Record<string, unknown>>): Record<string, string> {
  const exposed = Object.keys(replyHeaders)
    .map((name) => name.toLowerCase())
    .filter((name) => !NEVER_EXPOSED.has(name) && !name.startsWith('access-control-'));
  return {
    'access-control-allow-origin': CORS_ALLOW_ORIGIN,
    ...(exposed.length > 0 ? { 'access-control-expose-headers': [...new Set(exposed)].sort().join(', ') } : {}),
  };
}
