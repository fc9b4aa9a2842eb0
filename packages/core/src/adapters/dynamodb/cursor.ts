/** Opaque pagination cursors: base64url JSON of a LastEvaluatedKey, checked on the way back in. */
const KEY_FIELDS = new Set(['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'gsi3pk', 'gsi3sk', 'gsi4pk', 'gsi4sk', 'gsi5pk', 'gsi5sk']);
export const MAX_CURSOR_CHARS = 2_000;

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
