/**
 * API Gateway's own response compression, played by the local HTTP server (local/http.ts) for buffered rows (a
 * Lambda proxy result), as the stack turns it on (`minCompressionSize`, stacks/Api.ts). Its rules, from AWS's
 * "Receive an API response with a compressed payload": the caller's Accept-Encoding names a supported coding
 * (gzip, deflate) as its highest priority; the result has no Content-Encoding of its own; the body is at least
 * MIN_COMPRESSION_BYTES. Response-streamed rows are never compressed here (API Gateway cannot encode them): their
 * handlers do it themselves (functions/lib/reply.ts).
 */
import { MIN_COMPRESSION_BYTES, compressBuffer, gatewayCoding } from '../infra/compression.js';

/** The body, compressed when API Gateway would, and the Content-Encoding to add (null: sent as is). */
export async function gatewayCompress(
  body: Buffer,
  hasContentEncoding: boolean,
  acceptEncoding: string | undefined,
): Promise<{ body: Buffer; contentEncoding: string | null }> {
  const coding = !hasContentEncoding && body.length >= MIN_COMPRESSION_BYTES ? gatewayCoding(acceptEncoding) : null;
  if (!coding) return { body, contentEncoding: null };
  return { body: await compressBuffer(coding, body), contentEncoding: coding };
}
