/**
 * Opaque pagination cursors.
 *
 * Inside: base64url JSON of a LastEvaluatedKey, checked on the way back in (key fields only, string values, and the
 * partition of the list it came from: a cursor cannot page another tenant's partition).
 *
 * Outside (what a caller holds): that, sealed with an HMAC over the list it came from (`sealCursor`): the API wraps
 * every cursor it hands out and opens every cursor it is given (functions/lib/cursors.ts), so a cursor the server did
 * not issue for this very list and caller — forged, truncated, edited, from another list or another caller — is a
 * clean 400 `invalid_cursor`, never a key DynamoDB refuses (a forged key shape used to be a 500).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const KEY_FIELDS = new Set(['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'gsi3pk', 'gsi3sk', 'gsi4pk', 'gsi4sk', 'gsi5pk', 'gsi5sk']);
export const MAX_CURSOR_CHARS = 2_000;
/** Sealed cursors: `c1.<cursor>.<mac>`; the version lets a later format (a key id) be told apart. */
const SEAL_PREFIX = 'c1.';
/** HMAC-SHA256, base64url: 43 characters. */
const MAC_CHARS = 43;
/** A sealed cursor is the inner one plus this much. */
export const SEAL_OVERHEAD_CHARS = SEAL_PREFIX.length + 1 + MAC_CHARS;
/** A cursor key: at least 256 bits. */
export const MIN_CURSOR_KEY_BYTES = 32;

export class BadCursorError extends Error {
  override name = 'BadCursorError';
}

export function encodeCursor(key: Record<string, unknown> | undefined): string | null {
  return key ? Buffer.from(JSON.stringify(key)).toString('base64url') : null;
}

/** `scopePk` ties a cursor to the partition it came from: a cursor from one tenant's list cannot page another's. */
export function decodeCursor(cursor: string | undefined, scope: { field: string; value: string }): Record<string, string> | undefined {
  if (cursor === undefined) return undefined;
  try {
    if (cursor.length > MAX_CURSOR_CHARS) throw new Error('too long');
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    const entries = Object.entries(parsed as Record<string, unknown>);
    if (entries.length === 0 || entries.length > 4) throw new Error('wrong size');
    for (const [k, v] of entries) if (!KEY_FIELDS.has(k) || typeof v !== 'string' || v.length > 500) throw new Error('bad field');
    if ((parsed as Record<string, string>)[scope.field] !== scope.value) throw new Error('cursor from another list');
    return parsed as Record<string, string>;
  } catch {
    throw new BadCursorError('cursor is not valid for this list');
  }
}

function mac(key: Buffer, binding: string, cursor: string): string {
  // The binding and the cursor are separated by NUL, which neither holds (a binding is JSON, a cursor base64url).
  return createHmac('sha256', key).update(`compux-cursor-v1\u0000${binding}\u0000${cursor}`).digest('base64url');
}

function checkKey(key: Buffer): void {
  if (key.length < MIN_CURSOR_KEY_BYTES) throw new Error(`a cursor key must be at least ${MIN_CURSOR_KEY_BYTES} bytes`);
}

/** Seals a cursor for one list (`binding`: which list, for whom): only `openCursor` with the same key and binding opens it. */
export function sealCursor(cursor: string, binding: string, key: Buffer): string {
  checkKey(key);
  return `${SEAL_PREFIX}${cursor}.${mac(key, binding, cursor)}`;
}

/** The cursor inside `sealed` if this server sealed it for this `binding`; else BadCursorError. Constant-time compare. */
export function openCursor(sealed: string, binding: string, key: Buffer): string {
  checkKey(key);
  const bad = () => new BadCursorError('cursor is not valid for this list');
  if (sealed.length > MAX_CURSOR_CHARS + SEAL_OVERHEAD_CHARS || !sealed.startsWith(SEAL_PREFIX)) throw bad();
  const dot = sealed.lastIndexOf('.');
  const cursor = sealed.slice(SEAL_PREFIX.length, dot);
  const given = Buffer.from(sealed.slice(dot + 1), 'utf8');
  const expected = Buffer.from(mac(key, binding, cursor), 'utf8');
  if (dot < SEAL_PREFIX.length || cursor === '' || given.length !== expected.length || !timingSafeEqual(given, expected)) throw bad();
  return cursor;
}

/**
 * Runs a query that started from a caller's cursor: a start key DynamoDB refuses (a ValidationException about it) is
 * the cursor's fault, a 400, not a 500. Sealing keeps forged keys out; this is the second line, for cursors that never
 * pass the API (workflow state) and for a key shape a change of the query would make stale.
 */
export async function withCursor<T>(hasCursor: boolean, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (hasCursor && isStartKeyRefusal(err)) throw new BadCursorError('cursor is not valid for this list');
    throw err;
  }
}

function isStartKeyRefusal(err: unknown): boolean {
  const e = err as { name?: unknown; message?: unknown } | null;
  return e?.name === 'ValidationException' && typeof e.message === 'string' && /start(ing)? ?key|ExclusiveStartKey/i.test(e.message);
}
