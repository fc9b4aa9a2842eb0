/**
 * What JSON.parse lets through and a payments API should not: a key given twice in one object (JSON.parse keeps the
 * last; another parser on the way, a proxy, a WAF or a provider, may keep the first, so two readers of one body would
 * disagree on it), and nesting deep enough to overflow a recursive reader further on (the request hash, JSON.stringify
 * of what is forwarded). One linear pass over text JSON.parse has accepted; no recursion, so no depth can break it.
 */

/** Management bodies are flat objects of a few levels. */
export const MAX_JSON_DEPTH = 64;

export type JsonProblem = { kind: 'duplicate_key'; path: string } | { kind: 'too_deep'; path: string };

interface Frame {
  /** An object's keys so far; null for an array. */
  keys: Set<string> | null;
  /** The current member: an object's last key, an array's index. */
  at: string | number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function pathOf(stack: readonly Frame[], last?: string): string {
  const parts = stack.slice(0, last === undefined ? -1 : undefined).map((f) => String(f.at));
  if (last !== undefined) parts[parts.length - 1] = last;
  return parts.join('.');
}

/**
 * The first duplicate key (its dotted path, as zod names fields: `alerts.0.facility_id`) or the first container nested
 * deeper than `maxDepth`; null when neither. `text` must be JSON that JSON.parse accepted.
 */
export function jsonProblem(text: string, maxDepth = MAX_JSON_DEPTH): JsonProblem | null {
  const stack: Frame[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let j = i + 1;
      let escaped = false;
      for (;;) {
        const d = text.charCodeAt(j);
        if (d === BACKSLASH) {
          escaped = true;
          j += 2;
        } else if (d === QUOTE) break;
        else j++;
      }
      const top = stack[stack.length - 1];
      if (expectKey && top?.keys) {
        const key = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
        if (top.keys.has(key)) return { kind: 'duplicate_key', path: pathOf(stack, key) };
        top.keys.add(key);
        top.at = key;
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= maxDepth) return { kind: 'too_deep', path: pathOf(stack.concat({ keys: null, at: '' })) || 'body' };
      const object = c === 0x7b;
      stack.push({ keys: object ? new Set() : null, at: object ? '' : 0 });
      expectKey = object;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top?.keys) expectKey = true;
      else if (top) top.at = (top.at as number) + 1;
    }
  }
  return null;
}
