/**
 * The compression policy (infra/compression.ts) without a server: Accept-Encoding parsing, the handlers' choice by
 * q-value, API Gateway's stricter rule, and the local server's play of it (local/compress.ts).
 */
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { MIN_COMPRESSION_BYTES, gatewayCoding, negotiateCoding, parseAcceptEncoding } from '../../infra/compression.js';
import { gatewayCompress } from '../../local/compress.js';

describe('Accept-Encoding', () => {
  it('reads codings with their q-values, case-insensitively, x-gzip as gzip, and drops a malformed q', () => {
    // Act
    const weights = parseAcceptEncoding('GZIP;q=0.8, br , x-gzip;q=0.9, deflate;q=2, identity;q=0');
    // Assess
    expect(Object.fromEntries(weights!)).toEqual({ gzip: 0.9, br: 1, identity: 0 });
  });

  it('is absent when the header is missing, empty or unreasonably long', () => {
    // Act / Assess
    expect(parseAcceptEncoding(undefined)).toBeNull();
    expect(parseAcceptEncoding('')).toBeNull();
    expect(parseAcceptEncoding(`gzip, ${'x'.repeat(1_000)}`)).toBeNull();
  });
});

describe("the handlers' choice", () => {
  it('takes the highest q the caller gives a coding we have', () => {
    // Act / Assess
    expect(negotiateCoding('br;q=0.4, gzip;q=0.9')).toBe('gzip');
    expect(negotiateCoding('deflate, gzip;q=0.5')).toBe('deflate');
  });

  it('prefers br, then gzip, when the caller weighs them alike', () => {
    // Act / Assess
    expect(negotiateCoding('gzip, deflate, br')).toBe('br');
    expect(negotiateCoding('deflate, gzip')).toBe('gzip');
  });

  it('reads * as every coding not named, and q=0 as refused', () => {
    // Act / Assess
    expect(negotiateCoding('br;q=0, *')).toBe('gzip');
    expect(negotiateCoding('*;q=0')).toBeNull();
    expect(negotiateCoding('gzip;q=0')).toBeNull();
  });

  it('answers identity when nothing we have is acceptable', () => {
    // Act / Assess
    expect(negotiateCoding('identity')).toBeNull();
    expect(negotiateCoding('zstd')).toBeNull();
    expect(negotiateCoding(undefined)).toBeNull();
  });
});

describe("API Gateway's choice (buffered routes)", () => {
  it('compresses only when the highest-priority coding is one it supports (gzip or deflate)', () => {
    // Act / Assess
    expect(gatewayCoding('gzip, deflate, br')).toBe('gzip');
    expect(gatewayCoding('deflate')).toBe('deflate');
    expect(gatewayCoding('br')).toBeNull();
    expect(gatewayCoding('br, gzip;q=0.8')).toBeNull();
    expect(gatewayCoding(undefined)).toBeNull();
  });

  it('locally, gzips a body of at least the threshold and leaves a smaller one as is', async () => {
    // Prepare
    const big = Buffer.from(JSON.stringify({ text: 'x'.repeat(MIN_COMPRESSION_BYTES) }));
    const small = Buffer.from('{"ok":true}');
    // Act
    const compressed = await gatewayCompress(big, false, 'gzip');
    const tiny = await gatewayCompress(small, false, 'gzip');
    // Assess
    expect(compressed.contentEncoding).toBe('gzip');
    expect(zlib.gunzipSync(compressed.body)).toEqual(big);
    expect(tiny).toEqual({ body: small, contentEncoding: null });
  });

  it('locally, leaves a result that has its own Content-Encoding as is', async () => {
    // Prepare
    const big = Buffer.from(JSON.stringify({ text: 'x'.repeat(MIN_COMPRESSION_BYTES) }));
    // Act
    const encoded = await gatewayCompress(big, true, 'gzip');
    // Assess
    expect(encoded).toEqual({ body: big, contentEncoding: null });
  });
});
