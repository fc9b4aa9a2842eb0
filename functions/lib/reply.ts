/**
 * What every route's reply carries beyond its handler's own headers, in one place for the three wrappers
 * (apiRoute in api.ts, streamRoute in stream.ts, the inference routes): CORS on rows with `cors` (infra/cors.ts),
 * `Vary: Accept-Encoding` on replies that may be compressed, and — on response-streamed rows, which API Gateway
 * cannot compress — the compression of a reply that is not a stream (infra/compression.ts). Buffered rows are
 * compressed by API Gateway itself (locally by local/compress.ts), never here.
 */
import type { Readable } from 'node:stream';
import type { RouteDef } from '../../infra/routes.js';
import { corsReplyHeaders } from '../../infra/cors.js';
import { MIN_COMPRESSION_BYTES, compressedStream, negotiateCoding } from '../../infra/compression.js';

function header(headers: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : String(headers[key]);
}

function isEventStream(headers: Readonly<Record<string, unknown>>): boolean {
  return /^text\/event-stream\b/i.test(header(headers, 'content-type') ?? '');
}

/** A reply's headers with the route's own additions: CORS on `cors` rows, Vary on anything but an event stream. */
export function routeReplyHeaders(route: Pick<RouteDef, 'cors'>, headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = { ...headers };
  // Caches must keep a compressed and a plain copy apart (API Gateway, the local runtime or the handler may compress).
  if (!isEventStream(headers) && header(headers, 'vary') === undefined) out.vary = 'accept-encoding';
  return route.cors ? { ...out, ...corsReplyHeaders(out) } : out;
}

export interface StreamedReply {
  statusCode: number;
  headers: Record<string, string>;
  body: Readable | string;
}

/**
 * A response-streamed row's reply, shaped: the route's headers, and the body compressed when the caller asks
 * (Accept-Encoding), it is not an event stream, not already encoded, and its whole size (`bodyBytes`, known for a
 * reply written in one piece; absent for an opened stream) is at least MIN_COMPRESSION_BYTES.
 */
export function shapeStreamedReply(
  route: Pick<RouteDef, 'cors'>,
  requestHeaders: Readonly<Record<string, string>>,
  reply: StreamedReply,
  bodyBytes: number | undefined,
): StreamedReply {
  const headers = routeReplyHeaders(route, reply.headers);
  const plain = { ...reply, headers };
  if (bodyBytes === undefined || bodyBytes < MIN_COMPRESSION_BYTES) return plain;
  if (isEventStream(headers) || header(headers, 'content-encoding') !== undefined) return plain;
  const coding = negotiateCoding(requestHeaders['accept-encoding']);
  if (!coding) return plain;
  return { ...reply, headers: { ...headers, 'content-encoding': coding }, body: compressedStream(reply.body, coding, bodyBytes) };
}
