/**
 * Response compression, the one policy (stacks/Api.ts, local/compress.ts, functions/lib/reply.ts read it).
 *
 * - Buffered rows: API Gateway compresses them itself (`minimumCompressionSize` on the REST API), with the codings
 *   it supports, gzip and deflate (never br), and only when the caller's highest-priority coding is one of them.
 *   The local runtime plays the same rule (local/compress.ts).
 * - Response-streamed rows (the paid inference routes): API Gateway cannot encode a streamed integration response
 *   ("content encoding" is among what response streaming does not support), so the handler compresses a reply that
 *   is not a stream itself: br, gzip or deflate, the caller's preference by q-value; on a tie br, then gzip (at the
 *   levels below br is as small or smaller, and faster).
 * - Server-sent events: never (each event must reach the client when written).
 * - Bodies under MIN_COMPRESSION_BYTES: never (a small body may grow, and costs the time anyway).
 */
import { Readable, pipeline, type Transform } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

/** The smallest body compressed: the REST API's minimumCompressionSize and the handlers' threshold alike. */
export const MIN_COMPRESSION_BYTES = 1024;
/** A longer Accept-Encoding is ignored (identity): no client needs more. */
const MAX_ACCEPT_ENCODING_CHARS = 512;
/** gzip/deflate level: zlib's default, its usual speed/size balance for dynamic replies. */
const ZLIB_LEVEL = 6;
/**
 * Brotli quality for dynamic replies. Measured here on four 1,536-float embeddings (131 KB of JSON): quality 4 gives
 * 56.5 KB in 4 ms, gzip -6 57.4 KB in 7 ms, quality 11 (zlib's default) 50.4 KB in 260 ms; on a model list 4 is the
 * smaller too.
 */
const BROTLI_QUALITY = 4;

export type Coding = 'br' | 'gzip' | 'deflate';
/** What API Gateway's own compression supports (besides identity). */
export const GATEWAY_CODINGS: readonly Coding[] = ['gzip', 'deflate'];
/** What a handler compresses with, in the order preferred when the caller weighs several alike. */
export const HANDLER_CODINGS: readonly Coding[] = ['br', 'gzip', 'deflate'];

/** Accept-Encoding as coding → q (RFC 9110 §12.5.3); null when absent, empty or too long. Unparseable entries are dropped. */
export function parseAcceptEncoding(header: string | undefined): Map<string, number> | null {
  if (!header || header.length > MAX_ACCEPT_ENCODING_CHARS) return null;
  const weights = new Map<string, number>();
  for (const part of header.split(',')) {
    const [rawName, ...params] = part.split(';').map((s) => s.trim());
    const name = rawName?.toLowerCase() === 'x-gzip' ? 'gzip' : rawName?.toLowerCase(); // RFC 9110: x-gzip is gzip
    if (!name || !/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) continue;
    let q = 1;
    const qParam = params.find((p) => /^q\s*=/i.test(p));
    if (qParam) {
      const value = qParam.replace(/^q\s*=\s*/i, '');
      if (!/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(value)) continue;
      q = Number(value);
    }
    weights.set(name, Math.max(q, weights.get(name) ?? 0));
  }
  return weights.size > 0 ? weights : null;
}

/** The caller's weight for a coding: its own entry, else `*`'s, else 0 (not acceptable). */
function weightOf(weights: ReadonlyMap<string, number>, coding: Coding): number {
  return weights.get(coding) ?? weights.get('*') ?? 0;
}

/** The coding a handler answers with: the caller's highest-weighted one we support (q > 0), ties by `supported` order; null: identity. */
export function negotiateCoding(header: string | undefined, supported: readonly Coding[] = HANDLER_CODINGS): Coding | null {
  const weights = parseAcceptEncoding(header);
  if (!weights) return null;
  let best: Coding | null = null;
  let bestQ = 0;
  for (const coding of supported) {
    const q = weightOf(weights, coding);
    if (q > bestQ) [best, bestQ] = [coding, q];
  }
  return best;
}

/**
 * API Gateway's choice for a buffered reply: it compresses only when the caller's highest-priority coding is one
 * it supports ("the highest-priority content encoding must be one supported by API Gateway"); null: identity.
 */
export function gatewayCoding(header: string | undefined): Coding | null {
  const weights = parseAcceptEncoding(header);
  if (!weights) return null;
  const top = Math.max(...weights.values());
  if (top <= 0) return null;
  const highest = [...weights].filter(([, q]) => q === top).map(([name]) => name);
  return GATEWAY_CODINGS.find((c) => highest.includes(c) || highest.includes('*')) ?? null;
}

function options(coding: Coding, sizeBytes: number | undefined) {
  if (coding === 'br') {
    return {
      params: {
        [zlib.constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
        [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
        ...(sizeBytes !== undefined ? { [zlib.constants.BROTLI_PARAM_SIZE_HINT]: sizeBytes } : {}),
      },
    };
  }
  return { level: ZLIB_LEVEL };
}

/** A compressing Transform for a coding (`sizeBytes`: the body's size when known, a hint for br). */
export function compressor(coding: Coding, sizeBytes?: number): Transform {
  if (coding === 'br') return zlib.createBrotliCompress(options(coding, sizeBytes));
  return coding === 'gzip' ? zlib.createGzip(options(coding, sizeBytes)) : zlib.createDeflate(options(coding, sizeBytes));
}

/** The body, compressed as it is read: `source` flows through a compressor; an end or error of either ends both. */
export function compressedStream(source: Readable | string, coding: Coding, sizeBytes?: number): Transform {
  const out = compressor(coding, sizeBytes);
  // The callback only keeps a failure (a client gone mid-reply) from being unhandled; pipeline destroys both sides.
  pipeline(typeof source === 'string' ? Readable.from([source]) : source, out, () => {});
  return out;
}

const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);

/** A whole body compressed, off the event loop (zlib's thread pool). */
export function compressBuffer(coding: Coding, body: Buffer): Promise<Buffer> {
  const opts = options(coding, body.length);
  return coding === 'br' ? brotli(body, opts) : coding === 'gzip' ? gzip(body, opts) : deflate(body, opts);
}
